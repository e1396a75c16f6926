"""The index folder: SQLite for articles, chunks and vectors; FAISS and BM25 derived from it.

Layout of an index folder (format 1)::

    manifest.json   format version, embedder (backend, model, weights sha256, dimension),
                    chunking parameters, tokenizer options
    index.sqlite    articles, chunks (offsets, sentence spans, BM25 tokens, vector), meta
    vectors.faiss   dense vectors by chunk row id  (derived; rebuilt from SQLite if stale),
                    or a Milvus collection instead (``rag.vectors.milvus_index``)
    bm25/           bm25s index over the chunks    (derived; rebuilt from SQLite if stale)
    derived.json    the SQLite generation the derived files (and Milvus) were built from
    .lock           held by a writer, so two ingests run one after the other

SQLite is the source of truth. Each write is one transaction that bumps a generation
number; the derived files are rewritten atomically afterwards and stamped with it. A write
killed at any moment therefore leaves the last committed state, and derived files that are
behind are rebuilt on open.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import sqlite3
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import wraps
from pathlib import Path
from urllib.parse import quote

import numpy as np

from rag.errors import (
    ArticleNotFoundError,
    IndexBusyError,
    IndexExistsError,
    IndexMismatchError,
    IndexNotFoundError,
    IndexWriteError,
    RagError,
)
from rag.settings import Settings
from rag.types import Article, Chunk, Filters, Span
from rag.vectors import RowMeta, VectorIndex
from rag.vectors.faiss_index import FILE_NAME as FAISS_FILE
from rag.vectors.faiss_index import FaissVectors

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
DATABASE = "index.sqlite"
VECTORS = FAISS_FILE
BM25_DIR = "bm25"
DERIVED = "derived.json"


def _synchronized(method):
    """One thread at a time: a server shares one store between its request threads."""

    @wraps(method)
    def locked(self, *args, **kwargs):
        with self._lock:
            return method(self, *args, **kwargs)

    return locked


_SCHEMA = """
CREATE TABLE IF NOT EXISTS articles (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL, text TEXT NOT NULL, url TEXT NOT NULL, source TEXT NOT NULL,
    date TEXT NOT NULL, author TEXT NOT NULL, origin TEXT NOT NULL,
    content_key TEXT NOT NULL, added_at TEXT NOT NULL DEFAULT (datetime('now'))
);
CREATE INDEX IF NOT EXISTS articles_content_key ON articles(content_key);
CREATE INDEX IF NOT EXISTS articles_source ON articles(source);
CREATE INDEX IF NOT EXISTS articles_date ON articles(date);
CREATE TABLE IF NOT EXISTS chunks (
    row INTEGER PRIMARY KEY AUTOINCREMENT,   -- the FAISS id; never reused after a delete
    id TEXT NOT NULL UNIQUE,
    article_id TEXT NOT NULL REFERENCES articles(id),
    ordinal INTEGER NOT NULL, start INTEGER NOT NULL, "end" INTEGER NOT NULL,
    sentences TEXT NOT NULL,                 -- JSON [[start, end], ...], absolute offsets
    tokens TEXT NOT NULL,                    -- BM25 tokens, space-separated
    vector BLOB NOT NULL                     -- float32
);
CREATE INDEX IF NOT EXISTS chunks_article ON chunks(article_id);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass(frozen=True)
class PreparedArticle:
    """An article ready to store: its chunks, their vectors and BM25 tokens."""

    article: Article
    content_key: str
    chunks: list[Chunk]
    vectors: np.ndarray
    tokens: list[list[str]]


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

    def __post_init__(self):
        if self.kind not in ("auto", "flat", "hnsw"):
            raise ValueError(f"index type must be auto, flat or hnsw, got {self.kind!r}")
        if self.store not in ("faiss", "milvus"):
            raise ValueError(f"vector store must be faiss or milvus, got {self.store!r}")

    def kind_for(self, vectors: int) -> str:
        if self.kind != "auto":
            return self.kind
        return "hnsw" if vectors >= self.hnsw_min_vectors else "flat"


