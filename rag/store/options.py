"""How the dense vectors of an index are searched and kept, from ``Settings``."""

from __future__ import annotations

from dataclasses import dataclass, field

from rag.settings import Settings


@dataclass(frozen=True)
class VectorIndexOptions:
    """How the dense vectors are searched (derived files only: SQLite keeps the vectors).

    ``flat`` is exact; ``hnsw`` is approximate and much faster at millions of vectors (its
    recall against exact search is in docs/benchmarks.md); ``auto`` is flat below
    ``hnsw_min_vectors`` and HNSW above. ``mmap`` opens the saved index memory-mapped and
    read-only, so several server processes share one copy in the page cache.
    """

    kind: str = Settings.index_type
    hnsw_min_vectors: int = Settings.hnsw_min_vectors
    hnsw_m: int = Settings.hnsw_m
    hnsw_ef_construction: int = 80
    hnsw_ef_search: int = Settings.hnsw_ef_search
    mmap: bool = Settings.mmap_index
    store: str = Settings.vector_store  # or "milvus"
    milvus_uri: str = ""  # a Milvus Lite file or a server address; default: in the folder
    milvus_collection: str = ""  # default: one named after the index
    milvus_token: str = field(default="", repr=False)
    # the snapshot is rewritten once the rows since it reach this many, or a tenth of it
    snapshot_min_rows: int = Settings.snapshot_min_rows

    def __post_init__(self):
        if self.kind not in ("auto", "flat", "hnsw"):
            raise ValueError(f"index type must be auto, flat or hnsw, got {self.kind!r}")
        if self.store not in ("faiss", "milvus"):
            raise ValueError(f"vector store must be faiss or milvus, got {self.store!r}")

    def kind_for(self, vectors: int) -> str:
        if self.kind != "auto":
            return self.kind
        return "hnsw" if vectors >= self.hnsw_min_vectors else "flat"


def vector_index_options(settings: Settings) -> VectorIndexOptions:
    return VectorIndexOptions(
        kind=settings.index_type,
        hnsw_min_vectors=settings.hnsw_min_vectors,
        hnsw_m=settings.hnsw_m,
        hnsw_ef_search=settings.hnsw_ef_search,
        snapshot_min_rows=settings.snapshot_min_rows,
        mmap=settings.mmap_index,
        store=settings.vector_store,
        milvus_uri=settings.milvus_uri,
        milvus_collection=settings.milvus_collection,
        milvus_token=settings.milvus_token,
    )
