"""The index folder: SQLite for articles, chunks and vectors; a vector snapshot and a
lexical snapshot derived from it.

Layout of an index folder (format 1)::

    manifest.json   format version, embedder (backend, model, weights sha256, dimension),
                    chunking parameters, tokenizer options               (``rag.manifest``)
    index.sqlite    the source of truth (WAL):                           (``rag.database``)
                      articles, chunks (offsets, sentence spans, tokens, vector),
                      sentence_vectors (one float16 vector per sentence of an article),
                      deleted_rows (the log of deleted chunk rows), meta (generation),
                      feeds and feed_items (``rag.feeds``), conversations
                      (``rag.conversations``)
    feedback.sqlite3  ratings of answers (``rag.feedback``)
    vectors.faiss   a snapshot of the dense vectors by chunk row id (``rag.vectors``)
    milvus.db       with vector_store = milvus: a Milvus Lite collection instead, kept in
                    step with SQLite (or a Milvus server named by milvus_uri)
    lexical/        a snapshot of the BM25 index over the chunks' tokens (``rag.lexical``):
                      vocab.json, indptr/docs/counts/rows/lengths.npy
    derived.json    what the snapshots hold: the highest row and the last deletion they saw,
                    and the checksums of their files (checked, with bounds, on open)
    .lock           held by a writer, so two ingests run one after the other

Only the manifest and the SQLite databases need a backup (``rag.backups``); the rest is
rebuilt from them.

SQLite is the source of truth, and each write is one transaction. The rows written since
the snapshots are read back from SQLite into memory (vectors into a small exact index,
tokens into the lexical index), on open and whenever another process has written
(``refresh``), and rows deleted since are dropped: a write costs what it adds. The
snapshots are rewritten only once the rows since them are many (``snapshot_min_rows``, or
a tenth of the index), atomically. A write killed at any moment leaves the last committed
state; snapshots that are missing, damaged or older than their stamp are rebuilt.
"""

from __future__ import annotations

import fcntl
import json
import logging
import shutil
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import wraps
from pathlib import Path

import numpy as np

from rag import database
from rag.database import DATABASE, LOCK
from rag.errors import ArticleNotFoundError, IndexWriteError, RagError
from rag.lexical import FOLDER as LEXICAL_DIR
from rag.lexical import LexicalIndex
from rag.manifest import (
    MANIFEST,
    check_compatible,
    checksum,
    create_manifest,
    index_uid,
    read_json,
    read_manifest,
    write_json_atomically,
)
from rag.settings import Settings
from rag.types import Article, Chunk, Filters, Span
from rag.vectors import RowMeta, VectorIndex
from rag.vectors.factory import open_milvus, snapshot_or_rebuild
from rag.vectors.faiss_index import FILE_NAME as VECTORS
from rag.vectors.faiss_index import LiveFaiss

log = logging.getLogger(__name__)

DERIVED = "derived.json"
OLD_BM25_DIR = "bm25"  # the lexical index of earlier versions (bm25s, rebuilt on each write)


def _synchronized(method):
    """One thread at a time: a server shares one store between its request threads."""

    @wraps(method)
    def locked(self, *args, **kwargs):
        with self._lock:
            return method(self, *args, **kwargs)

    return locked


class _SharedLock:
    """Many holders at once (searches of the in-memory indexes), or one alone (a change to
    them); one waiting to change them lets no new search in ahead of it."""

    def __init__(self):
        self._condition = threading.Condition()
        self._sharing = 0
        self._changing = False
        self._waiting = 0

    @contextmanager
    def shared(self) -> Iterator[None]:
        with self._condition:
            self._condition.wait_for(lambda: not (self._changing or self._waiting))
            self._sharing += 1
        try:
            yield
        finally:
            with self._condition:
                self._sharing -= 1
                self._condition.notify_all()

    @contextmanager
    def alone(self) -> Iterator[None]:
        with self._condition:
            self._waiting += 1
            self._condition.wait_for(lambda: not (self._changing or self._sharing))
            self._waiting -= 1
            self._changing = True
        try:
            yield
        finally:
            with self._condition:
                self._changing = False
                self._condition.notify_all()


