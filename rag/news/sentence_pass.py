"""The second pass of an ingest: the vectors of the sentences of articles already searchable.

An article is stored, and found, once its chunks are embedded (``ingest_records(...,
sentences=False)``); the best-sentence stage then embeds its sentences at question time,
as it does for an index made by an earlier version. This pass embeds them ahead, batch by
batch, each batch committed on its own: stopped or killed at any moment, it keeps what it
committed, and the next run goes on with the articles still lacking them. ``rag ingest``
runs it after the chunks; ``rag serve`` runs it in the background.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rag.errors import IndexBusyError
from rag.news.ingest import Indexer

log = logging.getLogger(__name__)

BATCH_ARTICLES = 32  # articles a batch embeds and commits (~300 sentences)
BACKGROUND_BATCH_ARTICLES = 8  # in a server: a batch a question may meet lasts under a second


class Foreground:
    """The questions a server is answering, for its background pass to give way to.

    On two cores, a batch of sentences embedded while a question embeds its own hits'
    sentences (those of articles still without vectors) about doubles the question's wait
    (docs/benchmarks.md). So the pass waits, before each batch, until no question has been
    in progress for ``quiet`` seconds; but never longer than ``longest``, so that under
    constant questions it still goes on, and the questions get faster as it does.
    """

    def __init__(self, quiet: float = 0.25, longest: float = 5.0):
        self.quiet = quiet
        self.longest = longest
        self._in_progress = 0
        self._last_ended = float("-inf")
        self._changed = threading.Condition()

    @contextmanager
    def question(self) -> Iterator[None]:
        """Mark a question in progress for the length of a ``with`` block."""
        with self._changed:
            self._in_progress += 1
        try:
            yield
        finally:
            with self._changed:
                self._in_progress -= 1
                self._last_ended = time.monotonic()
                self._changed.notify_all()

    def wait_quiet(self, should_stop: Callable[[], bool] = lambda: False) -> None:
        """Return once questions have paused for ``quiet`` seconds, ``longest`` seconds have
        passed, or ``should_stop()``."""
        deadline = time.monotonic() + self.longest
        with self._changed:
            while not should_stop():
                now = time.monotonic()
                quiet_for = now - self._last_ended if self._in_progress == 0 else 0.0
                if quiet_for >= self.quiet or now >= deadline:
                    return
                self._changed.wait(timeout=min(self.quiet - quiet_for, deadline - now))


def fill_sentence_vectors(
    indexer: Indexer,
    *,
    batch_articles: int = BATCH_ARTICLES,
    on_progress: Callable[[int], None] | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    lock_timeout: float | None = None,
    before_batch: Callable[[], None] = lambda: None,
) -> int:
    """Embed and store the sentences of every article stored without them; the number of
    articles done. A batch whose write lock is not had in ``lock_timeout`` seconds waits
    for it again, its vectors kept (a server's own writes come first). ``before_batch``
    is called before each (a server's: ``Foreground.wait_quiet``)."""
    store, done, after = indexer.store, 0, ""
    while not should_stop():
        before_batch()
        if should_stop():
            return done
        lacking = store.lacking_sentence_vectors(after, batch_articles)
        if not lacking:
            return done
        vectors = indexer.sentence_vectors(store.article_chunks(list(lacking)))
        stored = _store(store, vectors, lacking, lock_timeout, should_stop)
        if stored is None:  # stopped while waiting for the lock
            return done
        done += stored
        after = max(lacking)  # an article that has no sentence is not met again
        if on_progress:
            on_progress(len(lacking))
    return done


def _store(store, vectors, lacking, lock_timeout, should_stop) -> int | None:
    """Write a batch under the write lock, waiting for it as long as it takes (``None``:
    stopped first)."""
    while not should_stop():
        try:
            with store.writer(lock_timeout):
                return store.add_sentence_vectors(vectors, lacking)
        except IndexBusyError:
            log.info("sentence vectors: the index is busy; the batch waits for it")
    return None
