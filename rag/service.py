"""One open index and everything a long-running front end does with it.

The web chat, the HTTP API and the Slack app share one ``Service`` in one process: it
holds the embedder, the open (thread-safe) store, the answerer and the feedback table, and
serialises writes, so an article added anywhere is searchable everywhere at once.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from rag import documents
from rag.answering import Answerer
from rag.documents import LoadFailure
from rag.errors import IndexWriteError
from rag.feedback import FeedbackStore
from rag.ingest import Indexer, IngestReport, ingest_records
from rag.pipeline import Pipeline
from rag.retrieval import Retriever
from rag.settings import Settings
from rag.store import IndexStore
from rag.types import Answer, Article

log = logging.getLogger(__name__)

_DONE = object()  # the end of a token stream


@dataclass
class Service:
    """Open with ``Service.start(settings, seeds=...)``; every method is thread-safe."""

    pipeline: Pipeline
    store: IndexStore
    retriever: Retriever
    answerer: Answerer
    indexer: Indexer
    feedback: FeedbackStore
    _write_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _last_reload_check: float = field(default=0.0, repr=False)

    @classmethod
    def start(cls, settings: Settings, *, seeds: Path | None = None) -> Service:
        """Open the settings' index (built from ``seeds`` first when there is none)."""
        pipeline = Pipeline(settings)
        if seeds is not None:
            report = pipeline.ensure_index(seeds)
            if report:
                log.info("built the index from %s: %s", seeds, report.summary())
        store = pipeline.open_store()
        retriever = pipeline.retriever(store)
        return cls(
            pipeline=pipeline,
            store=store,
            retriever=retriever,
            answerer=pipeline.answerer(store),
            indexer=pipeline.indexer(store=store),
            feedback=FeedbackStore(settings.index_dir),
        )

    @property
    def settings(self) -> Settings:
        return self.pipeline.settings

    def ask(self, question: str, **options) -> Answer:
        """``Answerer.answer``: options are ``history``, ``k``, ``filters``, ``language``
        and ``on_token``."""
        self.pick_up_new_version()
        return self.answerer.answer(question, **options)

    def ask_streaming(self, question: str, **options) -> Iterator[str | Answer]:
        """The answer's tokens as they are written, then the ``Answer`` itself.

        Errors of the answerer are raised here, in the caller's thread, after the tokens.
        """
        tokens: queue.Queue = queue.Queue()
        outcome: dict = {}

        def work():
            try:
                outcome["answer"] = self.ask(question, on_token=tokens.put, **options)
            except BaseException as err:  # handed to the consumer, which decides
                outcome["error"] = err
            finally:
                tokens.put(_DONE)

        threading.Thread(target=work, daemon=True, name="answer").start()
        while (token := tokens.get()) is not _DONE:
            yield token
        if "error" in outcome:
            raise outcome["error"]
        yield outcome["answer"]

    def search(self, query: str, **options):
        """``Retriever.search``: options are ``k`` and ``filters``."""
        self.pick_up_new_version()
        return self.retriever.search(query, **options)

    def pick_up_new_version(self) -> bool:
        """Serve what another process (an ingest, or the writer of a read-only replica's
        index) has committed since; looked for at most every ``reload_seconds``."""
        interval = self.settings.reload_seconds
        now = time.monotonic()
        if not interval or now - self._last_reload_check < interval:
            return False
        self._last_reload_check = now
        if self.store.refresh():
            log.info("picked up index version %d", self.store.generation())
            return True
        return False

    def add_articles(self, records: Iterable[Article | LoadFailure]) -> IngestReport:
        """Index articles now (one writer at a time); failures are counted, never raised."""
        with self._write_lock, _writes_reported():
            return ingest_records(records, self.indexer)

    def add_records(self, records: Iterable[dict], origin: str) -> IngestReport:
        """Index JSON-like records (title, content, url, source, date, author)."""
        return self.add_articles(
            documents.record_or_failure(record, f"{origin} #{number}")
            for number, record in enumerate(records, start=1)
        )

    def add_file(self, path: Path) -> IngestReport:
        """Index the articles of one file of any supported format."""
        return self.add_articles(documents.load_file(Path(path)))

    def delete(self, article_id: str) -> int:
        with self._write_lock, _writes_reported(), self.store.writer():
            removed = self.store.delete(article_id)
            self.store.save_derived()
        return removed

    def article(self, article_id: str) -> Article:
        return self.store.article(article_id)

    def stats(self) -> dict:
        self.pick_up_new_version()
        return self.store.stats()

    def sources(self) -> list[str]:
        return [s for s in self.stats()["sources"] if s != "(none)"]

    def close(self) -> None:
        self.feedback.close()
        self.store.close()


@contextmanager
def _writes_reported():
    """A write the disk refuses becomes one clear error; SQLite has rolled it back."""
    try:
        yield
    except (sqlite3.OperationalError, sqlite3.DatabaseError, OSError) as err:
        log.error("index write failed: %s", err)
        raise IndexWriteError(
            f"the index cannot be written ({err}); nothing was changed, and reading still works"
        ) from None
