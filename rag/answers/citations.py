"""Checking a generated answer against the sources it cites.

Markers that point at no source are removed. Each answer sentence (a claim) is compared with
the sentences of the sources it cites: embedding similarity (which works across languages:
an English claim against an Arabic sentence) plus the overlap of its words, less a penalty
when a number in the claim appears in none of them. The best supporting sentence becomes the
citation's quote; a claim below the threshold, or with no marker, is flagged unsupported.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rag.embeddings import Embedder
from rag.settings import Settings
from rag.text.arabic import detect_language, normalize, tokenize
from rag.text.sentences import split_sentences
from rag.types import Claim, Hit, Sentence

_MARKER = re.compile(r"\[\s*([0-9٠-٩]+(?:\s*[,،]\s*[0-9٠-٩]+)*)\s*\]")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
_SPACE_BEFORE_PUNCTUATION = re.compile(r"\s+([.,;:!?،؛؟])")
_REPEATED_MARKER = re.compile(r"\[(\d+)\](?:\s*\[\1\])+")


@dataclass(frozen=True)
class CheckedAnswer:
    text: str  # markers to missing sources removed
    claims: list[Claim]
    quotes: dict[int, Sentence]  # marker -> the best supporting sentence of that source
    dropped_markers: list[int]


@dataclass(frozen=True)
class CitationChecker:
    embedder: Embedder
    threshold_same_language: float = Settings.support_threshold
    threshold_cross_language: float = Settings.support_threshold_cross_language
    lexical_bonus: float = 0.05
    number_penalty: float = 0.1

    def check(self, text: str, sources: list[Hit]) -> CheckedAnswer:
        text, dropped = remove_invalid_markers(text, len(sources))
        spans = split_sentences(text)
        claims_text = [text[s.start : s.end] for s in spans]
        markers = [markers_in(c) for c in claims_text]
        bare = [_MARKER.sub("", c).strip() for c in claims_text]
        supports = self._supports(bare, markers, sources)
        claims, quotes, best = [], {}, {}
        for claim_text, claim_markers, claim_supports in zip(
            claims_text, markers, supports, strict=True
        ):
            score = max((s for s, _ in claim_supports.values()), default=0.0)
            for marker, (support, sentence) in claim_supports.items():
                if support > best.get(marker, -1.0):
                    best[marker], quotes[marker] = support, sentence
            threshold = self._threshold(claim_text, sources, claim_markers)
            claims.append(
                Claim(
                    claim_text,
                    claim_markers,
                    bool(claim_markers) and score >= threshold,
                    round(score, 4),
                )
            )
        return CheckedAnswer(text, claims, quotes, dropped)

    def _threshold(self, claim: str, sources: list[Hit], markers: list[int]) -> float:
        if not markers:
            return 1.0
        source_text = sources[markers[0] - 1].chunk.text
        same = detect_language(claim) == detect_language(source_text)
        return self.threshold_same_language if same else self.threshold_cross_language

    def _supports(self, claims: list[str], markers: list[list[int]], sources: list[Hit]):
        """Per claim: marker -> (support, best sentence of that source)."""
        cited = sorted({m for ms in markers for m in ms})
        sentences = {
            m: sources[m - 1].sentences or sources[m - 1].chunk.sentence_quotes() for m in cited
        }
        flat = [(m, s) for m in cited for s in sentences[m]]
        if not flat or not claims:
            return [{} for _ in claims]
        claim_vectors = self.embedder.embed_passages(claims)
        sentence_vectors = self.embedder.embed_passages([s.text for _, s in flat])
        similarity = claim_vectors @ sentence_vectors.T
        results = []
        for i, (claim, claim_markers) in enumerate(zip(claims, markers, strict=True)):
            words, numbers = set(tokenize(claim)), set(_NUMBER.findall(normalize(claim)))
            per_marker: dict[int, tuple[float, Sentence]] = {}
            for j, (marker, sentence) in enumerate(flat):
                if marker not in claim_markers:
                    continue
                score = float(similarity[i, j]) + self._lexical(words, numbers, sentence.text)
                if marker not in per_marker or score > per_marker[marker][0]:
                    per_marker[marker] = (score, sentence)
            results.append(per_marker)
        return results

    def _lexical(self, words: set[str], numbers: set[str], sentence: str) -> float:
        found = set(tokenize(sentence))
        bonus = self.lexical_bonus * (len(words & found) / len(words) if words else 0.0)
        if numbers and not numbers & set(_NUMBER.findall(normalize(sentence))):
            bonus -= self.number_penalty
        return bonus


def one_source_per_article(
    checked: CheckedAnswer, sources: list[Hit]
) -> tuple[CheckedAnswer, dict[int, list[Sentence]]]:
    """The answer with each article cited under one marker (its first): a model that cites
    two passages of one article as [1] and [3] cites it as [1]. The other passages' best
    sentences are returned by the marker kept, to be quoted with it."""
    first: dict[str, int] = {}
    renumber: dict[int, int] = {}
    for marker in sorted(checked.quotes):
        kept = first.setdefault(sources[marker - 1].chunk.article_id, marker)
        if kept != marker:
            renumber[marker] = kept
    if not renumber:
        return checked, {}

    def merged(markers: list[int]) -> list[int]:
        return list(dict.fromkeys(renumber.get(m, m) for m in markers))

    def swap(match: re.Match) -> str:
        return "".join(f"[{m}]" for m in merged(markers_in(match.group(0))))

    def retext(text: str) -> str:
        return _REPEATED_MARKER.sub(r"[\1]", _MARKER.sub(swap, text))

    claims = [Claim(retext(c.text), merged(c.markers), c.supported, c.support)
              for c in checked.claims]  # fmt: skip
    quotes = {m: s for m, s in checked.quotes.items() if m not in renumber}
    more: dict[int, list[Sentence]] = {}
    for marker, kept in renumber.items():
        sentence = checked.quotes[marker]
        if sentence.start != quotes[kept].start:
            more.setdefault(kept, []).append(sentence)
    return CheckedAnswer(retext(checked.text), claims, quotes, checked.dropped_markers), more


def markers_in(text: str) -> list[int]:
    found: list[int] = []
    for group in _MARKER.findall(normalize(text)):
        for number in re.split(r"\s*[,،]\s*", group):
            if int(number) not in found:
                found.append(int(number))
    return found


def remove_invalid_markers(text: str, n_sources: int) -> tuple[str, list[int]]:
    """Drop markers outside 1..n_sources (keeping valid ones of a group); list the dropped."""
    dropped: list[int] = []

    def keep_valid(match: re.Match) -> str:
        numbers = [int(n) for n in re.split(r"\s*[,،]\s*", normalize(match.group(1)))]
        valid = [n for n in numbers if 1 <= n <= n_sources]
        dropped.extend(n for n in numbers if n not in valid)
        return "".join(f"[{n}]" for n in valid)

    cleaned = _MARKER.sub(keep_valid, text)
    if dropped:
        cleaned = _SPACE_BEFORE_PUNCTUATION.sub(r"\1", re.sub(r"[ \t]{2,}", " ", cleaned))
    return cleaned, dropped
