"""Following news feeds: the feed registry of an index, and one poll of the feeds due.

Feeds live in the index database (tables ``feeds`` and ``feed_items``). A poll fetches each
feed due (conditional GET), reads its items (``rag.news.feed_formats``), fetches the page of
every item not seen before or changed since and extracts its text with trafilatura,
falling back to the feed's own text, and indexes them through the one write path every
front end uses. An item is marked seen only after its article is committed, so a poll
killed at any moment loses nothing, and one repeated stores nothing twice (articles are
keyed by URL and content). One failing feed never stops the others: it gets a status, an
error and a longer wait (doubling up to a day).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit

from rag.errors import DocumentError, IndexBusyError, IndexWriteError, RagError
from rag.news.documents import article_from_html, make_article
from rag.news.feed_formats import FeedFormatError, FeedItem, parse_feed
from rag.news.fetching import Fetcher, FetchError, Limits
from rag.news.ingest import IngestReport
from rag.settings import Settings
from rag.store.database import DATABASE, table_connection
from rag.types import Article

log = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 24 * 3600

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feeds (
    url TEXT PRIMARY KEY,
    title TEXT NOT NULL DEFAULT '', kind TEXT NOT NULL DEFAULT '',
    interval INTEGER NOT NULL, added_at TEXT NOT NULL,
    etag TEXT NOT NULL DEFAULT '', last_modified TEXT NOT NULL DEFAULT '',
    last_fetch TEXT NOT NULL DEFAULT '', status TEXT NOT NULL DEFAULT 'not fetched yet',
    new INTEGER NOT NULL DEFAULT 0, updated INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0, last_error TEXT NOT NULL DEFAULT '',
    errors_in_row INTEGER NOT NULL DEFAULT 0, next_fetch REAL NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS feed_items (
    feed_url TEXT NOT NULL, guid TEXT NOT NULL, url TEXT NOT NULL, updated TEXT NOT NULL,
    article_id TEXT NOT NULL, seen_at TEXT NOT NULL,
    PRIMARY KEY (feed_url, guid)
);
"""


class FeedError(RagError):
    """A feed that cannot be added or removed, with the reason; ``kind`` is ``unusable``
    (not a feed, or not fetched), ``exists`` or ``not_found``."""

    def __init__(self, message: str, kind: str = "unusable", code: str = "feed_unusable"):
        super().__init__(message)
        self.kind, self.code = kind, code


@dataclass
class FeedStatus:
    """A feed and how its last fetch went (``rag feeds list``, ``/v1/feeds``)."""

    url: str
    title: str
    kind: str
    interval: int
    added_at: str
    last_fetch: str
    status: str  # "not fetched yet", "ok", "not modified", "failed"
    new: int
    updated: int
    failed: int
    last_error: str
    next_fetch: str

    def as_dict(self) -> dict:
        return asdict(self)


_STATUS_COLUMNS = (
    "url, title, kind, interval, added_at, last_fetch, status, new, updated, failed, "
    "last_error, next_fetch"
)


