"""The lexical index: BM25 over the chunks' tokens, held in memory, written to as rows come.

Like the vectors it is a snapshot plus the rows since: the snapshot (each term's documents
and counts, memory-mapped from ``lexical/``) is built from SQLite when the vector snapshot
is; rows written since are added in memory (by the writer, and by every other process as
it catches up from SQLite), deleted rows are masked. Scores use the statistics of the
moment (documents, average length, each term's document count), Lucene's BM25 as bm25s
computes it (k1 1.5, b 0.75), so a search scores the same whichever side a row is on.

SQLite FTS5 was tried first: the same recall, but scoring an OR of a question's terms took
77 ms at a median at 134,494 chunks, where this takes a few (docs/benchmarks.md).
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from collections import Counter, defaultdict
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from rag.store.manifest import checksum, verify_checksum

log = logging.getLogger(__name__)

K1, B = 1.5, 0.75
FOLDER = "lexical"
_ARRAYS = ("indptr", "docs", "counts", "rows", "lengths")
FILES = ("vocab.json", *(f"{name}.npy" for name in _ARRAYS))


class LexicalIndex:
    """BM25 over chunk rows: ``build`` from (row, tokens) pairs, ``add`` and ``remove`` rows,
    ``search`` with a question's tokens."""

    def __init__(self, vocab: list[str], arrays: dict[str, np.ndarray]):
        self._terms = {term: column for column, term in enumerate(vocab)}
        self._indptr, self._docs, self._counts = arrays["indptr"], arrays["docs"], arrays["counts"]
        self._rows = np.asarray(arrays["rows"], dtype=np.int64)
        self._lengths = np.asarray(arrays["lengths"], dtype=np.float32)
        self._alive = np.ones(len(self._rows), dtype=bool)
        self._tail: dict[str, tuple[list[int], list[int]]] = defaultdict(lambda: ([], []))
        self.snapshot_docs = len(self._rows)

    # ----- making ---------------------------------------------------------------------------

    @classmethod
    def build(cls, documents: Iterable[tuple[int, str]]) -> LexicalIndex:
        """From (row, space-separated tokens) pairs, in row order."""
        vocab: dict[str, int] = {}
        rows, lengths, ids = [], [], []
        for row, tokens in documents:
            words = tokens.split()
            rows.append(row)
            lengths.append(len(words))
            ids.extend(vocab.setdefault(word, len(vocab)) for word in words)
        doc_of = np.repeat(np.arange(len(rows), dtype=np.int64), lengths)
        keys, counts = np.unique(np.asarray(ids, dtype=np.int64) * max(len(rows), 1) + doc_of,
                                 return_counts=True)  # fmt: skip
        columns, docs = np.divmod(keys, max(len(rows), 1))  # sorted by term, then document
        indptr = np.zeros(len(vocab) + 1, dtype=np.int64)
        np.cumsum(np.bincount(columns, minlength=len(vocab)), out=indptr[1:])
        return cls(list(vocab), {
            "indptr": indptr, "docs": docs.astype(np.int32), "counts": counts.astype(np.float32),
            "rows": np.asarray(rows, dtype=np.int64), "lengths": np.asarray(lengths, np.float32),
        })  # fmt: skip

    @classmethod
    def load(cls, folder: Path, checksums: dict[str, str] | None = None) -> LexicalIndex:
        """The saved snapshot, checked against ``checksums`` (by file name, as ``save``
        returned them) and for bounds: ``OSError``/``ValueError`` when missing or damaged."""
        folder = Path(folder) / FOLDER
        for name in FILES:
            verify_checksum(folder / name, (checksums or {}).get(name))
        vocab = json.loads((folder / "vocab.json").read_text(encoding="utf-8"))
        arrays = {name: np.load(folder / f"{name}.npy", mmap_mode="r") for name in _ARRAYS}
        _check_sound(vocab, arrays)
        return cls(vocab, arrays)

    def save(self, folder: Path) -> dict[str, str]:
        """Write the snapshot part atomically (the rows since are the database's to replay);
        the checksums of its files, for ``load``."""
        target = Path(folder) / FOLDER
        staging = Path(tempfile.mkdtemp(prefix=".lexical.", dir=folder))
        try:
            (staging / "vocab.json").write_text(json.dumps(list(self._terms), ensure_ascii=False),
                                                encoding="utf-8")  # fmt: skip
            snapshot = self.snapshot_docs
            for name, array in (("indptr", self._indptr), ("docs", self._docs),
                                ("counts", self._counts), ("rows", self._rows[:snapshot]),
                                ("lengths", self._lengths[:snapshot])):  # fmt: skip
                np.save(staging / f"{name}.npy", np.asarray(array))
            checksums = {name: checksum(staging / name) for name in FILES}
            old = Path(folder) / ".lexical.old"
            shutil.rmtree(old, ignore_errors=True)
            if target.exists():
                target.rename(old)
            staging.rename(target)
            shutil.rmtree(old, ignore_errors=True)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return checksums

    # ----- writing --------------------------------------------------------------------------

    def add(self, documents: Iterable[tuple[int, str]]) -> None:
        """Rows written since the snapshot (row, tokens), in row order."""
        rows, lengths = [], []
        for row, tokens in documents:
            words = tokens.split()
            doc = len(self._rows) + len(rows)
            rows.append(row)
            lengths.append(len(words))
            for word, count in Counter(words).items():
                docs, counts = self._tail[word]
                docs.append(doc)
                counts.append(count)
        if rows:
            self._rows = np.concatenate([self._rows, np.asarray(rows, dtype=np.int64)])
            self._lengths = np.concatenate([self._lengths, np.asarray(lengths, np.float32)])
            self._alive = np.concatenate([self._alive, np.ones(len(rows), dtype=bool)])

    def remove(self, rows: Iterable[int]) -> None:
        rows = np.asarray(list(rows), dtype=np.int64)
        if not len(rows) or not len(self._rows):
            return
        at = np.searchsorted(self._rows, rows)  # rows are kept in increasing order
        found = at < len(self._rows)
        at = at[found]
        self._alive[at[self._rows[at] == rows[found]]] = False

    # ----- reading --------------------------------------------------------------------------

    def count(self) -> int:
        """Rows indexed and not deleted."""
        return int(self._alive.sum())

    def docs(self) -> int:
        """Rows indexed, deleted ones included (the snapshot's, then those since)."""
        return len(self._rows)

    def vocabulary(self) -> list[str]:
        return list(self._terms) + [t for t in self._tail if t not in self._terms]

    def search(
        self, tokens: list[str], n: int, allowed: np.ndarray | None = None
    ) -> list[tuple[int, float]]:
        """The ``n`` best rows by BM25 over ``tokens`` (those scoring above 0), only
        ``allowed`` rows if given."""
        live = int(self._alive.sum())
        if not tokens or n < 1 or not live:
            return []
        average = float(self._lengths[self._alive].sum()) / live
        scores = np.zeros(len(self._rows), dtype=np.float32)
        for token in tokens:
            docs, counts = self._postings(token)
            if not len(docs):
                continue
            idf = np.log(1 + (live - len(docs) + 0.5) / (len(docs) + 0.5))
            norm = K1 * (1 - B + B * self._lengths[docs] / average)
            scores[docs] += idf * counts / (counts + norm)
        scores[~self._alive] = 0
        if allowed is not None:
            scores[~np.isin(self._rows, allowed)] = 0
        n = min(n, int(np.count_nonzero(scores)))
        if n == 0:
            return []
        top = np.argpartition(-scores, n - 1)[:n]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(int(self._rows[i]), float(scores[i])) for i in top]

    def _postings(self, token: str) -> tuple[np.ndarray, np.ndarray]:
        """The documents ``token`` occurs in and how often, snapshot and rows since."""
        column = self._terms.get(token)
        parts_docs, parts_counts = [], []
        if column is not None:
            start, end = self._indptr[column], self._indptr[column + 1]
            parts_docs.append(np.asarray(self._docs[start:end], dtype=np.int64))
            parts_counts.append(np.asarray(self._counts[start:end], dtype=np.float32))
        if token in self._tail:
            docs, counts = self._tail[token]
            parts_docs.append(np.asarray(docs, dtype=np.int64))
            parts_counts.append(np.asarray(counts, dtype=np.float32))
        if not parts_docs:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        return np.concatenate(parts_docs), np.concatenate(parts_counts)


