"""The index database (SQLite, the source of truth) and the folder's write lock."""

from __future__ import annotations

import fcntl
import os
import sqlite3
import time
from pathlib import Path
from urllib.parse import quote

from rag.errors import IndexBusyError, IndexDamagedError

DATABASE = "index.sqlite"
LOCK = ".lock"

SCHEMA = """
CREATE TABLE IF NOT EXISTS articles (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL, text TEXT NOT NULL, url TEXT NOT NULL, source TEXT NOT NULL,
    date TEXT NOT NULL, author TEXT NOT NULL, origin TEXT NOT NULL,
    content_key TEXT NOT NULL, added_at TEXT NOT NULL DEFAULT (datetime('now'))
);
CREATE INDEX IF NOT EXISTS articles_content_key ON articles(content_key);
CREATE INDEX IF NOT EXISTS articles_source ON articles(source);
CREATE INDEX IF NOT EXISTS articles_date ON articles(date);
CREATE INDEX IF NOT EXISTS articles_url ON articles(url);
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
-- every chunk row deleted, in order: how a vector index loaded earlier catches up
CREATE TABLE IF NOT EXISTS deleted_rows (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, row INTEGER NOT NULL
);
CREATE TRIGGER IF NOT EXISTS chunks_deleted AFTER DELETE ON chunks BEGIN
    INSERT INTO deleted_rows (row) VALUES (old.row);
END;
-- each sentence's own passage vector (float16), made at ingest for the best-sentence stage
CREATE TABLE IF NOT EXISTS sentence_vectors (
    article_id TEXT NOT NULL, start INTEGER NOT NULL, vector BLOB NOT NULL,
    PRIMARY KEY (article_id, start)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


def is_damage(err: BaseException) -> bool:
    """Whether ``err`` says the database file itself is damaged ("database disk image is
    malformed", "file is not a database"), not that it is busy or unreachable."""
    return type(err) is sqlite3.DatabaseError


def damaged(path: Path, err: BaseException) -> IndexDamagedError:
    """One line naming the damaged database and what to do about it."""
    return IndexDamagedError(
        f"{path} is damaged ({err}); see what is left with `rag check`, bring back a copy "
        "with `rag restore BACKUP`, or rebuild the index from the articles' files with "
        "`rag ingest --rebuild`"
    )


def one_line(verdicts: list[str]) -> str:
    """SQLite's integrity verdicts (each may span lines) as one short line."""
    words = " ".join(" ".join(verdicts).split())
    return words if len(words) <= 200 else words[:200] + "..."


def connect(path: Path, read_only: bool) -> sqlite3.Connection:
    """The index database: read-write (WAL), or read-only when the folder cannot be written
    (``IndexDamagedError`` when it is not a sound SQLite database)."""
    try:
        return _connect(path, read_only)
    except sqlite3.DatabaseError as err:
        if is_damage(err):
            raise damaged(path, err) from None
        raise


def _connect(path: Path, read_only: bool) -> sqlite3.Connection:
    if read_only:
        return read_only_connection(path)
    db = sqlite3.connect(path, check_same_thread=False)
    # asking for WAL takes a lock even when the database is in WAL already: a second writer
    # opening it while the first ingests got "database is locked"; set it only when needed
    if db.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
        db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.executescript(SCHEMA)
    return db


def table_connection(path: Path, read_only: bool = False) -> sqlite3.Connection:
    """The connection of a module that keeps its own tables in a database of the folder
    (feeds, saved conversations, ratings): read-only in a folder nobody may write, else one
    that waits up to 10 s for another writer. The module makes its tables itself."""
    if read_only:
        return read_only_connection(path)
    return sqlite3.connect(path, check_same_thread=False, timeout=10)


def connect_reader(path: Path, read_only: bool) -> sqlite3.Connection:
    """A further connection that only reads (the schema is the main connection's job)."""
    if read_only:
        return read_only_connection(path)
    return sqlite3.connect(path, check_same_thread=False)


def reading(path: Path) -> sqlite3.Connection:
    """A connection that can only read (a backup's source, an integrity check); it reads
    what writers commit meanwhile, through the write-ahead log."""
    return sqlite3.connect(_read_only_uri(path), uri=True, check_same_thread=False)


def _read_only_uri(path: Path) -> str:
    return f"file:{quote(str(Path(path).resolve()))}?mode=ro"


def read_only_connection(path: Path) -> sqlite3.Connection:
    """A database in a folder nobody can write. Read-only mode reads a write-ahead log left
    beside it; with no log and no way to make its index file, it is opened as immutable."""
    uri = _read_only_uri(path)
    try:
        db = reading(path)
        db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        return db
    except sqlite3.OperationalError:
        return sqlite3.connect(uri + "&immutable=1", uri=True, check_same_thread=False)


def writable(folder: Path) -> bool:
    database = folder / DATABASE
    return os.access(folder, os.W_OK) and (not database.exists() or os.access(database, os.W_OK))


def generation(db: sqlite3.Connection) -> int:
    row = db.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
    return int(row[0]) if row else 0


def bump_generation(db: sqlite3.Connection) -> None:
    db.execute(
        "INSERT INTO meta (key, value) VALUES ('generation', '1') ON CONFLICT(key) "
        "DO UPDATE SET value = CAST(value AS INTEGER) + 1"
    )


def high_marks(db: sqlite3.Connection) -> tuple[int, int]:
    """The highest chunk row ever given and the last deletion's number: what a copy of the
    vectors has seen when it was made from the database at this moment."""
    row = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'chunks'").fetchone()
    deleted = db.execute("SELECT MAX(seq) FROM deleted_rows").fetchone()
    return (int(row[0]) if row else 0), int(deleted[0] or 0)


def lock_file(lock, timeout: float | None) -> None:
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
