"""The part of ``IndexStore`` that rewrites the derived snapshots (the vector index and the
lexical index) from SQLite: when they are due, in the background after a write, and after
a rebuild on open. Always under the folder's write lock, atomically, stamped in
``derived.json`` with what they hold and their checksums."""

from __future__ import annotations

import fcntl
import logging
import threading

from rag.store import database, tables
from rag.store.database import DATABASE, LOCK
from rag.store.layout import DERIVED
from rag.store.lexical import FOLDER as LEXICAL_DIR
from rag.store.lexical import LexicalIndex
from rag.store.manifest import checksum, read_json, write_json_atomically
from rag.vectors.factory import snapshot_or_rebuild
from rag.vectors.faiss_index import FILE_NAME as VECTORS
from rag.vectors.faiss_index import LiveFaiss

log = logging.getLogger(__name__)


class Snapshots:
    """Mixed into ``IndexStore``: reads its folder, options, database and in-memory indexes."""

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
            return LexicalIndex.build(tables.tokens(db, up_to=last_row))
        finally:
            db.close()

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
