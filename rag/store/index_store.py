"""``IndexStore``: one open index folder (``rag.store.layout``), its SQLite tables
(``rag.store.tables``) and the vector and lexical indexes derived from them.

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
import logging
import shutil
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from rag.errors import ArticleNotFoundError, IndexWriteError
from rag.store import database, layout, tables
from rag.store.database import DATABASE, LOCK
from rag.store.layout import DERIVED, OLD_BM25_DIR
from rag.store.lexical import LexicalIndex
from rag.store.locks import SharedLock, synchronized
from rag.store.manifest import (
    check_compatible,
    create_manifest,
    index_uid,
    read_json,
    read_manifest,
)
from rag.store.options import VectorIndexOptions
from rag.store.snapshots import Snapshots
from rag.store.tables import PreparedArticle
from rag.types import Article, Chunk, Filters
from rag.vectors import VectorIndex
from rag.vectors.factory import open_milvus, snapshot_or_rebuild
from rag.vectors.faiss_index import LiveFaiss

log = logging.getLogger(__name__)


class IndexStore(Snapshots):
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
        self._searching = SharedLock()  # searches of the in-memory indexes run side by side
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

    exists = staticmethod(layout.exists)
    remove = staticmethod(layout.remove)

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

    @synchronized
    def content_keys(self) -> dict[str, str]:
        """Every article id with its content key (what an ingest may skip as unchanged)."""
        return tables.content_keys(self._db)

    @synchronized
    def article_state(self, article_id: str, content_key: str) -> str:
        """``new``, ``unchanged``, ``changed`` (same id, new content) or ``duplicate``."""
        return tables.article_state(self._db, article_id, content_key)

    @synchronized
    def add(self, prepared: Sequence[PreparedArticle]) -> None:
        """Store articles (replacing any with the same id) in one transaction."""
        self._check_writable()
        if not prepared:
            return
        with self._db:
            for item in prepared:
                tables.delete_article(self._db, item.article.id)
                tables.insert(self._db, item, self.dimension)
            database.bump_generation(self._db)
        self._catch_up(own_write=True)

    @synchronized
    def delete(self, article_id: str) -> int:
        """Remove an article everywhere; the number of chunks removed."""
        self._check_writable()
        with self._db:
            if not tables.has_article(self._db, article_id):
                raise ArticleNotFoundError(f"no article with id {article_id!r} in {self.folder}")
            removed = tables.delete_article(self._db, article_id)
            database.bump_generation(self._db)
        self._catch_up(own_write=True)
        return len(removed)

    @synchronized
    def lacking_sentence_vectors(self, after: str = "", limit: int = 64) -> dict[str, str]:
        """Articles stored without sentence vectors (``tables.lacking_sentence_vectors``)."""
        return tables.lacking_sentence_vectors(self._db, after, limit)

    @synchronized
    def count_lacking_sentence_vectors(self) -> int:
        return tables.count_lacking_sentence_vectors(self._db)

    @synchronized
    def article_chunks(self, article_ids: Sequence[str]) -> dict[str, list[Chunk]]:
        """The chunks of ``article_ids``, in order, by article."""
        rows = tables.article_chunk_rows(self._db, article_ids)
        found: dict[str, list[Chunk]] = {}
        for chunk in sorted(tables.chunks(self._db, rows).values(), key=lambda c: c.ordinal):
            found.setdefault(chunk.article_id, []).append(chunk)
        return found

    @synchronized
    def add_sentence_vectors(
        self, vectors: dict[str, dict[int, np.ndarray]], content_keys: dict[str, str]
    ) -> int:
        """Store articles' sentence vectors, in one transaction; an article deleted or
        changed since its sentences were read (``content_keys``) is passed over. The number
        of articles stored."""
        self._check_writable()
        stored = 0
        with self._db:
            for article_id, by_start in vectors.items():
                if tables.article_state(self._db, article_id, content_keys[article_id]) != (
                    "unchanged"
                ):
                    continue
                tables.insert_sentence_vectors(self._db, article_id, by_start, self.dimension)
                stored += 1
        return stored

    @synchronized
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

    @synchronized
    def _catch_up(self, own_write: bool = False) -> bool:
        """Bring the vectors in memory up to what SQLite holds: add the rows written since
        we last looked, drop those deleted since. A Milvus collection is shared, so only its
        writer adds to it. ``False`` when nothing had changed."""
        apply = own_write or self._vectors.identity == "faiss"
        last_row, last_deletion = self._seen
        with tables.read_transaction(self._db):
            new = list(self._iter_vectors(after_row=last_row)) if apply else []
            tokens = tables.tokens(self._db, after_row=last_row).fetchall()
            gone = tables.deleted_since(self._db, last_deletion)
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
            wanted = tables.chunk_rows(self._db)
            vectors.sync(wanted, self._iter_vectors())
        return vectors

    @synchronized
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
        return tables.iter_vectors(self._db, self.dimension, batch, after_row, up_to)

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

    @synchronized
    def _without_deleted(self, found: list[tuple[int, float]]) -> list[tuple[int, float]]:
        alive = tables.alive(self._db, [r for r, _ in found])
        return [(r, s) for r, s in found if r in alive]

    @synchronized
    def words_since(self, row: int) -> tuple[set[str], int]:
        """The tokens of the chunks written after ``row`` (0: every token the lexical index
        knows), and the highest row they come from: what a vocabulary kept elsewhere adds."""
        last = self._seen[0]
        if row == 0:
            return set(self._lexical.vocabulary()), last
        return tables.words_between(self._db, row, last), last

    def bm25_search(
        self, tokens: list[str], n: int, allowed: np.ndarray | None = None
    ) -> list[tuple[int, float]]:
        """The ``n`` best chunk rows by BM25 over ``tokens`` (only those scoring above 0)."""
        with self._searching.shared():
            return self._lexical.search(tokens, n, allowed)

    @synchronized
    def filter_rows(
        self,
        sources: Sequence[str] | None = None,
        date_from: str | None = None,
        date_to: str | None = None,
        exclude_articles: Sequence[str] = (),
    ) -> np.ndarray | None:
        """Chunk rows whose article matches the filters; ``None`` when there are no filters."""
        return tables.filter_rows(self._db, sources, date_from, date_to, exclude_articles)

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

    def chunks(self, at: Sequence[int]) -> dict[int, Chunk]:
        """The chunks at rows ``at`` (with their article's metadata), by row."""
        return tables.chunks(self._reader(), at)

    def vectors(self, at: Sequence[int]) -> dict[int, np.ndarray]:
        """The stored vector of each chunk at rows ``at``, by row."""
        return tables.vectors(self._reader(), at)

    def sentence_vectors(self, article_ids: Sequence[str]) -> dict[tuple[str, int], np.ndarray]:
        """The stored vectors of the sentences of ``article_ids``, by (article id, start).
        Articles stored without them (by an earlier version) have none."""
        return tables.sentence_vectors(self._reader(), article_ids)

    @synchronized
    def article(self, article_id: str) -> Article:
        found = tables.article(self._db, article_id)
        if found is None:
            raise ArticleNotFoundError(f"no article with id {article_id!r} in {self.folder}")
        return found

    @synchronized
    def lead_rows(self, date_from: str, date_to: str) -> list[int]:
        """The first chunk of every article of those days (``tables.lead_rows``)."""
        return tables.lead_rows(self._db, date_from, date_to)

    @synchronized
    def days_around(self, date_from: str, date_to: str) -> tuple[str, str]:
        """The nearest days with articles before and after a period ("" if none)."""
        return tables.days_around(self._db, date_from, date_to)

    @synchronized
    def latest_day(self, up_to: str) -> str:
        """The newest day with articles up to ``up_to`` ("" if none)."""
        return tables.latest_day(self._db, up_to)

    @synchronized
    def counts(self) -> dict[str, int]:
        """What each part holds once caught up: SQLite's articles and chunks, the chunks in
        the vector and the lexical index, and the articles whose sentences lack vectors."""
        self._catch_up()
        with self._lock, tables.read_transaction(self._db):
            counts = tables.counts(self._db)
            counts["vectors"] = self._vectors.count()
            counts["lexical"] = self._lexical.count()
        return counts

    def stats(self) -> dict:
        summary = tables.summary(self._db)
        return {
            "index_dir": str(self.folder),
            "articles": summary["articles"],
            "chunks": summary["chunks"],
            "vectors": self._vectors.count(),
            "vector_store": self._vectors.identity,
            **{key: summary[key] for key in ("sources", "months", "first_date", "last_date")},
            "embedder": self.manifest["embedder"],
            "chunking": self.manifest.get("chunking", {}),
            "disk_bytes": sum(p.stat().st_size for p in self.folder.rglob("*") if p.is_file()),
        }
