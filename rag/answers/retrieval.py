"""Hybrid retrieval: dense (FAISS) and BM25 candidates fused by weighted reciprocal rank.

Before dense search the question's vector is centred: a share of the mean vector of generic
questions in its language is subtracted, so passages close to every question (short,
generic ones) stop crowding out the one that answers. An English question's names reach
BM25 in Arabic script (``rag.text.transliteration``). Near-duplicate chunks (wire copies of one
story) are collapsed into the best of them, and each hit carries the sentence of its chunk
that best matches the question (by the sentence vectors the ingest stored: a search runs
the encoder once, on the question). The hits shown first are chosen among a wider pool of fused
hits (``rag.answers.selection``) and ordered with their best sentences. The measurements behind each
choice: docs/benchmarks.md.
"""

from __future__ import annotations

import functools
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path

import numpy as np

from rag.answers.selection import HitSelector
from rag.embeddings import Embedder
from rag.settings import Settings
from rag.store import IndexStore
from rag.text.arabic import detect_language, jaccard, word_set
from rag.text.dates import TimeFrame
from rag.text.passages import headed
from rag.text.question import Question, as_question
from rag.text.transliteration import NameBridge
from rag.types import Filters, Hit, Sentence

__all__ = ["Filters", "Retriever", "SearchResult"]


