"""Embedded FAISS: exact (flat) or HNSW, saved as one file beside the database."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from rag.types import Filters
from rag.vectors import Batches, RowMeta

FILE_NAME = "vectors.faiss"


class FaissVectors:
    """A FAISS index of chunk rows (``IndexIDMap2``, so row ids survive deletes)."""

    identity = "faiss"

    def __init__(self, index, ef_search: int = 128, mapped: bool = False):
        import faiss

        self._index = index
        self.mapped = mapped  # a memory-mapped file: searched, never changed
        self.dimension = int(index.d)
        inner = faiss.downcast_index(index.index)
        self.kind = "hnsw" if isinstance(inner, faiss.IndexHNSW) else "flat"
        if self.kind == "hnsw":
            inner.hnsw.efSearch = ef_search

    @classmethod
    def build(cls, dimension: int, kind: str, batches: Batches, *, m=32, ef_construction=80,
              ef_search=128) -> FaissVectors:  # fmt: skip
        import faiss

        if kind == "hnsw":
            inner = faiss.IndexHNSWFlat(dimension, m, faiss.METRIC_INNER_PRODUCT)
            inner.hnsw.efConstruction = ef_construction
        else:
            inner = faiss.IndexFlatIP(dimension)
        vectors = cls(faiss.IndexIDMap2(inner), ef_search)
        for rows, batch, meta in batches:
            vectors.add(rows, batch, meta)
        return vectors

    @classmethod
    def read(cls, path: Path, *, mmap: bool = False, ef_search: int = 128) -> FaissVectors:
        import faiss

        flags = faiss.IO_FLAG_MMAP if mmap else 0
        return cls(faiss.read_index(str(path), flags), ef_search, mapped=mmap)

    def save(self, folder: Path) -> None:
        """Atomically: a reader sees the old file or the new one, never half of one."""
        import faiss

        path = Path(folder) / FILE_NAME
        temporary = path.with_name(path.name + ".tmp")
        try:
            faiss.write_index(self._index, str(temporary))
            os.replace(temporary, path)
        finally:
            temporary.unlink(missing_ok=True)

    def count(self) -> int:
        return int(self._index.ntotal)

    def contents(self) -> tuple[np.ndarray, np.ndarray]:
        """Every (row, vector) held, for a flat index."""
        import faiss

        rows = faiss.vector_to_array(self._index.id_map).astype(np.int64)
        vectors = self._index.index.reconstruct_n(0, self._index.ntotal)
        return rows, vectors

    def close(self) -> None:
        pass  # nothing held but memory (or a memory map)

    def add(self, rows: np.ndarray, vectors: np.ndarray, meta: list[RowMeta]) -> None:
        if len(rows):
            self._index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), rows)

    def remove(self, rows: list[int]) -> None:
        # HNSW cannot remove vectors: a deleted row stays in the graph until the next
        # rebuild, and the store drops rows that SQLite no longer has.
        if rows and self.kind == "flat":
            self._index.remove_ids(np.asarray(rows, dtype=np.int64))

    def search(
        self,
        vector: np.ndarray,
        n: int,
        allowed: np.ndarray | None = None,
        filters: Filters | None = None,
    ) -> list[tuple[int, float]]:
        import faiss

        if self._index.ntotal == 0 or n < 1 or (allowed is not None and not len(allowed)):
            return []
        query = np.asarray(vector, dtype=np.float32).reshape(1, -1)
        params = None
        if allowed is not None:
            params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(allowed))
        with _openmp_threads(1):
            scores, rows = self._index.search(query, min(n, self._index.ntotal), params=params)
        return [(int(r), float(s)) for r, s in zip(rows[0], scores[0], strict=True) if r >= 0]


@contextmanager
def _openmp_threads(count: int):
    """FAISS's OpenMP threads for one call. One query gains nothing from several threads,
    and they contend with the embedder's (onnxruntime's spin, torch's): dense search over
    20,625 vectors took 23 ms at a median with two threads, 2.3 ms with one."""
    import faiss

    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(count)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


class LiveFaiss:
    """A saved FAISS snapshot plus the rows written since, kept in a small exact index.

    A write appends to ``recent`` (cost: the rows it adds); ``save`` folds ``recent`` into
    the snapshot and writes it, which the store does only once ``recent`` has grown large
    (so its cost is spread over many writes). Rows deleted from a snapshot that cannot drop
    them (HNSW, or a memory-mapped file) are left out at search time.
    """

    identity = "faiss"

    def __init__(self, base: FaissVectors):
        self.base = base
        self.recent = FaissVectors.build(base.dimension, "flat", [])
        self._gone: set[int] = set()

    @property
    def kind(self) -> str:
        return self.base.kind

    def count(self) -> int:
        return self.base.count() + self.recent.count() - len(self._gone)

    def recent_count(self) -> int:
        return self.recent.count()

    def gone(self) -> int:
        """Rows deleted that the snapshot still holds (left out at search time)."""
        return len(self._gone)

    def add(self, rows: np.ndarray, vectors: np.ndarray, meta: list[RowMeta]) -> None:
        self.recent.add(rows, vectors, meta)

    def remove(self, rows: list[int]) -> None:
        self.recent.remove(rows)
        if self.base.kind == "flat" and not self.base.mapped:
            self.base.remove(rows)
        else:
            self._gone.update(rows)

    def search(
        self,
        vector: np.ndarray,
        n: int,
        allowed: np.ndarray | None = None,
        filters: Filters | None = None,
    ) -> list[tuple[int, float]]:
        wanted = n + min(len(self._gone), 100)
        found = self.base.search(vector, wanted, allowed) + self.recent.search(
            vector, wanted, allowed
        )
        found = [(row, score) for row, score in found if row not in self._gone]
        return sorted(found, key=lambda hit: -hit[1])[:n]

    def fold_recent(self) -> None:
        """Move the recent rows into the snapshot (in memory)."""
        rows, vectors = self.recent.contents()
        self.base.add(rows, vectors, [])
        self.recent = FaissVectors.build(self.base.dimension, "flat", [])

    def save(self, folder: Path) -> None:
        self.fold_recent()
        self.base.save(folder)

    def close(self) -> None:
        self.base.close()
