"""The offline answerer: the one to three retrieved sentences that best answer the question.

A sentence's score is its embedding similarity to the question plus a small bonus for the
question's words it contains (Arabic-normalised). A second or third sentence is quoted only
when it scores close to the best and lacks none of the question's names and numbers that
the best one holds; when none quoted holds the number or time the question asks for, a
sentence a little further below that does is quoted too. A sentence of a word or two is
never quoted, nor a dateline, a caption, a verse or a list item (``rag.text.quotes``). Only
sentences above a similarity threshold may be quoted (one for a question in the passages'
language, a lower one across languages, where e5's similarities run lower); and the answer
abstains when the abstention model (``rag.answers.abstention``) judges that the hits do not
answer the question.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from rag.answers.abstention import AbstentionModel, Evidence
from rag.answers.evidence import answer_type_missing, names_missing, numbers_missing
from rag.settings import Settings
from rag.text.arabic import detect_language, jaccard, tokenize, word_set
from rag.text.question import Question, as_question
from rag.text.quotes import words, worth_quoting
from rag.types import Hit, Sentence

Names = Mapping[str, Sequence[str]]  # a question's names and their spellings in the index


@dataclass(frozen=True)
class Selection:
    """The chosen sentences, each with the hit it comes from, best first."""

    picks: list[tuple[Hit, Sentence]]
    # the probability that the hits answer (the best sentence's similarity without a model)
    confidence: float
    abstained: bool


@dataclass(frozen=True)
class ExtractiveAnswerer:
    max_sentences: int = Settings.answer_max_sentences
    margin: float = 0.02  # how far below the best a further sentence may score
    # ... and one that holds the number or time the question asks for, when the best lacks it
    type_margin: float = 0.05
    min_quote_words: int = 3  # a sentence shorter than this answers nothing
    lexical_bonus: float = 0.05
    threshold_same_language: float = Settings.abstain_threshold
    threshold_cross_language: float = Settings.abstain_threshold_cross_language
    abstention: AbstentionModel | None = None

    def __post_init__(self):
        if not 1 <= self.max_sentences <= 10:
            raise ValueError(f"max_sentences must be between 1 and 10, got {self.max_sentences}")

    def select(
        self, question: Question | str, hits: list[Hit], names: Names | None = None
    ) -> Selection:
        """The sentences to quote; ``names``: the question's names with their spellings in
        the index (default: the question's ``spellings``, which retrieval fills in)."""
        question = as_question(question)
        names = question.spellings if names is None else names
        candidates = self._scored(question, hits)
        if not candidates:
            return Selection([], 0.0, abstained=True)
        passing, judged = self._passing(question, candidates)
        confidence, answerable = self._judge(question, hits, *judged, names)
        if not passing or not answerable:
            return Selection([], confidence, abstained=True)
        if question.asks_for_news and names:  # news of Egypt: quote what says Egypt
            naming = [c for c in passing if not names_missing(names, c[2].text)]
            passing = naming or passing
        best_score, best_hit, best = passing[0]
        picks = [(best_hit, best)]
        wanting = _wanting(question, best, names)
        for score, hit, sentence in passing[1:]:
            if len(picks) == self.max_sentences or score < best_score - self.margin:
                break
            if not _repeats(sentence, picks) and _wanting(question, sentence, names) <= wanting:
                picks.append((hit, sentence))
        if all(answer_type_missing(question, s.text) for _, s in picks):  # "how many", no number
            typed = self._typed(question, passing[1:], best_score, wanting, names, picks)
            if typed is not None:
                picks = [*picks[: self.max_sentences - 1], typed]
        return Selection(picks, confidence, abstained=False)

    def passing(
        self, question: Question, hits: list[Hit], names: Names | None = None
    ) -> list[tuple[Hit, Sentence]]:
        """Every sentence that clears its threshold, best first, the best of each article
        only; for news of something named, those that name it (when any do)."""
        names = question.spellings if names is None else names
        passing, _ = self._passing(question, self._scored(question, hits))
        if question.asks_for_news and names:
            passing = [c for c in passing if not names_missing(names, c[2].text)] or passing
        best: dict[str, tuple[Hit, Sentence]] = {}
        for _, hit, sentence in passing:
            best.setdefault(hit.chunk.article_id, (hit, sentence))
        return list(best.values())

    def _typed(self, question, candidates, best_score, wanting, names, picks):
        """The best further sentence, close enough to the best, that holds the number or time
        the question asks for and lacks none of the names and numbers the best holds."""
        for score, hit, sentence in candidates:
            if score < best_score - self.type_margin:
                return None
            if (
                not answer_type_missing(question, sentence.text)
                and _wanting(question, sentence, names) <= wanting
                and not _repeats(sentence, picks)
            ):
                return hit, sentence
        return None

    def evidence(
        self, question: Question | str, hits: list[Hit], names: Names | None = None
    ) -> tuple[Evidence, bool] | None:
        """What abstention weighs, and whether the judged sentence is in another language than
        the question (``None`` without sentences); calibration reads it."""
        question = as_question(question)
        names = question.spellings if names is None else names
        candidates = self._scored(question, hits)
        if not candidates:
            return None
        _, judged = self._passing(question, candidates)
        return self._evidence(question, hits, *judged, names)

    def _passing(
        self, question: Question, candidates: list[tuple[float, Hit, Sentence]]
    ) -> tuple[list[tuple[float, Hit, Sentence]], tuple[Hit, Sentence]]:
        """The candidates that clear their own threshold, and the sentence abstention judges:
        the best of those (the best candidate when none does). Each sentence is held to its
        own threshold: an English sentence that is close but not close enough must neither
        hide nor judge an Arabic one that answers an English question (e5's similarities
        across languages run lower, so a stray English sentence can outscore the answer)."""
        passing = [c for c in candidates if c[2].score >= self.threshold_for(question, c[2].text)]
        _, hit, sentence = (passing or candidates)[0]
        return passing, (hit, sentence)

    def _evidence(
        self, question: Question, hits: list[Hit], hit: Hit, best: Sentence, names: Names
    ) -> tuple[Evidence, bool]:
        cross = question.script != detect_language(best.text)
        return Evidence.of(question, hits, hit, best, names), cross

    def _judge(
        self, question: Question, hits: list[Hit], hit: Hit, best: Sentence, names: Names
    ) -> tuple[float, bool]:
        """How likely the hits answer the question, and whether that is enough."""
        if self.abstention is None:
            return best.score, True
        evidence, cross = self._evidence(question, hits, hit, best, names)
        return self.abstention.answerable(evidence, cross_language=cross)

    def threshold_for(self, question: Question | str, passage: str) -> float:
        same = as_question(question).script == detect_language(passage)
        return self.threshold_same_language if same else self.threshold_cross_language

    def _scored(self, question: Question, hits: list[Hit]) -> list[tuple[float, Hit, Sentence]]:
        question_words = set(question.words)
        seen: set[tuple[str, int]] = set()
        scored = []
        for hit in hits:
            for sentence in hit.sentences:
                key = (hit.chunk.article_id, sentence.start)
                if key in seen:  # the same sentence in two overlapping chunks
                    continue
                seen.add(key)
                if len(words(sentence.text)) < self.min_quote_words:  # "اقتصاد", a byline
                    continue
                if not worth_quoting(sentence.text):  # a dateline, a caption, a verse
                    continue
                overlap = _share(question_words, set(tokenize(sentence.text)))
                scored.append((sentence.score + self.lexical_bonus * overlap, hit, sentence))
        return sorted(scored, key=lambda item: -item[0])


def _wanting(question: Question, sentence: Sentence, names: Names) -> int:
    """How many of the question's names and numbers the sentence lacks: a further sentence
    is quoted only when it lacks none that the best one holds (it would be padding)."""
    return names_missing(names, sentence.text) + numbers_missing(question, sentence.text)


def _share(wanted: set[str], found: set[str]) -> float:
    return len(wanted & found) / len(wanted) if wanted else 0.0


def _repeats(sentence: Sentence, picks: list[tuple[Hit, Sentence]]) -> bool:
    """A wire copy of a sentence already picked."""
    words = word_set(sentence.text)
    for _, picked in picks:
        other = word_set(picked.text)
        if words and jaccard(words, other) >= 0.8:
            return True
    return False
