"""The one door of the product: one open index and everything a front end does with it.

The web chat, the HTTP API, the Slack app and the CLI call only ``Service``. Each method
that reads or writes takes the ``Caller`` (who, through which front end: ``identify``, or
``OWNER`` for the CLI) and applies the access model inside (``rag.access``): writer rights,
the rate limit, and an answer slot for answers and searches. Refusals are ``AccessError``
(and the other ``RagError``), which each front end turns into its own form: an HTTP status,
a web notice, a Slack reply, a CLI line and exit code.

A server's front ends share one ``Service`` in one process: it holds the embedder, the open
(thread-safe) store, the answerer, the feeds, saved conversations and ratings, and
serialises writes, so an article added anywhere is searchable everywhere at once.
"""

from __future__ import annotations

import hashlib
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path

from rag.access import Access, AccessError, Caller
from rag.answers.answering import Answerer
from rag.answers.retrieval import Retriever, SearchResult
from rag.conversations import Conversation, ConversationStore
from rag.errors import IndexBusyError, IndexWriteError, RagError
from rag.feedback import FeedbackStore
from rag.news import documents, feeds
from rag.news.documents import LoadFailure
from rag.news.feeds import FeedRegistry, FeedStatus
from rag.news.ingest import Indexer, IngestReport, ingest, ingest_records
from rag.news.sentence_pass import BACKGROUND_BATCH_ARTICLES, Foreground, fill_sentence_vectors
from rag.pipeline import Pipeline
from rag.settings import Settings
from rag.store import IndexStore, database
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
        self._access = Access(pipeline.settings)
        self._write_lock = threading.Lock()
        self._waiting_writers = threading.BoundedSemaphore(4)  # then 503, not a long queue
        self._last_reload_check = 0.0
        self._watcher: feeds.Watcher | None = None
        self._closing = threading.Event()
        self._filler: threading.Thread | None = None
        self._foreground = Foreground()  # the questions the background pass gives way to

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
            log.info("first run: building the index from %s", seeds)
            report = pipeline.ensure_index(seeds)
            if report:
                log.info("built the index: %s", report.summary())
        service = cls(pipeline, pipeline.open_store(check_model=False))
        service.warm_up()  # makes the retriever, which checks the index against the model
        return service

    def warm_up(self) -> None:
        """Load the model and the answerer, and embed once (what a first question would)."""
        self.answerer.retriever.embedder.embed_queries(["warm up"])
        _ = self.indexer, self._feedback

    @cached_property
    def retriever(self) -> Retriever:
        return self.pipeline.retriever(self.store)

    @cached_property
    def answerer(self) -> Answerer:
        return self.pipeline.answerer(retriever=self.retriever)  # one retriever, one cache

    @cached_property
    def indexer(self) -> Indexer:
        return self._indexer or self.pipeline.indexer(store=self.store)

    @property
    def settings(self) -> Settings:
        return self.pipeline.settings

    # ----- who ---------------------------------------------------------------------------

    def identify(self, via: str, **credentials) -> Caller:
        """The caller behind a front end's request (``Access.identify``: ``key``,
        ``session``, ``address``); ``AccessError`` when keys are required and none is valid."""
        return self._access.identify(via, **credentials)

    def session_for(self, key: str, address: str | None = None) -> str:
        """The web session token for a key typed into the login page."""
        return self._access.session_for(key, address)

    @property
    def keys_required(self) -> bool:
        return self._access.keys_required

    def admit(self, caller: Caller) -> None:
        """Count one request of ``caller`` that reads nothing else (``AccessError`` when
        over the rate limit)."""
        self._access.check_rate(caller)

    def require_writer(self, caller: Caller) -> None:
        """``AccessError`` (forbidden) unless ``caller`` may write; counts nothing (every
        writing method checks it again, and counts the request)."""
        self._access.require_writer(caller)

    # ----- reading (each holds one of the process's answer slots) --------------------------

    def ask(self, caller: Caller, question: str, **options) -> Answer:
        """``Answerer.answer`` for ``caller``: options are ``history``, ``k``, ``filters``,
        ``language``, ``as_of`` and ``on_token``."""
        with self._access.answering(caller, "answers"):
            return self._answer(question, **options)

    def _answer(self, question: str, **options) -> Answer:
        with self._foreground.question():
            self.pick_up_new_version()
            return self.answerer.answer(question, **options)

    def ask_streaming(self, caller: Caller, question: str, **options) -> Iterator[str | Answer]:
        """The answer's tokens as they are written, then the ``Answer`` itself.

        The door is passed (``AccessError``) and the answer started before this returns,
        so a refusal comes before any token. Errors of the answerer are raised by the
        iterator, after the tokens. The answer slot is given back when the answer is done,
        or when the iterator is closed (a stopped web answer, a client gone).
        """
        release = self._access.take_answer_slot(caller, "answers")
        tokens: queue.Queue = queue.Queue()
        outcome: dict = {}

        def work():
            try:
                outcome["answer"] = self._answer(question, on_token=tokens.put, **options)
            except BaseException as err:  # handed to the consumer, which decides
                outcome["error"] = err
            finally:
                tokens.put(_DONE)
                release()

        try:
            threading.Thread(target=work, daemon=True, name="answer").start()
        except BaseException:
            release()
            raise
        return _streamed(tokens, outcome, release)

    def search(self, caller: Caller, query: str, **options) -> SearchResult:
        """``Retriever.search`` for ``caller``: options are ``k``, ``filters``, ``as_of``."""
        with self._access.answering(caller, "searches"), self._foreground.question():
            self.pick_up_new_version()
            return self.retriever.search(query, **options)

    def article(self, caller: Caller, article_id: str) -> Article:
        self._access.check_rate(caller)
        return self.store.article(article_id)

    def cited_articles(self, answer: Answer) -> dict[str, Article]:
        """The articles an answer already given cites or lists, by id (to show them beside
        it; one deleted since is left out). Counted with the answer, not again."""
        found = {}
        for citation in [*answer.citations, *answer.uncited]:
            try:
                found[citation.article_id] = self.store.article(citation.article_id)
            except RagError:
                continue
        return found

    def has_articles(self, filters: Filters | None) -> bool:
        """Whether any indexed article matches ``filters`` (a search there can find one)."""
        if filters is None:
            return True
        rows = self.store.filter_rows(filters.sources, filters.date_from, filters.date_to)
        return rows is None or len(rows) > 0

    @property
    def writable(self) -> bool:
        """Whether this process may write the index (not a read-only replica)."""
        return not self.store.read_only

    def folder_digest(self) -> str:
        """A stable secret-free name of the index folder (the same across restarts)."""
        return hashlib.sha256(str(self.store.folder.resolve()).encode()).hexdigest()[:32]

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

    # ----- writing (an admin key, or the local user; counted) --------------------------------

    def add_articles(
        self, caller: Caller, records: Iterable[Article | LoadFailure]
    ) -> IngestReport:
        """Index articles now (one writer at a time); failures are counted, never raised.

        Waits at most ``write_lock_timeout`` for another writer, then ``IndexBusyError``.
        """
        self._admit_writer(caller)
        return self._index(records)

    def _index(self, records: Iterable[Article | LoadFailure]) -> IngestReport:
        timeout = self.settings.write_lock_timeout
        with self._writing(), _writes_reported():
            return ingest_records(
                records, self.indexer, lock_timeout=timeout, snapshot_in_background=True
            )

    def add_records(self, caller: Caller, records: Iterable[dict], origin: str) -> IngestReport:
        """Index JSON-like records (title, content, url, source, date, author)."""
        return self.add_articles(caller, (
            documents.record_or_failure(record, f"{origin} #{number}")
            for number, record in enumerate(records, start=1)
        ))  # fmt: skip

    def add_file(self, caller: Caller, path: Path) -> IngestReport:
        """Index the articles of one file of any supported format."""
        return self.add_articles(caller, documents.load_file(Path(path)))

    def delete(self, caller: Caller, article_id: str) -> int:
        """Remove an article everywhere (replicas pick it up); the chunks removed."""
        self._admit_writer(caller)
        with self._writing(), _writes_reported():
            return self.store.delete_article(article_id, self.settings.write_lock_timeout)

    def ingest(
        self,
        caller: Caller,
        paths: Iterable[Path],
        *,
        on_progress: Callable[[int], None] | None = None,
        on_failure: Callable[[LoadFailure], None] | None = None,
        ray: tuple[str | None, int | None] | None = None,
        sentences: Callable[[int], Callable[[int], None] | None] | None = None,
    ) -> IngestReport:
        """Index files and folders in batches (``rag ingest``): waits for another writer as
        long as it takes, commits batch by batch, and saves the snapshots as it goes, so an
        interrupted ingest keeps what it committed. ``ray`` (address, actors) chunks and
        embeds as a Ray Data pipeline (``None`` address: a local Ray instance).

        Two passes: the articles are searchable once their chunks are embedded; then, with
        ``sentences`` (given how many articles lack them, it returns a progress callback),
        their sentences are embedded (``rag.news.sentence_pass``), resumably."""
        self._admit_writer(caller)
        if ray is None:
            report = ingest(paths, self.indexer, on_progress=on_progress,
                            on_failure=on_failure, sentences=False)  # fmt: skip
        else:
            from rag.news.ray_ingest import embedder_factory, ingest_with_ray

            address, actors = ray
            factory = embedder_factory(self.settings, self.pipeline.model_name())
            report = ingest_with_ray(paths, self.indexer, factory, address=address,
                                     actors=actors, on_progress=on_progress,
                                     on_failure=on_failure)  # fmt: skip
        if sentences is not None:
            fill_sentence_vectors(self.indexer, on_progress=sentences(self.lacking_sentences()))
        report.sentences_left = self.lacking_sentences()
        return report

    def lacking_sentences(self) -> int:
        """How many articles are searchable but lack their sentence vectors."""
        return self.store.count_lacking_sentence_vectors()

    def fill_sentences_in_background(self) -> threading.Thread | None:
        """A server's second pass: embed the sentences of the articles that lack them, a
        small batch at a time, giving way to the server's questions and writes; stops at
        ``close``."""
        if self.store.read_only or not self.lacking_sentences():
            return None

        def work():
            try:
                done = fill_sentence_vectors(
                    self.indexer,
                    batch_articles=BACKGROUND_BATCH_ARTICLES,
                    should_stop=self._closing.is_set,
                    lock_timeout=self.settings.write_lock_timeout,
                    before_batch=lambda: self._foreground.wait_quiet(self._closing.is_set),
                )
                log.info("sentence vectors made for %d articles", done)
            except Exception:  # a background pass must not take the server down
                log.exception("the sentence pass stopped; `rag ingest` can finish it")

        self._filler = threading.Thread(target=work, name="sentence-pass", daemon=True)
        self._filler.start()
        return self._filler

    def _admit_writer(self, caller: Caller) -> None:
        self.require_writer(caller)
        self.admit(caller)

    @contextmanager
    def _writing(self):
        """This process's writers, one at a time, none waiting longer than the timeout, and
        no more than a few waiting at all."""
        if not self._waiting_writers.acquire(blocking=False):
            raise AccessError("busy", "overloaded", "too many writes in progress; retry shortly", 1)
        try:
            if not self._write_lock.acquire(timeout=self.settings.write_lock_timeout):
                raise IndexBusyError("another write to the index is in progress; retry in a moment")
            try:
                yield
            finally:
                self._write_lock.release()
        finally:
            self._waiting_writers.release()

    def stats(self) -> dict:
        """What the index holds (open to every caller: it is the health check's too), and
        how many articles still lack sentence vectors."""
        self.pick_up_new_version()
        return {**self.store.stats(), "articles_without_sentence_vectors": self.lacking_sentences()}

    def sources(self, stats: dict | None = None) -> list[str]:
        """The named sources (of ``stats`` when already read)."""
        return [s for s in (stats or self.stats())["sources"] if s != "(none)"]

    # ----- feeds (an admin key, or the local user) -------------------------------------------

    @cached_property
    def _feeds(self) -> FeedRegistry:
        return FeedRegistry(self.store.folder, read_only=self.store.read_only)

    def follow_feed(self, caller: Caller, url: str, interval: int | None = None) -> FeedStatus:
        """Check that ``url`` is a feed this server may fetch, then follow it."""
        self._admit_writer(caller)
        return feeds.follow(self._feeds, url, self.settings, interval)

    def unfollow_feed(self, caller: Caller, url: str) -> None:
        self._admit_writer(caller)
        self._feeds.remove(url)

    def feed_statuses(self, caller: Caller) -> list[FeedStatus]:
        """The feeds followed (for a writer; a cheap read, not counted, like ``stats``)."""
        self.require_writer(caller)
        return self._feeds.list()

    def poll_feeds(self, caller: Caller, *, every: bool = False) -> list[FeedStatus]:
        """Fetch the feeds due (or ``every`` one) and index what is new, now."""
        self._admit_writer(caller)
        return feeds.poll(self._feeds, self._index, self.settings, every=every)

    def seconds_to_next_poll(self) -> float:
        return feeds.seconds_to_next(self._feeds, self.settings)

    def watch_feeds(self) -> int:
        """Poll the feeds in the background until ``close``; how many are followed (none
        on a read-only replica, which never writes)."""
        if not self.writable or self.settings.mmap_index:
            return 0
        if self._watcher is None:
            self._watcher = feeds.Watcher(self._feeds, self._index, self.settings)
            self._watcher.start()
        return len(self._feeds.list())

    # ----- saved conversations and ratings (counted, except where said) ----------------------

    @cached_property
    def _conversations(self) -> ConversationStore:
        return ConversationStore(self.store.folder, read_only=self.store.read_only)

    @cached_property
    def _feedback(self) -> FeedbackStore:
        return FeedbackStore(self.settings.index_dir)

    def conversations(self, caller: Caller, browser: str) -> list[tuple[str, str, str]]:
        """A browser's saved conversations: (id, title, updated). Not counted: the list is
        drawn again after each answer and save, which are."""
        return self._conversations.list(browser)

    def conversation(self, caller: Caller, browser: str, conversation_id: str) -> Conversation:
        self._access.check_rate(caller)
        return self._conversations.get(browser, conversation_id)

    def save_conversation(
        self, caller: Caller, browser: str, conversation_id: str, messages: list, answers: list,
        *, counted: bool = True,
    ) -> None:  # fmt: skip
        """Save a conversation; ``counted`` false for the save that belongs to an answer
        just given (already counted)."""
        if counted:
            self._access.check_rate(caller)
        self._conversations.save(browser, conversation_id, messages, answers)

    def forget_conversation(
        self, caller: Caller, browser: str, conversation_id: str
    ) -> Conversation:
        """Delete a saved conversation; it is returned, for ``restore_conversation``."""
        self._access.check_rate(caller)
        return self._conversations.delete(browser, conversation_id)

    def restore_conversation(self, caller: Caller, browser: str, deleted: Conversation) -> None:
        """Save a deleted conversation back, in its place in the list (an undo)."""
        self._access.check_rate(caller)
        self._conversations.save(browser, deleted.id, deleted.messages, deleted.answers,
                                 updated=deleted.updated)  # fmt: skip

    def rate(self, caller: Caller, answer: Answer, rating: int) -> int:
        """Store a reader's rating (1 or -1) of an answer, as given through ``caller.via``."""
        self._access.check_rate(caller)
        return self._feedback.record(answer, rating, channel=caller.via)

    def close(self) -> None:
        self._closing.set()
        if self._filler is not None:
            self._filler.join()  # its batch committed or not begun: never half written
        if self._watcher is not None:
            self._watcher.stop()
        for part in ("_feedback", "_feeds", "_conversations"):
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


def _streamed(tokens: queue.Queue, outcome: dict, release: Callable[[], None]):
    try:
        while (token := tokens.get()) is not _DONE:
            yield token
        if "error" in outcome:
            raise outcome["error"]
        yield outcome["answer"]
    finally:
        release()