class FeedRegistry:
    """The feeds of one index folder (thread-safe; its own connection to the database)."""

    def __init__(self, folder: Path, read_only: bool = False):
        self.path = Path(folder) / DATABASE
        self._lock = threading.Lock()
        self.read_only = read_only
        # the tables come with the first write: a server that never writes them writes nothing
        self._db = table_connection(self.path, read_only)

    def close(self) -> None:
        self._db.close()

    def add(self, url: str, title: str, kind: str, interval: int) -> FeedStatus:
        self._check_writable()
        with self._lock:
            try:
                self._db.executescript(_SCHEMA)
            except sqlite3.Error as err:  # a full disk, say
                raise IndexWriteError(f"the feed cannot be saved in the index ({err})") from None
        with self._lock, self._db:
            known = self._db.execute("SELECT 1 FROM feeds WHERE url = ?", (url,)).fetchone()
            if known:
                raise FeedError(f"{url} is already followed", "exists", "feed_exists")
            self._db.execute(
                "INSERT INTO feeds (url, title, kind, interval, added_at) VALUES (?, ?, ?, ?, ?)",
                (url, title, kind, interval, _now()),
            )
        return self.get(url)

    def remove(self, url: str) -> None:
        self._check_writable()
        if not self._has_feeds_table():
            raise FeedError(f"no feed {url} is followed", "not_found", "feed_not_found")
        with self._lock, self._db:
            if not self._db.execute("DELETE FROM feeds WHERE url = ?", (url,)).rowcount:
                raise FeedError(f"no feed {url} is followed", "not_found", "feed_not_found")
            self._db.execute("DELETE FROM feed_items WHERE feed_url = ?", (url,))

    def get(self, url: str) -> FeedStatus:
        if not self._has_feeds_table():
            raise FeedError(f"no feed {url} is followed", "not_found", "feed_not_found")
        with self._lock:
            row = self._db.execute(
                f"SELECT {_STATUS_COLUMNS} FROM feeds WHERE url = ?", (url,)
            ).fetchone()
        if row is None:
            raise FeedError(f"no feed {url} is followed", "not_found", "feed_not_found")
        return _status(row)

    def list(self) -> list[FeedStatus]:
        if not self._has_feeds_table():
            return []
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_STATUS_COLUMNS} FROM feeds ORDER BY added_at, url"
            ).fetchall()
        return [_status(row) for row in rows]

    def due(self, now: float, every: bool = False) -> list[tuple[str, str, str, int, int]]:
        """(url, etag, last_modified, interval, errors in a row) of the feeds to fetch."""
        if not self._has_feeds_table():
            return []
        with self._lock:
            return self._db.execute(
                "SELECT url, etag, last_modified, interval, errors_in_row FROM feeds "
                "WHERE ? OR next_fetch <= ? ORDER BY next_fetch",
                (every, now),
            ).fetchall()

    def next_due(self) -> float | None:
        if not self._has_feeds_table():
            return None
        with self._lock:
            return self._db.execute("SELECT MIN(next_fetch) FROM feeds").fetchone()[0]

    def known_items(self, feed_url: str) -> dict[str, str]:
        with self._lock:
            return dict(
                self._db.execute(
                    "SELECT guid, updated FROM feed_items WHERE feed_url = ?", (feed_url,)
                )
            )

    def mark_seen(self, feed_url: str, items: list[tuple[FeedItem, str]]) -> None:
        with self._lock, self._db:
            self._db.executemany(
                "INSERT INTO feed_items (feed_url, guid, url, updated, article_id, seen_at) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (feed_url, guid) DO UPDATE SET "
                "url = excluded.url, updated = excluded.updated, "
                "article_id = excluded.article_id, seen_at = excluded.seen_at",
                [(feed_url, i.guid, i.url, i.updated, aid, _now()) for i, aid in items],
            )

    def record(self, url: str, *, status: str, next_fetch: float, errors_in_row: int,
               new: int = 0, updated: int = 0, failed: int = 0, error: str = "",
               title: str | None = None, kind: str | None = None, etag: str | None = None,
               last_modified: str | None = None) -> None:  # fmt: skip
        """What a fetch of feed ``url`` found (the fields given; the others kept)."""
        values = {"status": status, "next_fetch": next_fetch, "errors_in_row": errors_in_row,
                  "new": new, "updated": updated, "failed": failed, "last_error": error,
                  "last_fetch": _now(), "title": title, "kind": kind, "etag": etag,
                  "last_modified": last_modified}  # fmt: skip
        values = {k: v for k, v in values.items() if v is not None}
        assignments = ", ".join(f"{name} = ?" for name in values)
        with self._lock, self._db:
            self._db.execute(
                f"UPDATE feeds SET {assignments} WHERE url = ?", [*values.values(), url]
            )

    def _has_feeds_table(self) -> bool:
        with self._lock:
            return bool(
                self._db.execute("SELECT 1 FROM sqlite_master WHERE name = 'feeds'").fetchone()
            )

    def _check_writable(self) -> None:
        if self.read_only:
            raise IndexWriteError("the index folder is read-only: feeds cannot be changed here")


def _status(row) -> FeedStatus:
    values = list(row)
    values[-1] = (
        datetime.fromtimestamp(values[-1], timezone.utc).isoformat(timespec="seconds")
        if values[-1]
        else "now"
    )
    return FeedStatus(*values)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def fetch_limits(settings: Settings) -> Limits:
    return Limits(
        timeout=settings.feeds_timeout,
        max_bytes=settings.feeds_max_bytes,
        allow_private=settings.feeds_allow_private,
    )


def check_feed(url: str, settings: Settings) -> tuple[str, str, int]:
    """Fetch and read ``url`` once: (title, kind, items). ``FeedError`` says what is wrong."""
    url = url.strip()
    with Fetcher(fetch_limits(settings)) as fetcher:
        try:
            parsed = parse_feed(fetcher.get(url).text())
        except (FetchError, FeedFormatError) as err:
            raise FeedError(f"{url} cannot be followed: {err}") from None
    return parsed.title, parsed.kind, len(parsed.items)


AddArticles = Callable[[list[Article]], IngestReport]


