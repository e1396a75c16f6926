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
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path

from rag import database, documents, feeds
from rag.access import Access
from rag.answering import Answerer
from rag.conversations import ConversationStore
from rag.documents import LoadFailure
from rag.errors import IndexBusyError, IndexWriteError
from rag.feedback import FeedbackStore
from rag.feeds import FeedRegistry, FeedStatus
from rag.ingest import Indexer, IngestReport, ingest, ingest_records
from rag.pipeline import Pipeline
from rag.retrieval import Retriever
from rag.settings import Settings
from rag.store import IndexStore
from rag.types import Answer, Article, Filters

log = logging.getLogger(__name__)

_DONE = object()  # the end of a token stream


class Service:
    """One open index for every front end: ``Service.start(settings, seeds=...)`` for a
    server, ``Service.open(settings)`` for one CLI command. Every method is thread-safe.

    The parts a command may not need (the model, the answerer, the feedback table) are made
    on first use, so ``rag stats`` and ``rag delete`` go through the same store, lock and
    rules as the server without loading a model.
    """

    def __init__(self, pipeline: Pipeline, store: IndexStore, indexer: Indexer | None = None):
        self.pipeline = pipeline
        self.store = store
        self._indexer = indexer
        self.access = Access(pipeline.settings)
        self._write_lock = threading.Lock()
        self._last_reload_check = 0.0
        self._watcher: feeds.Watcher | None = None

    @classmethod
    def open(cls, settings: Settings, *, create: bool = False) -> Service:
        """The settings' existing index (``IndexNotFoundError`` when there is none, unless
        ``create``: then a new, empty one with the settings' model)."""
        if create and not IndexStore.exists(settings.index_dir):
            return cls.for_ingest(settings)
        pipeline = Pipeline(settings)
        return cls(pipeline, pipeline.open_store(check_model=False))

    @classmethod
    def for_ingest(cls, settings: Settings, *, rebuild: bool = False) -> Service:
        """The settings' index for a batch ingest: made with the settings' model when there
        is none (afresh with ``rebuild``), and checked against that model and chunking, so
        the vectors of two models never mix."""
        pipeline = Pipeline(settings)
        indexer = pipeline.indexer(rebuild=rebuild)
        return cls(pipeline, indexer.store, indexer)

    @classmethod
    def start(cls, settings: Settings, *, seeds: Path | None = None) -> Service:
        """Open (building it from ``seeds`` first when there is none) and warm up, so the
        first question is answered as fast as the next."""
        pipeline = Pipeline(settings)
        if seeds is not None and not IndexStore.exists(settings.index_dir):
            log.warning("first run: building the index from %s", seeds)
            report = pipeline.ensure_index(seeds)
            if report:
                log.warning("built the index: %s", report.summary())
        service = cls(pipeline, pipeline.open_store(check_model=False))
        service.warm_up()  # makes the retriever, which checks the index against the model
        return service

    def warm_up(self) -> None:
        """Load the model and the answerer, and embed once (what a first question would)."""
        self.answerer.retriever.embedder.embed_queries(["warm up"])
        _ = self.indexer, self.feedback

    @cached_property
    def retriever(self) -> Retriever:
        return self.pipeline.retriever(self.store)

    @cached_property
    def answerer(self) -> Answerer:
        return self.pipeline.answerer(retriever=self.retriever)  # one retriever, one cache

    @cached_property
    def indexer(self) -> Indexer:
        return self._indexer or self.pipeline.indexer(store=self.store)

    @cached_property
    def feedback(self) -> FeedbackStore:
        return FeedbackStore(self.settings.index_dir)

    @cached_property
    def conversations(self) -> ConversationStore:
        return ConversationStore(self.store.folder, read_only=self.store.read_only)

    @property
    def settings(self) -> Settings:
        return self.pipeline.settings

    def ask(self, question: str, **options) -> Answer:
        """``Answerer.answer``: options are ``history``, ``k``, ``filters``, ``language``
        and ``on_token``."""
        self.pick_up_new_version()
        return self.answerer.answer(question, **options)

    def ask_streaming(
        self, question: str, *, on_finish: Callable[[], None] | None = None, **options
    ) -> Iterator[str | Answer]:
        """The answer's tokens as they are written, then the ``Answer`` itself.

        Errors of the answerer are raised here, in the caller's thread, after the tokens.
        ``on_finish`` is called when the answer is done, even if nobody reads the rest of
        the stream (a stopped web answer, a client gone): it gives back an answer slot.
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
                if on_finish:
                    on_finish()

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

    def has_articles(self, filters: Filters | None) -> bool:
        """Whether any indexed article matches ``filters`` (a search there can find one)."""
        if filters is None:
            return True
        rows = self.store.filter_rows(filters.sources, filters.date_from, filters.date_to)
        return rows is None or len(rows) > 0

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
        """Index articles now (one writer at a time); failures are counted, never raised.

        Waits at most ``write_lock_timeout`` for another writer, then ``IndexBusyError``.
        """
        timeout = self.settings.write_lock_timeout
        with self._writing(), _writes_reported():
            return ingest_records(
                records, self.indexer, lock_timeout=timeout, snapshot_in_background=True
            )

    def ingest(
        self,
        paths: Iterable[Path],
        *,
        on_progress: Callable[[int], None] | None = None,
        on_failure: Callable[[LoadFailure], None] | None = None,
        ray: tuple[str | None, int | None] | None = None,
    ) -> IngestReport:
        """Index files and folders in batches (``rag ingest``): waits for another writer as
        long as it takes, commits batch by batch, and saves the snapshots as it goes, so an
        interrupted ingest keeps what it committed. ``ray`` (address, actors) chunks and
        embeds as a Ray Data pipeline (``None`` address: a local Ray instance)."""
        if ray is None:
            return ingest(paths, self.indexer, on_progress=on_progress, on_failure=on_failure)
        from rag.ray_ingest import embedder_factory, ingest_with_ray

        address, actors = ray
        factory = embedder_factory(self.settings, self.pipeline.model_name())
        return ingest_with_ray(paths, self.indexer, factory, address=address, actors=actors,
                               on_progress=on_progress, on_failure=on_failure)  # fmt: skip

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
        """Remove an article everywhere (replicas pick it up); the chunks removed."""
        with self._writing(), _writes_reported():
            return self.store.delete_article(article_id, self.settings.write_lock_timeout)

    @contextmanager
    def _writing(self):
        """This process's writers, one at a time, none waiting longer than the timeout."""
        if not self._write_lock.acquire(timeout=self.settings.write_lock_timeout):
            raise IndexBusyError("another write to the index is in progress; retry in a moment")
        try:
            yield
        finally:
            self._write_lock.release()

    def article(self, article_id: str) -> Article:
        return self.store.article(article_id)

    def stats(self) -> dict:
        self.pick_up_new_version()
        return self.store.stats()

    def sources(self, stats: dict | None = None) -> list[str]:
        """The named sources (of ``stats`` when already read)."""
        return [s for s in (stats or self.stats())["sources"] if s != "(none)"]

    # ----- feeds ---------------------------------------------------------------------------

    @cached_property
    def feeds(self) -> FeedRegistry:
        return FeedRegistry(self.store.folder, read_only=self.store.read_only)

    def follow_feed(self, url: str, interval: int | None = None) -> FeedStatus:
        """Check that ``url`` is a feed this server may fetch, then follow it."""
        return feeds.follow(self.feeds, url, self.settings, interval)

    def unfollow_feed(self, url: str) -> None:
        self.feeds.remove(url)

    def feed_statuses(self) -> list[FeedStatus]:
        return self.feeds.list()

    def poll_feeds(self, *, every: bool = False) -> list[FeedStatus]:
        """Fetch the feeds due (or ``every`` one) and index what is new, now."""
        return feeds.poll(self.feeds, self.add_articles, self.settings, every=every)

    def watch_feeds(self) -> None:
        """Poll the feeds in the background until ``close``."""
        if self._watcher is None:
            self._watcher = feeds.Watcher(self.feeds, self.add_articles, self.settings)
            self._watcher.start()

    def close(self) -> None:
        if self._watcher is not None:
            self._watcher.stop()
        for part in ("feedback", "feeds", "conversations"):
            if part in self.__dict__:
                self.__dict__[part].close()
        self.store.close()


@contextmanager
def _writes_reported():
    """A write the disk refuses becomes one clear error; SQLite has rolled it back."""
    try:
        yield
    except (sqlite3.OperationalError, sqlite3.DatabaseError, OSError) as err:
        if database.is_damage(err):
            raise database.damaged(Path(database.DATABASE), err) from None
        log.error("index write failed: %s", err)
        raise IndexWriteError(
            f"the index cannot be written ({err}); nothing was changed, and reading still works"
        ) from None
