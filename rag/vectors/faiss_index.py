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

    def __init__(self, index, ef_search: int = 128):
        import faiss

        self._index = index
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

        return cls(faiss.read_index(str(path), faiss.IO_FLAG_MMAP if mmap else 0), ef_search)

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