@dataclass
class SearchResult:
    hits: list[Hit]
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage
    time_frame: TimeFrame | None = None  # what the question said about time, if it was used
    # a question's Latin-script names that the index spells in Arabic, with those spellings
    names: dict[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass
class Retriever:
    """Finds the chunks that answer a question.

    >>> retriever = Retriever(store, embedder)                       # doctest: +SKIP
    >>> retriever.search("What did Araghchi say about enrichment?")   # doctest: +SKIP
    """

    store: IndexStore
    embedder: Embedder
    # defaults are the settings' (rag/settings.py says why each was chosen)
    k: int = Settings.top_k
    candidates: int = Settings.candidates
    rrf_k: int = Settings.rrf_k
    dense_weight: float = Settings.dense_weight
    bm25_weight: float = Settings.bm25_weight
    bm25_weight_cross_script: float = Settings.bm25_weight_cross_script
    query_centering: float = Settings.query_centering
    duplicate_threshold: float = Settings.duplicate_threshold
    stemming: bool = True
    embed_titles: bool = True  # sentences are embedded like their chunks: after the headline
    rerank_by_sentence: bool = Settings.rerank_by_sentence
    rerank_pool: int = Settings.rerank_pool  # the fused hits the sentence rerank reorders
    sentence_weight: float = Settings.sentence_weight  # best sentence's weight in the score
    selector: HitSelector | None = None  # picks the rerank pool among its own wider pool
    time_aware: bool = Settings.time_aware  # "yesterday", "latest"... read from the question
    as_of: date | None = None  # the day those count from (None: today)

    def __post_init__(self):
        self._sentence_vectors = _SentenceVectors(self.embedder)
        self._centroids: dict[str, np.ndarray] = {}
        self._bridge = NameBridge()
        self._bridge_seen = (-1, 0)  # (generation, highest chunk row) whose words it knows
        self._lock = threading.Lock()
        if self.k < 1:
            raise ValueError(f"k must be at least 1, got {self.k}")
        if self.candidates < 1:
            raise ValueError(f"candidates must be at least 1, got {self.candidates}")
        if self.rerank_pool < 1:
            raise ValueError(f"rerank_pool must be at least 1, got {self.rerank_pool}")

    def search(
        self,
        query: Question | str,
        *,
        k: int | None = None,
        filters: Filters | None = None,
        best_sentences: bool = True,
        query_vector: np.ndarray | None = None,
        as_of: date | None = None,
    ) -> SearchResult:
        """The ``k`` best hits for ``query``; pass ``query_vector`` if already embedded.

        A time the question names ("yesterday", "in July", "أمس") restricts the dates,
        relative to ``as_of`` (default: today), unless ``filters`` set dates themselves;
        "latest" puts the newest of the relevant hits first. With ``as_of`` (or the
        ``as_of`` setting) nothing published after that day is found."""
        k = self.k if k is None else k
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        timings: dict[str, float] = {}
        clock = _Clock(timings)
        filters = filters or Filters()
        question = as_question(query)
        frame = self._time_frame(question, filters, as_of)
        if frame is not None and frame.date_from:
            filters = replace(filters, date_from=frame.date_from, date_to=frame.date_to)
        filters = _up_to(filters, as_of or self.as_of)
        allowed = self.store.filter_rows(
            filters.sources, filters.date_from, filters.date_to, filters.exclude_articles
        )
        if query_vector is None:
            query_vector = self.embedder.embed_query(question.text)
        clock.lap("embed_query")
        n = max(self.candidates, 4 * k)
        language = question.script
        centred = self._centred(query_vector, language)
        dense = self.store.dense_search(centred, n, allowed, filters)
        clock.lap("dense")
        lexical = self.store.bm25_search(self._lexical_terms(question, language), n, allowed)
        clock.lap("bm25")
        reranking = best_sentences and self.rerank_by_sentence
        hits = self._fuse(question, centred, dense, lexical)
        hits = self._collapse_duplicates(hits, max(k, self._pool()) if reranking else k)
        clock.lap("fuse")
        if best_sentences:
            self._attach_best_sentences(query_vector, hits)
            if reranking:
                hits = self._shown_order(hits)[:k]
            clock.lap("sentences")
        if frame is not None and frame.newest_first:
            hits = newest_first(hits)
        names = self._name_spellings(question, language)
        return SearchResult(hits=hits, timings=timings, time_frame=frame, names=names)

    def _time_frame(
        self, question: Question, filters: Filters, as_of: date | None
    ) -> TimeFrame | None:
        if not self.time_aware:
            return None
        frame = question.time_frame(as_of or self.as_of or date.today())
        if frame is not None and (filters.date_from or filters.date_to):
            # dates the user set win over those read from the question
            return replace(frame, date_from=None, date_to=None) if frame.newest_first else None
        return frame

    def _centred(self, vector: np.ndarray, language: str) -> np.ndarray:
        if not self.query_centering:
            return vector
        if language not in self._centroids:
            with self._lock:
                if language not in self._centroids:
                    questions = _generic_questions().get(language) or _generic_questions()["en"]
                    centroid = self.embedder.embed_queries(questions).mean(axis=0)
                    self._centroids[language] = centroid
        return vector - self.query_centering * self._centroids[language]

    def _lexical_terms(self, question: Question, language: str) -> list[str]:
        """The question's BM25 tokens; for a question not in Arabic, also the Arabic
        spellings of its names found in the index."""
        terms = question.terms(stem=self.stemming)
        if language == "ar":
            return terms
        generation = self.store.generation()
        with self._lock:
            if self._bridge_seen[0] != generation:  # learn the words of what was added since
                words, last_row = self.store.words_since(self._bridge_seen[1])
                self._bridge.add(words)
                self._bridge_seen = (generation, last_row)
            return terms + self._bridge.arabic_words(question.text)

    def _name_spellings(self, question: Question, language: str) -> dict[str, tuple[str, ...]]:
        """The question's names (``Question.names``) with their Arabic spellings in the index
        (learnt by ``_lexical_terms``), for those it spells."""
        if language == "ar":
            return {}
        with self._lock:
            found = {name: tuple(self._bridge.arabic_words(name)) for name in question.names}
        return {name: spellings for name, spellings in found.items() if spellings}

    def _fuse(self, question: Question, query_vector, dense, lexical) -> list[tuple[int, Hit]]:
        """(row, hit) pairs, best first, by weighted reciprocal rank fusion.

        BM25 candidates in the question's script fuse by their BM25 rank. Those in another
        script (Arabic passages for an English question) matched only a name spelled across
        scripts, which tells the article but not the passage: they fuse by their rank in
        dense similarity among themselves, at ``bm25_weight_cross_script``.
        """
        chunks = self.store.chunks(list({row for row, _ in dense} | {row for row, _ in lexical}))
        # a row deleted by another process since the candidates were found is no hit
        dense = [(row, score) for row, score in dense if row in chunks]
        lexical = [(row, score) for row, score in lexical if row in chunks]
        query_language = question.script
        scored: dict[int, Hit] = {}
        for rank, (row, score) in enumerate(dense, start=1):
            hit = scored.setdefault(row, Hit(chunk=chunks[row], score=0.0))
            hit.dense_score, hit.dense_rank = score, rank
            hit.score += self.dense_weight / (self.rrf_k + rank)
        same_script, cross_script = [], []
        for rank, (row, score) in enumerate(lexical, start=1):
            hit = scored.setdefault(row, Hit(chunk=chunks[row], score=0.0))
            hit.bm25_score, hit.bm25_rank = score, rank
            same = detect_language(chunks[row].text) == query_language
            (same_script if same else cross_script).append(row)
        cross_script = self._by_similarity(cross_script, query_vector)
        for weight, rows in (
            (self.bm25_weight, same_script),
            (self.bm25_weight_cross_script, cross_script),
        ):
            for rank, row in enumerate(rows, start=1):
                scored[row].score += weight / (self.rrf_k + rank)
        return sorted(scored.items(), key=lambda pair: -pair[1].score)

    def _by_similarity(self, rows: list[int], query_vector: np.ndarray) -> list[int]:
        if len(rows) < 2:
            return rows
        vectors = self.store.vectors(rows)
        return sorted(rows, key=lambda row: -float(vectors[row] @ query_vector))

    def _collapse_duplicates(self, ranked: list[tuple[int, Hit]], k: int) -> list[Hit]:
        """Keep the best of each group of near-identical chunks (wire copies), up to ``k``.

        Near-identical: the Jaccard overlap of their normalised word sets reaches
        ``duplicate_threshold``. Words, not vectors: overlapping chunks of one article are
        close in embedding space without being copies. A hit's ``duplicates`` are the copies
        ranked before the first candidate that would have been hit ``k + 1``: the scan stops
        there, since the word sets of the ~100 candidates below cost more than the rest of
        the search after the query embedding (10-20 ms at 20,000 chunks against under 1).
        """
        kept: list[tuple[Hit, frozenset[str]]] = []
        for _, hit in ranked:
            words = word_set(hit.chunk.text)
            original = next(
                (h for h, w in kept if jaccard(words, w) >= self.duplicate_threshold), None
            )
            if original is not None:
                original.duplicates.append(hit.chunk.id)
            elif len(kept) == k:
                break
            else:
                kept.append((hit, words))
        return [hit for hit, _ in kept]

    def _attach_best_sentences(self, query_vector: np.ndarray, hits: Sequence[Hit]) -> None:
        sentences = [(hit, s) for hit in hits for s in hit.chunk.sentence_quotes()]
        if not sentences:
            return
        vectors = self._vectors_of(sentences)
        for (hit, sentence), score in zip(sentences, vectors @ query_vector, strict=True):
            hit.sentences.append(replace(sentence, score=float(score)))
        for hit in hits:
            hit.best_sentence = max(hit.sentences, key=lambda s: s.score)

    def _vectors_of(self, sentences: list[tuple[Hit, Sentence]]) -> np.ndarray:
        """The sentences' vectors: those the ingest stored, the others (articles stored by
        an earlier version) embedded now."""
        stored = self.store.sentence_vectors(list({h.chunk.article_id for h, _ in sentences}))
        keys = [(h.chunk.article_id, s.start) for h, s in sentences]
        missing = [i for i, key in enumerate(keys) if key not in stored]
        texts = [
            headed(sentences[i][0].chunk.title, sentences[i][1].text, self.embed_titles)
            for i in missing
        ]
        fresh = {}
        if texts:
            fresh = dict(zip(missing, self._sentence_vectors.embed(texts), strict=True))
        return np.vstack([fresh[i] if i in fresh else stored[key] for i, key in enumerate(keys)])

    def _shown_order(self, hits: list[Hit]) -> list[Hit]:
        """Fused hits (best sentences attached to the first ``_pool()``) in the order shown.

        With a selector: its ``rerank_pool`` choice among its pool, ordered by the sentence
        rerank, except that hits it brought up from below the fused ``rerank_pool`` follow
        those the fused order had there (on ARCD-train this keeps R@1 where the rerank alone
        had it, docs/benchmarks.md); then the pool's other hits and those below it, in fused
        order.
        """
        if self.selector is None:
            return self._rerank_by_sentence(hits)
        pool = hits[: self.selector.pool]
        chosen = self.selector.choose(pool, self.rerank_pool)
        ordered = self._rerank_by_sentence([pool[i] for i in chosen])
        fused_first = {id(hit) for hit in pool[: self.rerank_pool]}
        shown = sorted(ordered, key=lambda hit: id(hit) not in fused_first)  # stable
        rest = [hit for i, hit in enumerate(pool) if i not in chosen]
        return shown + rest + hits[self.selector.pool :]

    def _pool(self) -> int:
        """How many fused hits the shown order is chosen from."""
        return max(self.rerank_pool, self.selector.pool if self.selector else 0)

    def _rerank_by_sentence(self, hits: list[Hit]) -> list[Hit]:
        """The first ``rerank_pool`` hits reordered by fused score plus ``sentence_weight``
        times their best sentence's similarity, standardised over the pool; the rest keep
        their place after them.

        A chunk's vector averages several sentences, and the one that answers can be drowned
        out; the best sentence is the sharper signal, but alone it loses what BM25 and the
        chunk's whole meaning knew; together they rank best (docs/benchmarks.md).
        Standardised, because the spread of similarities depends on the languages: across
        them e5's similarities are compressed. The pool does not depend on ``k``: a search
        for fewer hits shows the first of a longer one's (at the same candidate depth).
        """
        pool = hits[: self.rerank_pool]
        if len(pool) < 2:
            return hits
        similarity = np.array([hit.best_sentence.score for hit in pool])
        standard = (similarity - similarity.mean()) / (similarity.std() + 1e-6)
        keys = [hit.score + self.sentence_weight * z for hit, z in zip(pool, standard, strict=True)]
        order = sorted(range(len(pool)), key=lambda i: -keys[i])
        return [pool[i] for i in order] + hits[self.rerank_pool :]


@functools.cache
def _up_to(filters: Filters, as_of: date | None) -> Filters:
    """An archive read as of a day shows nothing published after it (undated articles
    neither, as with any date filter); without ``as_of`` (today) nothing changes."""
    if as_of is None:
        return filters
    last = as_of.isoformat()
    return replace(filters, date_to=min(filters.date_to or last, last))


def _generic_questions() -> dict[str, list[str]]:
    """rag/data/generic_questions.txt, by language."""
    by_language: dict[str, list[str]] = {}
    text = (Path(__file__).parent.parent / "data" / "generic_questions.txt").read_text(
        encoding="utf-8"
    )
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            language, question = line.split("\t", 1)
            by_language.setdefault(language, []).append(question)
    return by_language


class _SentenceVectors:
    """Passage vectors of sentences the index does not hold (articles stored by an earlier
    version), kept for the most recently used ones: popular stories are asked about again
    and again. Bounded, so memory stays flat.
    """

    def __init__(self, embedder: Embedder, size: int = 20_000):
        self.embedder = embedder
        self.size = size
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def embed(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            known = {t: self._vectors[t] for t in texts if t in self._vectors}
            for text in known:
                self._vectors.move_to_end(text)
        missing = list(dict.fromkeys(t for t in texts if t not in known))
        if missing:
            fresh = dict(zip(missing, self.embedder.embed_passages(missing), strict=True))
            known.update(fresh)
            with self._lock:
                self._vectors.update(fresh)
                while len(self._vectors) > self.size:
                    self._vectors.popitem(last=False)
        return np.vstack([known[t] for t in texts])


class _Clock:
    def __init__(self, timings: dict[str, float]):
        self.timings = timings
        self.last = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.timings[stage] = now - self.last
        self.last = now


def newest_first(hits: list[Hit], within: float = 0.5) -> list[Hit]:
    """For "latest": among the hits scoring at least ``within`` of the best, the dated ones
    newest first, in the places dated hits held (an undated passage keeps its place: its
    age is unknown, not old). Relevance picks, the date orders."""
    if not hits:
        return hits
    floor = within * max(hit.score for hit in hits)
    places = [i for i, hit in enumerate(hits) if hit.score >= floor and hit.chunk.date]
    newest = sorted((hits[i] for i in places), key=lambda hit: hit.chunk.date, reverse=True)
    ordered = list(hits)
    for place, hit in zip(places, newest, strict=True):
        ordered[place] = hit
    return ordered
