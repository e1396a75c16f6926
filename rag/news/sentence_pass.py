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
from collections.abc import Callable

from rag.errors import IndexBusyError
from rag.news.ingest import Indexer

log = logging.getLogger(__name__)

BATCH_ARTICLES = 32  # articles a batch embeds and commits (~300 sentences)


def fill_sentence_vectors(
    indexer: Indexer,
    *,
    batch_articles: int = BATCH_ARTICLES,
    on_progress: Callable[[int], None] | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    lock_timeout: float | None = None,
) -> int:
    """Embed and store the sentences of every article stored without them; the number of
    articles done. A batch whose write lock is not had in ``lock_timeout`` seconds waits
    for it again, its vectors kept (a server's own writes come first)."""
    store, done, after = indexer.store, 0, ""
    while not should_stop():
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
