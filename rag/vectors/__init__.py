"""Where the dense vectors are searched: one module per backend behind one small interface.

SQLite keeps every vector (the source of truth); a backend is derived from it and can be
rebuilt or re-synchronised from it at any time.

- ``faiss_index``: embedded FAISS, flat or HNSW, saved beside the database (the default).
- ``milvus_index``: a Milvus collection through ``pymilvus``: a local Milvus Lite file or a
  Milvus server or cluster; source and date filters are pushed down to it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from rag.types import Filters


@dataclass(frozen=True)
class RowMeta:
    """What a backend may filter on, per chunk row."""

    article_id: str
    source: str
    date: str


class VectorIndex(Protocol):
    """Inner-product search over chunk rows."""

    kind: str  # "flat", "hnsw" or "milvus"
    identity: str  # where the vectors live, recorded beside the derived files

    def count(self) -> int: ...

    def save(self, folder: Path) -> None:
        """Make what was written durable: FAISS writes its file into the index folder,
        Milvus flushes its segments."""
        ...

    def close(self) -> None: ...

    def add(self, rows: np.ndarray, vectors: np.ndarray, meta: list[RowMeta]) -> None: ...

    def remove(self, rows: list[int]) -> None: ...

    def search(
        self,
        vector: np.ndarray,
        n: int,
        allowed: np.ndarray | None = None,
        filters: Filters | None = None,
    ) -> list[tuple[int, float]]:
        """The ``n`` nearest rows: FAISS restricts to ``allowed`` rows (found in SQLite),
        Milvus evaluates ``filters`` itself. May return rows deleted since (HNSW)."""
        ...


Batches = Iterable[tuple[np.ndarray, np.ndarray, list[RowMeta]]]