class IndexStore:
    """One index folder. Open with ``IndexStore.open`` or ``IndexStore.create``.

    >>> store = IndexStore.create(folder, manifest)  # doctest: +SKIP
    >>> store.dense_search(vector, 5)                 # doctest: +SKIP
    [(12, 0.83), ...]
    """

    def __init__(self, folder: Path, manifest: dict, vectors: VectorIndexOptions | None = None):
        self.folder = Path(folder)
        self.manifest = manifest
        self.vector_options = vectors or VectorIndexOptions()
        self.dimension = int(manifest["embedder"]["dimension"])
        self._lock = threading.RLock()
        self.read_only = not _writable(self.folder)
        self._db = _connect(self.folder / DATABASE, self.read_only)
        self._vectors: VectorIndex | None = None
        self._bm25 = None
        self._bm25_rows = np.zeros(0, dtype=np.int64)
        self._load_derived()

    # ----- opening ---------------------------------------------------------------------

    @classmethod
    def create(
        cls, folder: Path, manifest: dict, vectors: VectorIndexOptions | None = None
    ) -> IndexStore:
        folder = Path(folder)
        manifest = {"format_version": FORMAT_VERSION, "uid": uuid.uuid4().hex, **manifest}
        try:  # exclusive: of two processes creating one index at once, exactly one wins
            folder.mkdir(parents=True, exist_ok=True)
            _create_json(folder / MANIFEST, manifest)
        except FileExistsError:
            raise IndexExistsError(
                f"{folder} already holds an index; open it, or rebuild it"
            ) from None
        except OSError as err:
            raise IndexWriteError(
                f"cannot create an index in {folder}: {err.strerror or err}"
            ) from None
        return cls(folder, manifest, vectors)

    @classmethod
    def open(cls, folder: Path, vectors: VectorIndexOptions | None = None) -> IndexStore:
        return cls(Path(folder), cls.read_manifest(folder), vectors)

    @staticmethod
    def read_manifest(folder: Path) -> dict:
        """The manifest of the index in ``folder``, checked for a format this code reads."""
        folder = Path(folder)
        path = folder / MANIFEST
        if not path.exists():
            raise IndexNotFoundError(
                f"no index in {folder}: build one with `rag ingest PATH --index-dir {folder}`"
            )
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise RagError(f"{path} is damaged ({err}); rebuild the index with --rebuild") from None
        if manifest.get("format_version") != FORMAT_VERSION:
            raise IndexMismatchError(
                f"{folder} has index format {manifest.get('format_version')}, this version reads "
                f"format {FORMAT_VERSION}; rebuild it with `rag ingest ... --rebuild`"
            )
        return manifest

    @staticmethod
    def exists(folder: Path) -> bool:
        return (Path(folder) / MANIFEST).exists()

    @staticmethod
    def remove(folder: Path, vectors: VectorIndexOptions | None = None) -> None:
        """Delete an index folder's files, and its Milvus collection (used by --rebuild)."""
        if vectors and vectors.store == "milvus" and IndexStore.exists(folder):
            manifest = IndexStore.read_manifest(folder)
            milvus = _connect_milvus(folder, _uid(folder, manifest), manifest, vectors)
            milvus.drop()
            milvus.close()
        for name in (MANIFEST, DATABASE, DATABASE + "-wal", DATABASE + "-shm", VECTORS, DERIVED):
            (Path(folder) / name).unlink(missing_ok=True)
        shutil.rmtree(Path(folder) / BM25_DIR, ignore_errors=True)

    def check_compatible(self, embedder: dict, **settings) -> None:
        """Refuse to mix vectors from another model, or chunks cut another way."""
        recorded = self.manifest["embedder"]
        for key in ("model", "weights_sha256", "dimension"):
            if recorded.get(key) != embedder.get(key):
                raise IndexMismatchError(
                    f"the index in {self.folder} was built with embedding model "
                    f"{_describe_model(recorded)}, not {_describe_model(embedder)}; use the same "
                    "model, or rebuild the index with `rag ingest PATH --rebuild`"
                )
        for key, value in settings.items():
            if self.manifest.get(key) != value:
                raise IndexMismatchError(
                    f"the index in {self.folder} was built with {key}={self.manifest.get(key)!r}, "
                    f"not {value!r}; rebuild it with `rag ingest PATH --rebuild`"
                )

    @property
    def uid(self) -> str:
        """Names this index to an external vector store (older indexes: by their path)."""
        return _uid(self.folder, self.manifest)

    def close(self) -> None:
        if self._vectors is not None:
            self._vectors.close()
        self._db.close()

    # ----- writing ---------------------------------------------------------------------

    @contextmanager
    def writer(self, timeout: float | None = None) -> Iterator[None]:
        """Hold the folder's write lock, across processes.

        A second writer waits until the first is done: for ever (``timeout=None``, an
        ingest queued behind another) or at most ``timeout`` seconds, then ``IndexBusyError``
        (a server's write, which must answer rather than hang).
        """
        self._check_writable()
        with open(self.folder / ".lock", "w") as lock:
            _lock_file(lock, timeout)
            try:
                with self._lock:
                    if self.generation() != self._generation_seen:
                        # another process wrote since we loaded: build on its state, not ours
                        self._load_derived()
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def delete_article(self, article_id: str, timeout: float | None = None) -> int:
        """Remove an article under the write lock and save the derived files, so every
        process serving this index (replicas too) stops finding it; chunks removed."""
        with self.writer(timeout):
            removed = self.delete(article_id)
            self.save_derived()
        return removed

    def _check_writable(self) -> None:
        if self.vector_options.mmap:
            raise IndexWriteError(
                f"{self.folder} is open memory-mapped and read-only (mmap_index); "
                "write through a process that opens it writable"
            )
        if self.read_only:
            raise IndexWriteError(
                f"the index folder {self.folder} is read-only: reading works, writing is off"
            )

    @_synchronized
    def content_keys(self) -> dict[str, str]:
        """Every article id with its content key (what an ingest may skip as unchanged)."""
        return dict(self._db.execute("SELECT id, content_key FROM articles"))

    @_synchronized
    def article_state(self, article_id: str, content_key: str) -> str:
        """``new``, ``unchanged``, ``changed`` (same id, new content) or ``duplicate``."""
        row = self._db.execute(
            "SELECT content_key FROM articles WHERE id = ?", (article_id,)
        ).fetchone()
        if row:
            return "unchanged" if row[0] == content_key else "changed"
        duplicate = self._db.execute(
            "SELECT 1 FROM articles WHERE content_key = ? LIMIT 1", (content_key,)
        ).fetchone()
        return "duplicate" if duplicate else "new"

    @_synchronized
    def add(self, prepared: Sequence[PreparedArticle]) -> None:
        """Store articles (replacing any with the same id) in one transaction."""
        self._check_writable()
        if not prepared:
            return
        added_rows, added_vectors, added_meta, removed_rows = [], [], [], []
        with self._db:
            for item in prepared:
                removed_rows += self._delete_rows(item.article.id)
                self._insert_article(item)
                rows = self._insert_chunks(item)
                added_rows += rows
                added_vectors.append(item.vectors)
                a = item.article
                added_meta += [RowMeta(a.id, a.source, a.date)] * len(rows)
            self._bump_generation()
        self._vectors.remove(removed_rows)
        self._vectors.add(
            np.asarray(added_rows, dtype=np.int64), np.vstack(added_vectors), added_meta
        )
        self._bm25_stale = True
        self._generation_seen = self.generation()

    @_synchronized
    def delete(self, article_id: str) -> int:
        """Remove an article everywhere; the number of chunks removed."""
        self._check_writable()
        with self._db:
            if not self._db.execute(
                "SELECT 1 FROM articles WHERE id = ?", (article_id,)
            ).fetchone():
                raise ArticleNotFoundError(f"no article with id {article_id!r} in {self.folder}")
            rows = self._delete_rows(article_id)
            self._bump_generation()
        self._vectors.remove(rows)
        self._bm25_stale = True
        self._generation_seen = self.generation()
        return len(rows)

    def _delete_rows(self, article_id: str) -> list[int]:
        rows = [
            r
            for (r,) in self._db.execute(
                "SELECT row FROM chunks WHERE article_id = ?", (article_id,)
            )
        ]
        self._db.execute("DELETE FROM chunks WHERE article_id = ?", (article_id,))
        self._db.execute("DELETE FROM articles WHERE id = ?", (article_id,))
        return rows

    def _insert_article(self, item: PreparedArticle) -> None:
        a = item.article
        self._db.execute(
            "INSERT INTO articles (id, title, text, url, source, date, author, origin, content_key)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (a.id, a.title, a.text, a.url, a.source, a.date, a.author, a.origin, item.content_key),
        )

    def _insert_chunks(self, item: PreparedArticle) -> list[int]:
        if item.vectors.shape != (len(item.chunks), self.dimension):
            raise RagError(
                f"expected {len(item.chunks)} vectors of dimension {self.dimension}, "
                f"got {item.vectors.shape}"
            )
        rows = []
        for chunk, vector, tokens in zip(item.chunks, item.vectors, item.tokens, strict=True):
            cursor = self._db.execute(
                'INSERT INTO chunks (id, article_id, ordinal, start, "end", sentences, tokens,'
                " vector)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    chunk.id,
                    chunk.article_id,
                    chunk.ordinal,
                    chunk.start,
                    chunk.end,
                    json.dumps([[s.start, s.end] for s in chunk.sentences]),
                    " ".join(tokens),
                    np.asarray(vector, dtype=np.float32).tobytes(),
                ),
            )
            rows.append(cursor.lastrowid)
        return rows

    def _bump_generation(self) -> None:
        self._db.execute(
            "INSERT INTO meta (key, value) VALUES ('generation', '1') ON CONFLICT(key) "
            "DO UPDATE SET value = CAST(value AS INTEGER) + 1"
        )

    @_synchronized
    def generation(self) -> int:
        row = self._db.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
        return int(row[0]) if row else 0

    # ----- derived files: FAISS and BM25 -------------------------------------------------

    def _load_derived(self) -> None:
        self._generation_seen = self.generation()
        stamp = _read_json(self.folder / DERIVED)
        current = stamp.get("generation") == self._generation_seen
        if self.vector_options.mmap and not (current and (self.folder / BM25_DIR).exists()):
            raise IndexWriteError(
                f"the derived files of {self.folder} are missing or out of date; open it once "
                "writable (e.g. `rag stats`) to rebuild them, then memory-map it"
            )
        if self._vectors is not None:
            self._vectors.close()
        self._vectors, vectors_rebuilt = self._open_vectors(stamp, current)
        bm25_loaded = current and self._try_load_bm25()
        self._bm25_stale = not bm25_loaded
        if self.generation() and (vectors_rebuilt or not bm25_loaded):
            log.info("derived files of %s are behind the database or damaged: rebuilt", self.folder)
            self._save_derived_if_no_writer()

    def _save_derived_if_no_writer(self) -> None:
        """Write rebuilt derived files only under the write lock, and only if nobody holds
        it: a reader never writes beside a running ingest (it serves from memory instead)."""
        if self.read_only or self.vector_options.mmap:
            return
        try:
            lock = open(self.folder / ".lock", "w")  # noqa: SIM115 - closed below
        except OSError:
            return
        with lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return  # a writer is at work and saves the files when it is done
            try:
                if self.generation() == self._generation_seen:
                    self.save_derived()
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _open_vectors(self, stamp: dict, current: bool) -> tuple[VectorIndex, bool]:
        """The dense index, and whether it had to be rebuilt from SQLite."""
        options = self.vector_options
        if options.store == "milvus":
            return self._open_milvus(stamp, current), False
        wanted = options.kind_for(int(stamp.get("vectors", 0)))
        path = self.folder / VECTORS
        if current and path.exists() and stamp.get("index_type", "flat") == wanted:
            try:
                vectors = FaissVectors.read(
                    path, mmap=options.mmap, ef_search=options.hnsw_ef_search
                )
            except (RuntimeError, OSError, ValueError) as err:  # faiss: RuntimeError
                log.warning("%s is damaged (%s); rebuilding it from SQLite", path, _first_line(err))
            else:
                if vectors.count() == int(stamp.get("vectors", -1)):
                    return vectors, False
                log.warning("%s does not match the database; rebuilding it from SQLite", path)
        if options.mmap:
            raise IndexWriteError(f"{path} is missing or out of date; open the index writable")
        count = self._db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
        return FaissVectors.build(
            self.dimension, options.kind_for(count), self._iter_vectors(),
            m=options.hnsw_m, ef_construction=options.hnsw_ef_construction,
            ef_search=options.hnsw_ef_search,
        ), True  # fmt: skip

    def _open_milvus(self, stamp: dict, current: bool) -> VectorIndex:
        options = self.vector_options
        vectors = _connect_milvus(self.folder, self.uid, self.manifest, options)
        if not (current and stamp.get("vector_store") == vectors.identity):
            if options.mmap:
                raise IndexWriteError(
                    f"Milvus collection {vectors.identity} is behind {self.folder}; open the "
                    "index writable once to bring it up to date"
                )
            log.info("bringing %s up to date with %s", vectors.identity, self.folder)
            wanted = {r for (r,) in self._db.execute("SELECT row FROM chunks")}
            vectors.sync(wanted, self._iter_vectors())
        return vectors

    @_synchronized
    def save_derived(self) -> bool:
        """Bring BM25 up to date and write the derived files, atomically, stamped.

        ``False`` when they cannot be written (disk full, read-only folder): what SQLite
        committed is kept and served from memory, and the files are rebuilt on next open.
        """
        if self._bm25_stale:
            self._rebuild_bm25()
        try:
            self._vectors.save(self.folder)
            self._save_bm25()
            _write_json_atomically(self.folder / DERIVED, {
                "generation": self.generation(), "vectors": self._vectors.count(),
                "index_type": self.index_type,
                "vector_store": self._vectors.identity,
            })  # fmt: skip
        except (OSError, RuntimeError) as err:  # faiss reports write errors as RuntimeError
            log.warning("derived files not saved (%s); rebuilt when next opened", err)
            return False
        return True

    @_synchronized
    def refresh(self) -> bool:
        """Pick up what another process committed since we loaded (a read-only replica's
        reload). Only once that writer has also saved the derived files: until then the
        previous version keeps being served whole."""
        generation = self.generation()
        if generation == self._generation_seen:
            return False
        if _read_json(self.folder / DERIVED).get("generation") != generation:
            return False
        self._load_derived()
        return True

    @property
    def index_type(self) -> str:
        return self._vectors.kind

    def _iter_vectors(self, batch: int = 50_000):
        """(rows, vectors, metadata) of every chunk, in row order."""
        cursor = self._db.execute(
            "SELECT c.row, c.vector, a.id, a.source, a.date FROM chunks c "
            "JOIN articles a ON a.id = c.article_id ORDER BY c.row"
        )
        while rows := cursor.fetchmany(batch):
            ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
            vectors = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32)
            meta = [RowMeta(*r[2:]) for r in rows]
            yield ids, vectors.reshape(len(rows), self.dimension), meta

    def _rebuild_bm25(self) -> None:
        bm25s = _quiet_bm25s()

        rows, corpus = [], []
        for row, tokens in self._db.execute("SELECT row, tokens FROM chunks ORDER BY row"):
            rows.append(row)
            corpus.append(tokens.split())
        self._bm25_rows = np.asarray(rows, dtype=np.int64)
        if corpus:
            self._bm25 = bm25s.BM25()
            self._bm25.index(corpus, show_progress=False)
        else:
            self._bm25 = None
        self._bm25_stale = False

    def _save_bm25(self) -> None:
        target = self.folder / BM25_DIR
        staging = Path(tempfile.mkdtemp(prefix=".bm25.", dir=self.folder))
        if self._bm25 is not None:
            self._bm25.save(str(staging), show_progress=False)
        np.save(staging / "rows.npy", self._bm25_rows)
        old = self.folder / ".bm25.old"
        shutil.rmtree(old, ignore_errors=True)
        if target.exists():
            target.rename(old)
        staging.rename(target)
        shutil.rmtree(old, ignore_errors=True)

    def _try_load_bm25(self) -> bool:
        """Load the saved BM25 index; ``False`` when it is missing or damaged."""
        bm25s = _quiet_bm25s()

        folder = self.folder / BM25_DIR
        if not folder.exists():
            return False
        try:
            rows = np.load(folder / "rows.npy")
            self._bm25 = (
                bm25s.BM25.load(str(folder), mmap=True, show_progress=False) if len(rows) else None
            )
        except Exception as err:  # numpy, json and bm25s each fail their own way
            log.warning("%s is damaged (%s); rebuilding it from SQLite", folder, _first_line(err))
            return False
        self._bm25_rows = rows
        return True

    # ----- reading ---------------------------------------------------------------------

    @_synchronized
    def dense_search(
        self,
        vector: np.ndarray,
        n: int,
        allowed: np.ndarray | None = None,
        filters: Filters | None = None,
    ) -> list[tuple[int, float]]:
        """The ``n`` nearest chunk rows by inner product, only ``allowed`` rows (FAISS) or
        those matching ``filters`` (Milvus evaluates them itself)."""
        found = self._vectors.search(vector, n, allowed, filters)
        if self.index_type == "hnsw" and found:
            found = self._without_deleted(found)
        return found

    def _without_deleted(self, found: list[tuple[int, float]]) -> list[tuple[int, float]]:
        rows = [r for r, _ in found]
        marks = ", ".join("?" * len(rows))
        alive = {
            r for (r,) in self._db.execute(f"SELECT row FROM chunks WHERE row IN ({marks})", rows)
        }
        return [(r, s) for r, s in found if r in alive]

    @_synchronized
    def vocabulary(self) -> list[str]:
        """The words BM25 knows (normalised, as the index tokenised them)."""
        if self._bm25_stale:
            self._rebuild_bm25()
        return list(self._bm25.vocab_dict) if self._bm25 is not None else []

    @_synchronized
    def bm25_search(
        self, tokens: list[str], n: int, allowed: np.ndarray | None = None
    ) -> list[tuple[int, float]]:
        """The ``n`` best chunk rows by BM25 over ``tokens`` (only those scoring above 0)."""
        if self._bm25_stale:
            self._rebuild_bm25()
        if self._bm25 is None or not tokens or n < 1:
            return []
        scores = self._bm25.get_scores(tokens)
        if allowed is not None:
            scores = np.where(np.isin(self._bm25_rows, allowed), scores, 0.0)
        n = min(n, len(scores))
        top = np.argpartition(-scores, n - 1)[:n]
        top = top[np.argsort(-scores[top])]
        return [(int(self._bm25_rows[i]), float(scores[i])) for i in top if scores[i] > 0]

    @_synchronized
    def filter_rows(
        self,
        sources: Sequence[str] | None = None,
        date_from: str | None = None,
        date_to: str | None = None,
        exclude_articles: Sequence[str] = (),
    ) -> np.ndarray | None:
        """Chunk rows whose article matches the filters; ``None`` when there are no filters."""
        clauses, params = [], []
        if sources:
            clauses.append(f"a.source IN ({', '.join('?' * len(sources))})")
            params += list(sources)
        if date_from:
            clauses.append("a.date != '' AND a.date >= ?")
            params.append(date_from)
        if date_to:
            clauses.append("a.date != '' AND substr(a.date, 1, ?) <= ?")
            params += [len(date_to), date_to]
        if exclude_articles:
            clauses.append(f"a.id NOT IN ({', '.join('?' * len(exclude_articles))})")
            params += list(exclude_articles)
        if not clauses:
            return None
        sql = "SELECT c.row FROM chunks c JOIN articles a ON a.id = c.article_id WHERE " + (
            " AND ".join(clauses)
        )
        return np.fromiter((r for (r,) in self._db.execute(sql, params)), dtype=np.int64)

    @_synchronized
    def chunks(self, rows: Sequence[int]) -> dict[int, Chunk]:
        """The chunks at ``rows`` (with their article's metadata), by row."""
        if not rows:
            return {}
        sql = (
            'SELECT c.row, c.id, c.article_id, c.ordinal, c.start, c."end", c.sentences, '
            'substr(a.text, c.start + 1, c."end" - c.start), a.title, a.source, a.date, a.url '
            "FROM chunks c "
            "JOIN articles a ON a.id = c.article_id WHERE c.row IN "
            f"({', '.join('?' * len(rows))})"
        )
        found = {}
        for (
            row,
            cid,
            aid,
            ordinal,
            start,
            end,
            sentences,
            text,
            title,
            source,
            date,
            url,
        ) in self._db.execute(sql, list(rows)):
            found[row] = Chunk(
                id=cid,
                article_id=aid,
                ordinal=ordinal,
                text=text,
                start=start,
                end=end,
                sentences=tuple(Span(s, e) for s, e in json.loads(sentences)),
                title=title,
                source=source,
                date=date,
                url=url,
            )
        return found

    @_synchronized
    def vectors(self, rows: Sequence[int]) -> dict[int, np.ndarray]:
        """The stored vector of each chunk at ``rows``, by row."""
        if not rows:
            return {}
        sql = f"SELECT row, vector FROM chunks WHERE row IN ({', '.join('?' * len(rows))})"
        return {
            row: np.frombuffer(blob, dtype=np.float32)
            for row, blob in self._db.execute(sql, list(rows))
        }

    @_synchronized
    def article(self, article_id: str) -> Article:
        row = self._db.execute(
            "SELECT id, title, text, url, source, date, author, origin FROM articles WHERE id = ?",
            (article_id,),
        ).fetchone()
        if row is None:
            raise ArticleNotFoundError(f"no article with id {article_id!r} in {self.folder}")
        return Article(*row)

    @_synchronized
    def stats(self) -> dict:
        count = self._db.execute
        sources = count(
            "SELECT source, COUNT(*) FROM articles GROUP BY source ORDER BY COUNT(*) DESC"
        ).fetchall()
        months = count(
            "SELECT substr(date, 1, 7), COUNT(*) FROM articles WHERE date != '' "
            "GROUP BY 1 ORDER BY 1"
        ).fetchall()
        first, last = count("SELECT MIN(NULLIF(date, '')), MAX(date) FROM articles").fetchone()
        return {
            "index_dir": str(self.folder),
            "articles": count("SELECT COUNT(*) FROM articles").fetchone()[0],
            "chunks": count("SELECT COUNT(*) FROM chunks").fetchone()[0],
            "vectors": self._vectors.count(),
            "vector_store": self._vectors.identity,
            "sources": {source or "(none)": n for source, n in sources},
            "months": dict(months),
            "first_date": first or "",
            "last_date": last or "",
            "embedder": self.manifest["embedder"],
            "chunking": self.manifest.get("chunking", {}),
            "disk_bytes": sum(p.stat().st_size for p in self.folder.rglob("*") if p.is_file()),
        }


