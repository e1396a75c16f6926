"""The index folder: its files, what each holds, and the module that owns it.

Layout of an index folder (format 1)::

    manifest.json   format version, embedder (backend, model, weights sha256, dimension),
                    chunking parameters, tokenizer options               (``rag.store.manifest``)
    index.sqlite    the source of truth (WAL)   (``rag.store.database``, ``rag.store.tables``)
                      articles, chunks (offsets, sentence spans, tokens, vector),
                      sentence_vectors (one float16 vector per sentence of an article),
                      deleted_rows (the log of deleted chunk rows), meta (generation),
                      feeds and feed_items (``rag.news.feeds``), conversations
                      (``rag.conversations``)
    feedback.sqlite3  ratings of answers (``rag.feedback``)
    vectors.faiss   a snapshot of the dense vectors by chunk row id (``rag.vectors``)
    milvus.db       with vector_store = milvus: a Milvus Lite collection instead, kept in
                    step with SQLite (or a Milvus server named by milvus_uri)
    lexical/        a snapshot of the BM25 index over the chunks' tokens (``rag.store.lexical``):
                      vocab.json, indptr/docs/counts/rows/lengths.npy
    derived.json    what the snapshots hold: the highest row and the last deletion they saw,
                    and the checksums of their files (checked, with bounds, on open)
    .lock           held by a writer, so two ingests run one after the other

Only the manifest and the SQLite databases need a backup (``rag.store.backups``); the rest is
rebuilt from them.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from rag.store.database import DATABASE
from rag.store.lexical import FOLDER as LEXICAL_DIR
from rag.store.manifest import MANIFEST, index_uid, read_manifest
from rag.store.options import VectorIndexOptions
from rag.vectors.factory import open_milvus
from rag.vectors.faiss_index import FILE_NAME as VECTORS

DERIVED = "derived.json"
OLD_BM25_DIR = "bm25"  # the lexical index of earlier versions (bm25s, rebuilt on each write)


def exists(folder: Path) -> bool:
    return (Path(folder) / MANIFEST).exists()


def remove(folder: Path, vectors: VectorIndexOptions | None = None) -> None:
    """Delete an index folder's files, and its Milvus collection (used by --rebuild)."""
    if vectors and vectors.store == "milvus" and exists(folder):
        manifest = read_manifest(folder)
        milvus = open_milvus(folder, index_uid(Path(folder), manifest), manifest, vectors)
        milvus.drop()
        milvus.close()
    for name in (MANIFEST, DATABASE, DATABASE + "-wal", DATABASE + "-shm", VECTORS, DERIVED):
        (Path(folder) / name).unlink(missing_ok=True)
    for name in (OLD_BM25_DIR, LEXICAL_DIR):
        shutil.rmtree(Path(folder) / name, ignore_errors=True)
