"""Which dense index an index folder gets: a FAISS snapshot (loaded, or rebuilt from SQLite)
or a Milvus collection. A new vector store is one module beside these and one branch here."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from pathlib import Path

from rag.errors import IndexWriteError
from rag.store import database
from rag.store.manifest import verify_checksum
from rag.vectors import Batches
from rag.vectors.faiss_index import FILE_NAME, FaissVectors

log = logging.getLogger(__name__)


def snapshot_or_rebuild(
    folder: Path,
    db: sqlite3.Connection,
    dimension: int,
    options,
    stamp: dict,
    iter_vectors: Callable[..., Batches],
    kind: str | None = None,
) -> tuple[FaissVectors, tuple[int, int], bool]:
    """The saved FAISS snapshot if it is sound and of the wanted kind, else one built from
    SQLite; with the marks (highest row, last deletion) it holds, and whether it was built."""
    path = Path(folder) / FILE_NAME
    marks = (stamp.get("max_row"), stamp.get("deleted_seq"))
    wanted = kind or options.kind_for(int(stamp.get("vectors", 0)))
    if kind is None and path.exists() and None not in marks and stamp.get("index_type") == wanted:
        try:
            verify_checksum(path, stamp.get("vectors_checksum"))
            vectors = FaissVectors.read(path, mmap=options.mmap, ef_search=options.hnsw_ef_search)
        except (RuntimeError, OSError, ValueError) as err:  # faiss: RuntimeError
            log.warning("%s is damaged (%s); rebuilding it from SQLite", path, _first_line(err))
        else:
            if vectors.count() == int(stamp.get("vectors", -1)):
                return vectors, (int(marks[0]), int(marks[1])), False
            log.warning("%s does not match its stamp; rebuilding it from SQLite", path)
    if options.mmap:
        raise IndexWriteError(
            f"{path} is missing or out of date; open the index writable once to rebuild it"
        )
    marks = database.high_marks(db)  # before reading: rows after these are caught up later
    count = db.execute("SELECT COUNT(*) FROM chunks WHERE row <= ?", (marks[0],)).fetchone()[0]
    vectors = FaissVectors.build(
        dimension, kind or options.kind_for(count), iter_vectors(up_to=marks[0]),
        m=options.hnsw_m, ef_construction=options.hnsw_ef_construction,
        ef_search=options.hnsw_ef_search,
    )  # fmt: skip
    return vectors, marks, True


def open_milvus(folder: Path, uid: str, manifest: dict, options):
    from rag.vectors.milvus_index import MilvusVectors

    return MilvusVectors.connect(
        options.milvus_uri or str(Path(folder) / "milvus.db"),
        options.milvus_collection or f"rag_{uid[:16]}",
        int(manifest["embedder"]["dimension"]),
        owner=f"rag index {uid}",
        token=options.milvus_token,
    )


def _first_line(err: BaseException) -> str:
    return (str(err).strip().splitlines() or [type(err).__name__])[0][:200]