@dataclass(frozen=True)
class PreparedArticle:
    """An article ready to store: its chunks, their vectors and BM25 tokens, and the vector
    of each of its sentences by the sentence's start (none: embedded when searched)."""

    article: Article
    content_key: str
    chunks: list[Chunk]
    vectors: np.ndarray
    tokens: list[list[str]]
    sentence_vectors: dict[int, np.ndarray] = field(default_factory=dict)


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
        self._lock = threading.RLock()  # the database connection, and what changes state
        self._searching = _SharedLock()  # searches of the in-memory indexes run side by side
        self._readers = threading.local()
        self._reader_of: dict[int, sqlite3.Connection] = {}  # by thread
        self.read_only = not database.writable(self.folder)
        self._db = database.connect(self.folder / DATABASE, self.read_only)
        if not self.read_only:
            shutil.rmtree(self.folder / OLD_BM25_DIR, ignore_errors=True)
        self._vectors: VectorIndex | None = None
        self._snapshotter: threading.Thread | None = None
        self._load_vectors()

    # ----- opening ---------------------------------------------------------------------

    @classmethod
    def create(
        cls, folder: Path, manifest: dict, vectors: VectorIndexOptions | None = None
    ) -> IndexStore:
        folder = Path(folder)
        return cls(folder, create_manifest(folder, manifest), vectors)

    @classmethod
    def open(cls, folder: Path, vectors: VectorIndexOptions | None = None) -> IndexStore:
        return cls(Path(folder), read_manifest(folder), vectors)

    @staticmethod
    def read_manifest(folder: Path) -> dict:
        """The manifest of the index in ``folder``, checked for a format this code reads."""
        return read_manifest(folder)

    @staticmethod
    def exists(folder: Path) -> bool:
        return (Path(folder) / MANIFEST).exists()

    @staticmethod
    def remove(folder: Path, vectors: VectorIndexOptions | None = None) -> None:
        """Delete an index folder's files, and its Milvus collection (used by --rebuild)."""
        if vectors and vectors.store == "milvus" and IndexStore.exists(folder):
            manifest = read_manifest(folder)
            milvus = open_milvus(folder, index_uid(Path(folder), manifest), manifest, vectors)
            milvus.drop()
            milvus.close()
        for name in (MANIFEST, DATABASE, DATABASE + "-wal", DATABASE + "-shm", VECTORS, DERIVED):
            (Path(folder) / name).unlink(missing_ok=True)
        for name in (OLD_BM25_DIR, LEXICAL_DIR):
            shutil.rmtree(Path(folder) / name, ignore_errors=True)

    def check_compatible(self, embedder: dict, **settings) -> None:
        """Refuse to mix vectors from another model, or chunks cut another way."""
        check_compatible(self.folder, self.manifest, embedder, **settings)

    @property
    def uid(self) -> str:
        """Names this index to an external vector store (older indexes: by their path)."""
        return index_uid(self.folder, self.manifest)

    def close(self) -> None:
        if self._snapshotter is not None:
            self._snapshotter.join()  # a snapshot being written is finished, not cut
        with self._searching.alone():
            if self._vectors is not None:
                self._vectors.close()
        for reader in self._reader_of.values():
            reader.close()
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
        with open(self.folder / LOCK, "w") as lock:
            database.lock_file(lock, timeout)
            try:
                self._catch_up()  # another process may have written since: build on its state
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def delete_article(self, article_id: str, timeout: float | None = None) -> int:
        """Remove an article under the write lock, so every process serving this index
        (replicas too) stops finding it; the number of chunks removed."""
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
        with self._db:
            for item in prepared:
                self._delete_rows(item.article.id)
                self._insert_article(item)
                self._insert_chunks(item)
                self._insert_sentence_vectors(item)
            database.bump_generation(self._db)
        self._catch_up(own_write=True)

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
            database.bump_generation(self._db)
        self._catch_up(own_write=True)
        return len(rows)

    def _delete_rows(self, article_id: str) -> list[int]:
        rows = [
            r
            for (r,) in self._db.execute(
                "SELECT row FROM chunks WHERE article_id = ?", (article_id,)
            )
        ]
        self._db.execute("DELETE FROM chunks WHERE article_id = ?", (article_id,))
        self._db.execute("DELETE FROM sentence_vectors WHERE article_id = ?", (article_id,))
        self._db.execute("DELETE FROM articles WHERE id = ?", (article_id,))
        return rows

    def _insert_article(self, item: PreparedArticle) -> None:
        a = item.article
        self._db.execute(
            "INSERT INTO articles (id, title, text, url, source, date, author, origin, content_key)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (a.id, a.title, a.text, a.url, a.source, a.date, a.author, a.origin, item.content_key),
        )

    def _insert_chunks(self, item: PreparedArticle) -> None:
        if item.vectors.shape != (len(item.chunks), self.dimension):
            raise RagError(
                f"expected {len(item.chunks)} vectors of dimension {self.dimension}, "
                f"got {item.vectors.shape}"
            )
        self._db.executemany(
            'INSERT INTO chunks (id, article_id, ordinal, start, "end", sentences, tokens, vector)'
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    chunk.id,
                    chunk.article_id,
                    chunk.ordinal,
                    chunk.start,
                    chunk.end,
                    json.dumps([[s.start, s.end] for s in chunk.sentences]),
                    " ".join(tokens),
                    np.asarray(vector, dtype=np.float32).tobytes(),
                )
                for chunk, vector, tokens in zip(
                    item.chunks, item.vectors, item.tokens, strict=True
                )
            ],
        )

    def _insert_sentence_vectors(self, item: PreparedArticle) -> None:
        for vector in item.sentence_vectors.values():
            if np.shape(vector) != (self.dimension,):
                raise RagError(
                    f"expected a sentence vector of dimension {self.dimension}, "
                    f"got {np.shape(vector)}"
                )
        self._db.executemany(
            "INSERT INTO sentence_vectors (article_id, start, vector) VALUES (?, ?, ?)",
            [
                (item.article.id, start, np.asarray(vector, dtype=np.float16).tobytes())
                for start, vector in item.sentence_vectors.items()
            ],
        )

    @_synchronized
    def generation(self) -> int:
        return database.generation(self._db)

    # ----- the dense vectors: a snapshot, and the rows since ------------------------------

    def _load_vectors(self) -> None:
        options, stamp = self.vector_options, read_json(self.folder / DERIVED)
        with self._searching.alone():
            if self._vectors is not None:
                self._vectors.close()
            if options.store == "milvus":
                self._vectors = self._open_milvus(stamp)
                saved = (stamp.get("max_row"), stamp.get("deleted_seq"))
                rebuilt = None in saved  # the lexical snapshot's marks; Milvus keeps its own
                marks = database.high_marks(self._db) if rebuilt else saved
            else:
                base, marks, rebuilt = snapshot_or_rebuild(
                    self.folder, self._db, self.dimension, options, stamp, self._iter_vectors
                )
                self._vectors = LiveFaiss(base)
            self._lexical, lexical_rebuilt = self._lexical_snapshot(stamp, marks, rebuilt)
        self._seen = self._snapshot_seen = marks
        self._catch_up()
        rebuilt = rebuilt or lexical_rebuilt
        if rebuilt and self.generation():
            log.info("the snapshots of %s were missing, old or damaged: rebuilt", self.folder)
            self._save_derived_if_no_writer()

    def _lexical_snapshot(
        self, stamp: dict, marks: tuple[int, int], rebuilt: bool
    ) -> tuple[LexicalIndex, bool]:
        """The saved lexical snapshot when it holds what the vector snapshot does, else one
        built from SQLite; and whether it was built."""
        if not rebuilt:
            try:
                lexical = LexicalIndex.load(self.folder, stamp.get("lexical_checksums"))
            except (OSError, ValueError) as err:
                log.warning("the lexical index of %s is damaged or missing (%s); rebuilding it "
                            "from SQLite", self.folder, str(err)[:200])  # fmt: skip
            else:
                if lexical.snapshot_docs == stamp.get("lexical_docs"):
                    return lexical, False
                log.warning("the lexical index of %s does not match its stamp; rebuilding it "
                            "from SQLite", self.folder)  # fmt: skip
        return self._build_lexical(marks[0]), True

    @_synchronized
    def _catch_up(self, own_write: bool = False) -> bool:
        """Bring the vectors in memory up to what SQLite holds: add the rows written since
        we last looked, drop those deleted since. A Milvus collection is shared, so only its
        writer adds to it. ``False`` when nothing had changed."""
        apply = own_write or self._vectors.identity == "faiss"
        last_row, last_deletion = self._seen
        with _read_transaction(self._db):
            new = list(self._iter_vectors(after_row=last_row)) if apply else []
            tokens = self._db.execute(
                "SELECT row, tokens FROM chunks WHERE row > ? ORDER BY row", (last_row,)
            ).fetchall()
            gone = [row for (row,) in self._db.execute(
                "SELECT row FROM deleted_rows WHERE seq > ? ORDER BY seq", (last_deletion,)
            )]  # fmt: skip
            marks = database.high_marks(self._db)
        with self._searching.alone():
            self._lexical.add(tokens)
            self._lexical.remove(gone)
            if apply:
                if gone:
                    self._vectors.remove(gone)
                for rows, vectors, meta in new:
                    self._vectors.add(rows, vectors, meta)
        changed = marks != self._seen
        self._seen = marks
        return changed

    def _save_derived_if_no_writer(self) -> None:
        """Write a rebuilt snapshot only under the write lock, and only if nobody holds it:
        a reader never writes beside a running ingest (it serves from memory instead)."""
        if self.read_only or self.vector_options.mmap:
            return
        try:
            lock = open(self.folder / LOCK, "w")  # noqa: SIM115 - closed below
        except OSError:
            return
        with lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return  # a writer is at work and saves the files when it is done
            try:
                self._catch_up()
                self.save_derived(force=True)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _open_milvus(self, stamp: dict) -> VectorIndex:
        options = self.vector_options
        vectors = open_milvus(self.folder, self.uid, self.manifest, options)
        current = stamp.get("generation") == self.generation()
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

    def snapshot_due(self) -> bool:
        """Whether the rows written since the snapshots are many enough to rewrite them."""
        if not (self.folder / LEXICAL_DIR).exists():
            return True
        if isinstance(self._vectors, LiveFaiss) and (
            not (self.folder / VECTORS).exists()
            or self.vector_options.kind_for(self._vectors.count()) != self._vectors.kind
        ):
            return True
        recent = self._lexical.docs() - self._lexical.snapshot_docs
        return recent >= max(self.vector_options.snapshot_min_rows, self._lexical.count() // 10)

    def snapshot_in_background(self) -> None:
        """Rewrite the snapshots if they are due, in a thread of its own once the caller has
        let go of the write lock: the write that made them due returns at once (a lexical
        snapshot of 135k chunks takes ~8 s), searches go on, and writers that come meanwhile
        wait for the lock as behind any writer."""
        with self._lock:
            if not self.snapshot_due() or (
                self._snapshotter is not None and self._snapshotter.is_alive()
            ):
                return
            self._snapshotter = threading.Thread(
                target=self._snapshot_when_free, name="snapshot", daemon=True
            )
            self._snapshotter.start()

    def _snapshot_when_free(self) -> None:
        try:
            with self.writer():  # waits for the writer that asked, then catches up
                if self.snapshot_due():
                    self.save_derived(force=True)
        except Exception:  # noqa: BLE001 - a snapshot that fails is rebuilt on next open
            log.exception("writing the snapshots of %s failed", self.folder)

    def save_derived(self, force: bool = False) -> bool:
        """Rewrite the snapshots (atomically, stamped with what they hold) if they are due,
        or ``force``; a Milvus collection is flushed. Call it holding the write lock: nothing
        else writes meanwhile, so they are built from the database without the store's own
        lock, and searches go on (a lexical snapshot of 135k chunks takes ~8 s to build).

        ``False`` when they cannot be written (disk full, read-only folder): what SQLite
        committed is kept and served from memory, and the snapshots are rebuilt on next open.
        """
        with self._lock:
            milvus = not isinstance(self._vectors, LiveFaiss)
            due = force or self.snapshot_due()
        if not (due or milvus):
            return True
        try:
            if milvus:
                with self._lock:
                    self._vectors.save(self.folder)  # a flush; the collection is shared
            stamp = read_json(self.folder / DERIVED)
            if due:
                if not milvus:
                    self._renew_vector_snapshot()
                    stamp["vectors_checksum"] = checksum(self.folder / VECTORS)
                marks = self._seen
                lexical = self._build_lexical(marks[0])
                stamp["lexical_checksums"] = lexical.save(self.folder)
                with self._lock:
                    self._lexical, self._snapshot_seen = lexical, marks
            with self._lock:
                write_json_atomically(self.folder / DERIVED, {
                    "generation": self.generation(), "vectors": self._vectors.count(),
                    "index_type": self.index_type, "vector_store": self._vectors.identity,
                    "max_row": self._snapshot_seen[0], "deleted_seq": self._snapshot_seen[1],
                    "lexical_docs": self._lexical.snapshot_docs,
                    "vectors_checksum": stamp.get("vectors_checksum"),
                    "lexical_checksums": stamp.get("lexical_checksums"),
                })  # fmt: skip
        except (OSError, RuntimeError) as err:  # faiss reports write errors as RuntimeError
            log.warning("snapshots not saved (%s); rebuilt when next opened", err)
            return False
        return True

    def _renew_vector_snapshot(self) -> None:
        with self._lock:
            vectors = self._vectors
            wanted_kind = self.vector_options.kind_for(vectors.count())
            if wanted_kind != vectors.kind or vectors.gone() > vectors.count() // 10:
                # a new kind, or many deletions an HNSW graph still holds: built anew
                base, marks, _ = snapshot_or_rebuild(
                    self.folder, self._db, self.dimension, self.vector_options, {},
                    self._iter_vectors, kind=wanted_kind,
                )  # fmt: skip
                with self._searching.alone():
                    self._vectors, self._seen = LiveFaiss(base), marks
                self._catch_up()
            with self._searching.alone():
                self._vectors.fold_recent()
        self._vectors.base.save(self.folder)  # searches only read it meanwhile

    def _build_lexical(self, last_row: int) -> LexicalIndex:
        """The lexical snapshot of the rows up to ``last_row`` that are still there, read
        through a connection of its own so that searches keep the store's."""
        db = database.connect(self.folder / DATABASE, self.read_only)
        try:
            return LexicalIndex.build(
                db.execute(
                    "SELECT row, tokens FROM chunks WHERE row <= ? ORDER BY row", (last_row,)
                )  # fmt: skip
            )
        finally:
            db.close()

    @_synchronized
    def refresh(self) -> bool:
        """Pick up what another process committed since we looked (a replica's reload):
        the new rows' vectors, the deletions. A replica that has gathered many rows since
        its snapshot reloads a newer snapshot if a writer has saved one."""
        changed = self._catch_up()
        recent = self._lexical.docs() - self._lexical.snapshot_docs
        if recent >= max(self.vector_options.snapshot_min_rows, self._lexical.count() // 10):
            stamp = read_json(self.folder / DERIVED)
            if stamp.get("max_row", 0) > self._snapshot_seen[0]:
                self._load_vectors()
        return changed

    @property
    def index_type(self) -> str:
        return self._vectors.kind

    def _iter_vectors(self, batch: int = 50_000, after_row: int = 0, up_to: int | None = None):
        """(rows, vectors, metadata) of the chunks after ``after_row`` (and up to
        ``up_to``), in row order."""
        cursor = self._db.execute(
            "SELECT c.row, c.vector, a.id, a.source, a.date FROM chunks c "
            "JOIN articles a ON a.id = c.article_id WHERE c.row > ? AND c.row <= ? "
            "ORDER BY c.row",
            (after_row, up_to if up_to is not None else 2**62),
        )
        while rows := cursor.fetchmany(batch):
            ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
            vectors = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32)
            meta = [RowMeta(*r[2:]) for r in rows]
            yield ids, vectors.reshape(len(rows), self.dimension), meta

    # ----- reading ---------------------------------------------------------------------

    def dense_search(
        self,
        vector: np.ndarray,
        n: int,
        allowed: np.ndarray | None = None,
        filters: Filters | None = None,
    ) -> list[tuple[int, float]]:
        """The ``n`` nearest chunk rows by inner product, only ``allowed`` rows (FAISS) or
        those matching ``filters`` (Milvus evaluates them itself). Searches run side by side:
        under load, one at a time made this the server's queue (docs/benchmarks.md)."""
        with self._searching.shared():
            found = self._vectors.search(vector, n, allowed, filters)
            hnsw = self.index_type == "hnsw"
        if hnsw and found:
            found = self._without_deleted(found)
        return found

    @_synchronized
    def _without_deleted(self, found: list[tuple[int, float]]) -> list[tuple[int, float]]:
        rows = [r for r, _ in found]
        marks = ", ".join("?" * len(rows))
        alive = {
            r for (r,) in self._db.execute(f"SELECT row FROM chunks WHERE row IN ({marks})", rows)
        }
        return [(r, s) for r, s in found if r in alive]

    @_synchronized
    def words_since(self, row: int) -> tuple[set[str], int]:
        """The tokens of the chunks written after ``row`` (0: every token the lexical index
        knows), and the highest row they come from: what a vocabulary kept elsewhere adds."""
        last = self._seen[0]
        if row == 0:
            return set(self._lexical.vocabulary()), last
        words: set[str] = set()
        for (tokens,) in self._db.execute(
            "SELECT tokens FROM chunks WHERE row > ? AND row <= ?", (row, last)
        ):
            words.update(tokens.split())
        return words, last

    def bm25_search(
        self, tokens: list[str], n: int, allowed: np.ndarray | None = None
    ) -> list[tuple[int, float]]:
        """The ``n`` best chunk rows by BM25 over ``tokens`` (only those scoring above 0)."""
        with self._searching.shared():
            return self._lexical.search(tokens, n, allowed)

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

    def _reader(self) -> sqlite3.Connection:
        """This thread's own connection for the reads of a search: they run side by side
        (WAL), where the store's one connection took them one at a time."""
        reader = getattr(self._readers, "db", None)
        if reader is None:
            reader = database.connect_reader(self.folder / DATABASE, self.read_only)
            self._readers.db = reader
            with self._lock:  # a server's threads come and go: close the readers of those gone
                alive = {thread.ident for thread in threading.enumerate()}
                for ident in [i for i in self._reader_of if i not in alive]:
                    self._reader_of.pop(ident).close()
                self._reader_of[threading.get_ident()] = reader
        return reader

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
        ) in self._reader().execute(sql, list(rows)):
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

    def vectors(self, rows: Sequence[int]) -> dict[int, np.ndarray]:
        """The stored vector of each chunk at ``rows``, by row."""
        if not rows:
            return {}
        sql = f"SELECT row, vector FROM chunks WHERE row IN ({', '.join('?' * len(rows))})"
        return {
            row: np.frombuffer(blob, dtype=np.float32)
            for row, blob in self._reader().execute(sql, list(rows))
        }

    def sentence_vectors(self, article_ids: Sequence[str]) -> dict[tuple[str, int], np.ndarray]:
        """The stored vectors of the sentences of ``article_ids``, by (article id, start).
        Articles stored without them (by an earlier version) have none."""
        if not article_ids:
            return {}
        sql = (
            "SELECT article_id, start, vector FROM sentence_vectors WHERE article_id IN "
            f"({', '.join('?' * len(article_ids))})"
        )
        try:
            found = self._reader().execute(sql, list(article_ids)).fetchall()
        except sqlite3.OperationalError:  # a read-only index from before the table
            return {}
        return {
            (aid, start): np.frombuffer(blob, dtype=np.float16).astype(np.float32)
            for aid, start, blob in found
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
    def counts(self) -> dict[str, int]:
        """What each part holds once caught up: SQLite's articles and chunks, the chunks in
        the vector and the lexical index, and the articles whose sentences lack vectors."""
        self._catch_up()
        with self._lock, _read_transaction(self._db):
            one = lambda sql: self._db.execute(sql).fetchone()[0]  # noqa: E731
            counts = {
                "articles": one("SELECT COUNT(*) FROM articles"),
                "chunks": one("SELECT COUNT(*) FROM chunks"),
                "articles_without_sentence_vectors": one(
                    "SELECT COUNT(*) FROM articles WHERE id NOT IN "
                    "(SELECT DISTINCT article_id FROM sentence_vectors)"
                ),
            }
            counts["vectors"] = self._vectors.count()
            counts["lexical"] = self._lexical.count()
        return counts

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


@contextmanager
def _read_transaction(db):
    """Several reads that see one committed state (WAL gives each transaction a snapshot)."""
    db.execute("BEGIN")
    try:
        yield
    finally:
        db.execute("COMMIT")