def _describe_model(embedder: dict) -> str:
    weights = str(embedder.get("weights_sha256"))[:12]
    return f"{embedder.get('model')!r} (weights {weights}, dimension {embedder.get('dimension')})"


def _quiet_bm25s():
    """bm25s sets its own logger to DEBUG when imported; our logs are quiet by default."""
    import bm25s

    logging.getLogger("bm25s").setLevel(logging.WARNING)
    return bm25s


def _uid(folder: Path, manifest: dict) -> str:
    return manifest.get("uid") or uuid.uuid5(uuid.NAMESPACE_URL, str(folder.resolve())).hex


def _connect_milvus(folder: Path, uid: str, manifest: dict, options: VectorIndexOptions):
    from rag.vectors.milvus_index import MilvusVectors

    return MilvusVectors.connect(
        options.milvus_uri or str(folder / "milvus.db"),
        options.milvus_collection or f"rag_{uid[:16]}",
        int(manifest["embedder"]["dimension"]),
        owner=f"rag index {uid}",
        token=options.milvus_token,
    )


def _writable(folder: Path) -> bool:
    database = folder / DATABASE
    return os.access(folder, os.W_OK) and (not database.exists() or os.access(database, os.W_OK))


def _connect(path: Path, read_only: bool) -> sqlite3.Connection:
    """The index database: read-write (WAL), or read-only when the folder cannot be written."""
    if read_only:
        return read_only_connection(path)
    db = sqlite3.connect(path, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.executescript(_SCHEMA)
    return db


def read_only_connection(path: Path) -> sqlite3.Connection:
    """A database in a folder nobody can write. Read-only mode reads a write-ahead log left
    beside it; with no log and no way to make its index file, it is opened as immutable."""
    uri = f"file:{quote(str(Path(path).resolve()))}?mode=ro"
    try:
        db = sqlite3.connect(uri, uri=True, check_same_thread=False)
        db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        return db
    except sqlite3.OperationalError:
        return sqlite3.connect(uri + "&immutable=1", uri=True, check_same_thread=False)


def _lock_file(lock, timeout: float | None) -> None:
    """Take ``lock`` exclusively: waiting for ever, or ``timeout`` seconds at most."""
    if timeout is None:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise IndexBusyError(
                    "another process is writing to the index (an ingest?); retry in a moment"
                ) from None
            time.sleep(0.05)


def _first_line(err: BaseException) -> str:
    return (str(err).strip().splitlines() or [type(err).__name__])[0][:200]


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}


def _write_json_atomically(path: Path, data: dict) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
    os.replace(temporary, path)


def _create_json(path: Path, data: dict) -> None:
    """Write ``path`` complete, or raise ``FileExistsError`` if it is already there."""
    with tempfile.NamedTemporaryFile(
        "w", dir=path.parent, prefix=path.name, suffix=".new", delete=False, encoding="utf-8"
    ) as temporary:
        temporary.write(json.dumps(data, indent=2, ensure_ascii=False))
    try:
        os.link(temporary.name, path)
    finally:
        os.unlink(temporary.name)


def manifest_for(embedder: dict, chunking: dict, **options) -> dict:
    """The manifest of a new index."""
    return {"embedder": embedder, "chunking": chunking, **options}