def poll(registry: FeedRegistry, add_articles: AddArticles, settings: Settings,
         *, every: bool = False, now: float | None = None) -> list[FeedStatus]:  # fmt: skip
    """Fetch the feeds due (or ``every`` feed) and index what is new or changed."""
    now = time.time() if now is None else now
    due = registry.due(now, every)
    if not due:
        return []
    with Fetcher(fetch_limits(settings)) as fetcher:
        for url, etag, last_modified, interval, errors in due:
            try:
                _poll_feed(registry, fetcher, add_articles, settings, url, etag, last_modified,
                           interval, now)  # fmt: skip
            except IndexBusyError as err:  # another writer: try again soon, no error counted
                _record_if_possible(registry, url, status="waiting", next_fetch=now + 30,
                                    errors_in_row=errors, error=str(err))  # fmt: skip
            except (FetchError, FeedFormatError, IndexWriteError) as err:
                wait = min(interval * 2 ** (errors + 1), MAX_BACKOFF_SECONDS)
                log.warning("feed %s failed: %s", url, err)
                _record_if_possible(registry, url, status="failed", next_fetch=now + wait,
                                    errors_in_row=errors + 1, error=str(err))  # fmt: skip
            except sqlite3.Error as err:  # the database refuses (a full disk): the next poll
                log.warning("feed %s not recorded: %s", url, err)
    return [registry.get(url) for url, *_ in due]


def _record_if_possible(registry: FeedRegistry, url: str, **status) -> None:
    """A feed's failure, if the database takes it (it may be what failed)."""
    try:
        registry.record(url, **status)
    except sqlite3.Error as err:
        log.warning("feed %s: its status cannot be saved (%s)", url, err)


def _poll_feed(registry, fetcher, add_articles, settings, url, etag, last_modified, interval,
               now) -> None:  # fmt: skip
    fetched = fetcher.get(url, etag, last_modified)
    if fetched.status == 304:
        registry.record(url, status="not modified", next_fetch=now + interval, errors_in_row=0)
        return
    parsed = parse_feed(fetched.text())
    known = registry.known_items(url)
    pending = [i for i in parsed.items if i.guid and known.get(i.guid) != i.updated]
    todo = pending[: settings.feeds_max_items]
    source = parsed.title or urlsplit(url).hostname or url
    articles, failures = [], []
    for item in todo:
        try:
            articles.append((item, article_for(item, fetcher, source, url)))
        except (FetchError, DocumentError) as err:
            failures.append(f"{item.url or item.guid}: {err}")
    report = add_articles([a for _, a in articles]) if articles else IngestReport()
    registry.mark_seen(url, [(item, article.id) for item, article in articles])
    # the feed's validators only once all of it is in: otherwise the next fetch would be
    # "not modified" and the items left over (or failed) would never be read again
    complete = len(pending) == len(todo) and not failures
    headers = fetched.headers if complete else {}
    registry.record(url, status="ok", next_fetch=now + interval, errors_in_row=0,
                    new=report.ingested, updated=report.updated,
                    failed=len(failures) + report.failed,
                    error="; ".join(failures[:3])[:500], title=parsed.title, kind=parsed.kind,
                    etag=headers.get("etag", ""),
                    last_modified=headers.get("last-modified", ""))  # fmt: skip


def article_for(item: FeedItem, fetcher: Fetcher, source: str, feed_url: str) -> Article:
    """The item's article: its page's main text (trafilatura), else the feed's own text."""
    page, why = None, ""
    if item.url:
        if fetcher.allowed_by_robots(item.url):
            try:
                page = article_from_html(fetcher.get(item.url).text(), item.url)
            except (FetchError, DocumentError) as err:
                why = str(err)
        else:
            why = "robots.txt does not allow fetching the page"
    if page is not None and len(page.text) >= len(item.content):
        text = page.text
    elif item.content:
        text = item.content
    else:
        raise DocumentError(f"{why or 'no page'}; the feed gives no text either")
    return make_article({
        "title": item.title or (page.title if page else ""),
        "content": text,
        "url": item.url or item.guid,
        "source": source,
        "date": item.date or (page.date if page else ""),
        "author": item.author or (page.author if page else ""),
    }, f"feed {feed_url}")  # fmt: skip


def follow(registry: FeedRegistry, url: str, settings: Settings,
           interval: int | None = None) -> FeedStatus:  # fmt: skip
    """Check that ``url`` is a feed that can be fetched, then add it."""
    interval = interval or settings.feeds_interval
    if interval < 10:
        raise FeedError(f"a feed's interval must be at least 10 seconds, got {interval}")
    title, kind, _ = check_feed(url, settings)
    return registry.add(url.strip(), title, kind, interval)


class Watcher:
    """Polls the feeds in a background thread until stopped (``rag serve`` with
    ``feeds_watch``); sleeps until the next feed is due, at most ``settings.feeds_tick``."""

    def __init__(self, registry: FeedRegistry, add_articles: AddArticles, settings: Settings):
        self.registry, self.add_articles, self.settings = registry, add_articles, settings
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="feeds", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                poll(self.registry, self.add_articles, self.settings)
            except Exception:  # noqa: BLE001 - the watcher outlives any one bad cycle
                log.exception("feed poll failed")
            self._stop.wait(seconds_to_next(self.registry, self.settings))


def seconds_to_next(registry: FeedRegistry, settings: Settings) -> float:
    due = registry.next_due()
    wait = settings.feeds_tick if due is None else due - time.time()
    return max(0.5, min(wait, settings.feeds_tick))