def _check_sound(vocab: object, arrays: dict[str, np.ndarray]) -> None:
    """``ValueError`` unless the snapshot's parts fit together: every posting points at a
    document, term ranges run forward, counts and lengths are real numbers, rows ascend (a
    garbled posting once ended a search in an ``IndexError`` instead of a rebuild)."""
    indptr, docs, counts = arrays["indptr"], arrays["docs"], arrays["counts"]
    rows, lengths = arrays["rows"], arrays["lengths"]
    if not isinstance(vocab, list) or not all(isinstance(term, str) for term in vocab):
        raise ValueError("the lexical vocabulary is not a list of terms")
    if any(array.ndim != 1 for array in arrays.values()):
        raise ValueError("the lexical index's arrays are not one-dimensional")
    agree = (
        len(indptr) == len(vocab) + 1 and len(counts) == len(docs) == (indptr[-1] if len(indptr)
        else -1) and len(lengths) == len(rows) and indptr[0] == 0 and len(set(vocab)) == len(vocab)
    )  # fmt: skip
    if not agree:
        raise ValueError("the lexical index's files do not agree")
    if len(indptr) > 1 and np.any(np.diff(indptr) < 0):
        raise ValueError("the lexical index's term ranges run backwards")
    if len(docs) and (int(docs.min()) < 0 or int(docs.max()) >= len(rows)):
        raise ValueError("a lexical posting points past the documents")
    if len(counts) and not (np.isfinite(counts).all() and counts.min() > 0):
        raise ValueError("a lexical count is not a positive number")
    if len(lengths) and not (np.isfinite(lengths).all() and lengths.min() >= 0):
        raise ValueError("a lexical document length is not a number")
    if len(rows) > 1 and np.any(np.diff(rows) <= 0):
        raise ValueError("the lexical index's rows are out of order")
