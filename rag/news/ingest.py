"""Ingest: load articles, chunk them, embed the chunks and store them, in batches.

Each batch is committed on its own, so an interrupted ingest keeps what it finished and
a second run skips it (``unchanged``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from rag.embeddings import Embedder
from rag.news import documents
from rag.news.documents import LoadFailure
from rag.store import IndexStore, PreparedArticle
from rag.text.arabic import tokenize
from rag.text.chunking import ChunkingParams, chunk_article
from rag.text.counting import counted
from rag.text.passages import headed
from rag.types import Article, Chunk

log = logging.getLogger(__name__)


@dataclass
class IngestReport:
    """What an ingest did: counts, and one line per input that failed or was skipped."""

    ingested: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0  # exact duplicates of an article already indexed
    failed: int = 0
    chunks: int = 0
    failures: list[LoadFailure] = field(default_factory=list)
    skips: list[str] = field(default_factory=list)
    sentences_left: int = 0  # articles searchable, their sentence vectors still to make

    def summary(self) -> str:
        left = ""
        if self.sentences_left:
            lacking = counted(
                self.sentences_left, "{n} article still lacks|{n} articles still lack"
            )
            left = (f"; {lacking} sentence vectors "
                    "(run `rag ingest` again, or `rag serve`, to make them)")  # fmt: skip
        return (
            f"ingested {self.ingested}, updated {self.updated}, unchanged {self.unchanged}, "
            f"skipped {self.skipped} (duplicates), failed {self.failed}; "
            f"{counted(self.chunks, '{n} chunk|{n} chunks')} added{left}"
        )

    def as_dict(self) -> dict:
        data = asdict(self)
        data["failures"] = [asdict(f) for f in self.failures]
        return data


@dataclass(frozen=True)
class Indexer:
    """Turns articles into stored chunks with one embedder and one way of chunking."""

    store: IndexStore
    embedder: Embedder
    chunking: ChunkingParams
    embed_titles: bool = True
    stemming: bool = True

    def prepare(
        self, articles: list[tuple[Article, str]], sentences: bool = True
    ) -> list[PreparedArticle]:
        """Chunk and embed a batch of (article, content key) pairs: their chunks, and with
        ``sentences`` their sentences too, in one encoder call (without, the sentences are
        embedded later, by ``rag.news.sentence_pass``)."""
        chunked = [(a, key, chunk_article(a, self.chunking)) for a, key in articles]
        groups = [encoder_texts(chunks, self.embed_titles, sentences) for _, _, chunks in chunked]
        vectors = self.embedder.embed_passages([t for g in groups for t in g])
        prepared, offset = [], 0
        for (article, key, chunks), group in zip(chunked, groups, strict=True):
            own = vectors[offset : offset + len(group)]
            offset += len(group)
            chunk_vectors, sentence_vectors = split_vectors(chunks, own)
            prepared.append(
                PreparedArticle(
                    article=article,
                    content_key=key,
                    chunks=chunks,
                    vectors=chunk_vectors,
                    tokens=[self.bm25_tokens(c) for c in chunks],
                    sentence_vectors=sentence_vectors,
                )
            )
        return prepared

    def sentence_vectors(self, chunks: dict[str, list[Chunk]]) -> dict[str, dict[int, np.ndarray]]:
        """The vectors of the sentences of each article's ``chunks``, by start, in one
        encoder call."""
        passages = {a: sentence_passages(c, self.embed_titles) for a, c in chunks.items()}
        vectors = self.embedder.embed_passages([t for p in passages.values() for t in p.values()])
        found, offset = {}, 0
        for article_id, texts in passages.items():
            found[article_id] = dict(zip(texts, vectors[offset : offset + len(texts)], strict=True))
            offset += len(texts)
        return found

    def passage_text(self, chunk: Chunk) -> str:
        return passage_text(chunk, self.embed_titles)

    def bm25_tokens(self, chunk: Chunk) -> list[str]:
        return bm25_tokens(chunk, self.embed_titles, self.stemming)


def passage_text(chunk: Chunk, embed_titles: bool) -> str:
    """What the encoder sees: the headline helps a short chunk say what it is about."""
    return headed(chunk.title, chunk.text, embed_titles)


def sentence_passages(chunks: Sequence[Chunk], embed_titles: bool) -> dict[int, str]:
    """What the encoder sees for each sentence of an article's chunks, by the sentence's
    start: each once, though overlapping chunks share sentences."""
    passages: dict[int, str] = {}
    for chunk in chunks:
        for sentence in chunk.sentence_quotes():
            if sentence.start not in passages:
                passages[sentence.start] = headed(chunk.title, sentence.text, embed_titles)
    return passages


def encoder_texts(chunks: Sequence[Chunk], embed_titles: bool, sentences: bool = True) -> list[str]:
    """An article's passages to embed: its chunks, then (with ``sentences``) its sentences
    (``split_vectors`` takes their vectors apart)."""
    texts = [passage_text(c, embed_titles) for c in chunks]
    return texts + list(sentence_passages(chunks, embed_titles).values() if sentences else [])


def split_vectors(
    chunks: Sequence[Chunk], vectors: np.ndarray
) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """The vectors of ``encoder_texts(chunks)``: the chunks', and the sentences' by start
    (none when they were not embedded)."""
    if len(vectors) == len(chunks):
        return vectors, {}
    starts = sentence_passages(chunks, embed_titles=False)
    return vectors[: len(chunks)], dict(zip(starts, vectors[len(chunks) :], strict=True))


def bm25_tokens(chunk: Chunk, embed_titles: bool, stemming: bool) -> list[str]:
    return tokenize(passage_text(chunk, embed_titles), stem=stemming)


def ingest(
    paths: Iterable[str | Path],
    indexer: Indexer,
    *,
    batch_chunks: int = 256,
    on_progress: Callable[[int], None] | None = None,
    on_failure: Callable[[LoadFailure], None] | None = None,
    sentences: bool = True,
) -> IngestReport:
    """Ingest every article under ``paths``; failures are reported, never raised."""
    return ingest_records(
        documents.load(paths),
        indexer,
        batch_chunks=batch_chunks,
        on_progress=on_progress,
        on_failure=on_failure,
        sentences=sentences,
    )


def ingest_records(
    records: Iterable[Article | PreparedArticle | LoadFailure],
    indexer: Indexer,
    *,
    batch_chunks: int = 256,
    on_progress: Callable[[int], None] | None = None,
    on_failure: Callable[[LoadFailure], None] | None = None,
    lock_timeout: float | None = None,
    snapshot_in_background: bool = False,
    sentences: bool = True,
) -> IngestReport:
    """Ingest loaded articles (and count the failures among them). Articles already chunked
    and embedded elsewhere (``PreparedArticle``, e.g. by Ray workers) are stored as they are.
    Without ``sentences`` an article is stored searchable once its chunks are embedded, and
    its sentences are embedded later (``rag.news.sentence_pass``).

    Waits for another writer for ever, or ``lock_timeout`` seconds (then ``IndexBusyError``).
    A snapshot that falls due is written before returning, or after, in the background (a
    server's small writes, which must answer at once).
    """
    report = IngestReport()
    store = indexer.store
    with store.writer(lock_timeout):
        for batch in _batches(records, store, report, batch_chunks, on_failure, on_progress):
            prepared = _prepared(indexer, batch, sentences)
            store.add(prepared)
            report.chunks += sum(len(p.chunks) for p in prepared)
            if on_progress:
                on_progress(len(batch))
            if not snapshot_in_background:
                store.save_derived()  # a new snapshot only when the rows since are many
        if not snapshot_in_background:
            store.save_derived()
    if snapshot_in_background:
        store.snapshot_in_background()
    return report


def _prepared(indexer: Indexer, batch: list[_Pending], sentences: bool) -> list[PreparedArticle]:
    """The batch, in order, with the articles that still need it chunked and embedded."""
    waiting = [(p.article, p.key) for p in batch if p.ready is None]
    fresh = iter(indexer.prepare(waiting, sentences))
    return [p.ready if p.ready is not None else next(fresh) for p in batch]


@dataclass(frozen=True)
class _Pending:
    article: Article
    key: str
    ready: PreparedArticle | None = None


def _batches(
    records, store: IndexStore, report: IngestReport, batch_chunks, on_failure, on_progress
) -> Iterator[list[_Pending]]:
    """Batches of new or changed articles, about ``batch_chunks`` chunks each."""
    batch: list[_Pending] = []
    seen_keys: dict[str, str] = {}
    size = 0
    for record in records:
        if isinstance(record, LoadFailure):
            report.failed += 1
            report.failures.append(record)
            if on_failure:
                on_failure(record)
            continue
        if isinstance(record, PreparedArticle):
            pending = _Pending(record.article, record.content_key, record)
        else:
            pending = _Pending(record, documents.content_key(record.text))
        article, key = pending.article, pending.key
        state = _state(store, article, key, seen_keys)
        seen_keys.setdefault(key, article.id)
        if state in ("unchanged", "duplicate"):
            if state == "unchanged":
                report.unchanged += 1
            else:
                report.skipped += 1
                report.skips.append(f"{article.origin}: duplicate of an indexed article")
            if on_progress:
                on_progress(1)
            continue
        if state == "changed":
            report.updated += 1
        else:
            report.ingested += 1
        batch.append(pending)
        size += len(pending.ready.chunks) if pending.ready else max(1, len(article.text) // 500)
        if size >= batch_chunks:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def _state(store: IndexStore, article: Article, key: str, seen_keys: dict[str, str]) -> str:
    earlier = seen_keys.get(key)
    if earlier is not None:
        return "unchanged" if earlier == article.id else "duplicate"
    return store.article_state(article.id, key)


def count_records(paths: Iterable[str | Path]) -> int:
    """A cheap count of the records under ``paths`` (for a progress bar's total)."""
    import gzip

    total = 0
    for path in paths:
        path = Path(path)
        files = [f for f in path.rglob("*") if f.is_file()] if path.is_dir() else [path]
        for file in files:
            name = file.name.lower()
            if name.endswith(".jsonl") or name.endswith(".jsonl.gz"):
                opener = gzip.open if name.endswith(".gz") else open
                try:
                    with opener(file, "rb") as lines:
                        total += sum(1 for line in lines if line.strip())
                except (OSError, EOFError):
                    total += 1
            else:
                total += 1
    return total
