"""The SQL of the index's own tables: articles, chunks, sentence_vectors, deleted_rows.

One function per statement (or group of statements that belong together), each taking the
connection to run on: ``IndexStore`` decides which connection and which lock; this module
only knows the tables (``rag.store.database`` creates them).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np

from rag.errors import RagError
from rag.types import Article, Chunk, Span
from rag.vectors import RowMeta


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


@contextmanager
def read_transaction(db: sqlite3.Connection):
    """Several reads that see one committed state (WAL gives each transaction a snapshot)."""
    db.execute("BEGIN")
    try:
        yield
    finally:
        db.execute("COMMIT")


def _marks(values: Sequence) -> str:
    return ", ".join("?" * len(values))


# ----- writing ---------------------------------------------------------------------------


def content_keys(db: sqlite3.Connection) -> dict[str, str]:
    return dict(db.execute("SELECT id, content_key FROM articles"))


def article_state(db: sqlite3.Connection, article_id: str, content_key: str) -> str:
    """``new``, ``unchanged``, ``changed`` (same id, new content) or ``duplicate``."""
    row = db.execute("SELECT content_key FROM articles WHERE id = ?", (article_id,)).fetchone()
    if row:
        return "unchanged" if row[0] == content_key else "changed"
    duplicate = db.execute(
        "SELECT 1 FROM articles WHERE content_key = ? LIMIT 1", (content_key,)
    ).fetchone()
    return "duplicate" if duplicate else "new"


def has_article(db: sqlite3.Connection, article_id: str) -> bool:
    return db.execute("SELECT 1 FROM articles WHERE id = ?", (article_id,)).fetchone() is not None


def delete_article(db: sqlite3.Connection, article_id: str) -> list[int]:
    """Delete an article, its chunks and sentence vectors; the chunk rows it had (a
    trigger logs them in deleted_rows)."""
    rows = [r for (r,) in db.execute("SELECT row FROM chunks WHERE article_id = ?", (article_id,))]
    db.execute("DELETE FROM chunks WHERE article_id = ?", (article_id,))
    db.execute("DELETE FROM sentence_vectors WHERE article_id = ?", (article_id,))
    db.execute("DELETE FROM articles WHERE id = ?", (article_id,))
    return rows


def insert(db: sqlite3.Connection, item: PreparedArticle, dimension: int) -> None:
    """An article, its chunks and its sentence vectors (checked against ``dimension``)."""
    _insert_article(db, item)
    _insert_chunks(db, item, dimension)
    _insert_sentence_vectors(db, item, dimension)


def _insert_article(db: sqlite3.Connection, item: PreparedArticle) -> None:
    a = item.article
    db.execute(
        "INSERT INTO articles (id, title, text, url, source, date, author, origin, content_key)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (a.id, a.title, a.text, a.url, a.source, a.date, a.author, a.origin, item.content_key),
    )


def _insert_chunks(db: sqlite3.Connection, item: PreparedArticle, dimension: int) -> None:
    if item.vectors.shape != (len(item.chunks), dimension):
        raise RagError(
            f"expected {len(item.chunks)} vectors of dimension {dimension}, "
            f"got {item.vectors.shape}"
        )
    db.executemany(
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
            for chunk, vector, tokens in zip(item.chunks, item.vectors, item.tokens, strict=True)
        ],
    )


def _insert_sentence_vectors(db: sqlite3.Connection, item: PreparedArticle, dimension: int):
    insert_sentence_vectors(db, item.article.id, item.sentence_vectors, dimension)


def insert_sentence_vectors(
    db: sqlite3.Connection, article_id: str, vectors: dict[int, np.ndarray], dimension: int
) -> None:
    """An article's sentence vectors, by the sentence's start (replacing any stored)."""
    for vector in vectors.values():
        if np.shape(vector) != (dimension,):
            raise RagError(
                f"expected a sentence vector of dimension {dimension}, got {np.shape(vector)}"
            )
    db.executemany(
        "INSERT OR REPLACE INTO sentence_vectors (article_id, start, vector) VALUES (?, ?, ?)",
        [
            (article_id, start, np.asarray(vector, dtype=np.float16).tobytes())
            for start, vector in vectors.items()
        ],
    )


def lacking_sentence_vectors(db: sqlite3.Connection, after: str, limit: int) -> dict[str, str]:
    """Up to ``limit`` articles (id after ``after``, in id order) stored without sentence
    vectors: searchable, their sentences to be embedded. By id, with their content key."""
    return dict(db.execute(
        "SELECT a.id, a.content_key FROM articles a WHERE a.id > ? AND NOT EXISTS "
        "(SELECT 1 FROM sentence_vectors s WHERE s.article_id = a.id) ORDER BY a.id LIMIT ?",
        (after, limit),
    ).fetchall())  # fmt: skip


def article_chunk_rows(db: sqlite3.Connection, article_ids: Sequence[str]) -> list[int]:
    """The chunk rows of ``article_ids``, in order."""
    sql = f"SELECT row FROM chunks WHERE article_id IN ({_marks(article_ids)}) ORDER BY row"
    return [r for (r,) in db.execute(sql, list(article_ids))] if article_ids else []


# ----- what the derived indexes are built and caught up from -------------------------------


def iter_vectors(
    db: sqlite3.Connection,
    dimension: int,
    batch: int = 50_000,
    after_row: int = 0,
    up_to: int | None = None,
) -> Iterator[tuple[np.ndarray, np.ndarray, list[RowMeta]]]:
    """(rows, vectors, metadata) of the chunks after ``after_row`` (and up to ``up_to``),
    in row order."""
    cursor = db.execute(
        "SELECT c.row, c.vector, a.id, a.source, a.date FROM chunks c "
        "JOIN articles a ON a.id = c.article_id WHERE c.row > ? AND c.row <= ? "
        "ORDER BY c.row",
        (after_row, up_to if up_to is not None else 2**62),
    )
    while rows := cursor.fetchmany(batch):
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        vectors = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32)
        meta = [RowMeta(*r[2:]) for r in rows]
        yield ids, vectors.reshape(len(rows), dimension), meta


def tokens(db: sqlite3.Connection, *, after_row: int = 0, up_to: int | None = None):
    """(row, tokens) of the chunks after ``after_row`` (and up to ``up_to``), in row order."""
    return db.execute(
        "SELECT row, tokens FROM chunks WHERE row > ? AND row <= ? ORDER BY row",
        (after_row, up_to if up_to is not None else 2**62),
    )


def deleted_since(db: sqlite3.Connection, seq: int) -> list[int]:
    """The chunk rows deleted after deletion ``seq``, in order."""
    return [r for (r,) in db.execute(
        "SELECT row FROM deleted_rows WHERE seq > ? ORDER BY seq", (seq,)
    )]  # fmt: skip


def chunk_rows(db: sqlite3.Connection) -> set[int]:
    return {r for (r,) in db.execute("SELECT row FROM chunks")}


def alive(db: sqlite3.Connection, rows: Sequence[int]) -> set[int]:
    """Which of ``rows`` still hold a chunk."""
    sql = f"SELECT row FROM chunks WHERE row IN ({_marks(rows)})"
    return {r for (r,) in db.execute(sql, list(rows))}


def words_between(db: sqlite3.Connection, after_row: int, up_to: int) -> set[str]:
    words: set[str] = set()
    for (text,) in db.execute(
        "SELECT tokens FROM chunks WHERE row > ? AND row <= ?", (after_row, up_to)
    ):
        words.update(text.split())
    return words


# ----- reading ---------------------------------------------------------------------------


def filter_rows(
    db: sqlite3.Connection,
    sources: Sequence[str] | None = None,
    date_from: str | None = None,
    date_to: str | None = None,
    exclude_articles: Sequence[str] = (),
) -> np.ndarray | None:
    """Chunk rows whose article matches the filters; ``None`` when there are no filters."""
    clauses, params = [], []
    if sources:
        clauses.append(f"a.source IN ({_marks(sources)})")
        params += list(sources)
    if date_from:
        clauses.append("a.date != '' AND a.date >= ?")
        params.append(date_from)
    if date_to:
        clauses.append("a.date != '' AND substr(a.date, 1, ?) <= ?")
        params += [len(date_to), date_to]
    if exclude_articles:
        clauses.append(f"a.id NOT IN ({_marks(exclude_articles)})")
        params += list(exclude_articles)
    if not clauses:
        return None
    sql = "SELECT c.row FROM chunks c JOIN articles a ON a.id = c.article_id WHERE " + (
        " AND ".join(clauses)
    )
    return np.fromiter((r for (r,) in db.execute(sql, params)), dtype=np.int64)


def chunks(db: sqlite3.Connection, rows: Sequence[int]) -> dict[int, Chunk]:
    """The chunks at ``rows`` (with their article's metadata), by row."""
    if not rows:
        return {}
    sql = (
        'SELECT c.row, c.id, c.article_id, c.ordinal, c.start, c."end", c.sentences, '
        'substr(a.text, c.start + 1, c."end" - c.start), a.title, a.source, a.date, a.url '
        f"FROM chunks c JOIN articles a ON a.id = c.article_id WHERE c.row IN ({_marks(rows)})"
    )
    found = {}
    for row, cid, aid, ordinal, start, end, sentences, text, *about in db.execute(sql, list(rows)):
        title, source, date, url = about
        found[row] = Chunk(
            id=cid, article_id=aid, ordinal=ordinal, text=text, start=start, end=end,
            sentences=tuple(Span(s, e) for s, e in json.loads(sentences)),
            title=title, source=source, date=date, url=url,
        )  # fmt: skip
    return found


def vectors(db: sqlite3.Connection, rows: Sequence[int]) -> dict[int, np.ndarray]:
    """The stored vector of each chunk at ``rows``, by row."""
    if not rows:
        return {}
    sql = f"SELECT row, vector FROM chunks WHERE row IN ({_marks(rows)})"
    return {row: np.frombuffer(blob, dtype=np.float32) for row, blob in db.execute(sql, list(rows))}


def sentence_vectors(
    db: sqlite3.Connection, article_ids: Sequence[str]
) -> dict[tuple[str, int], np.ndarray]:
    """The stored vectors of the sentences of ``article_ids``, by (article id, start).
    Articles stored without them (by an earlier version) have none."""
    if not article_ids:
        return {}
    sql = (
        "SELECT article_id, start, vector FROM sentence_vectors "
        f"WHERE article_id IN ({_marks(article_ids)})"
    )
    try:
        found = db.execute(sql, list(article_ids)).fetchall()
    except sqlite3.OperationalError:  # a read-only index from before the table
        return {}
    return {
        (aid, start): np.frombuffer(blob, dtype=np.float16).astype(np.float32)
        for aid, start, blob in found
    }


def article(db: sqlite3.Connection, article_id: str) -> Article | None:
    row = db.execute(
        "SELECT id, title, text, url, source, date, author, origin FROM articles WHERE id = ?",
        (article_id,),
    ).fetchone()
    return None if row is None else Article(*row)


def counts(db: sqlite3.Connection) -> dict[str, int]:
    """Articles, chunks, and the articles whose sentences lack vectors."""

    def one(sql: str) -> int:
        return db.execute(sql).fetchone()[0]

    return {
        "articles": one("SELECT COUNT(*) FROM articles"),
        "chunks": one("SELECT COUNT(*) FROM chunks"),
        "articles_without_sentence_vectors": count_lacking_sentence_vectors(db),
    }


def count_lacking_sentence_vectors(db: sqlite3.Connection) -> int:
    """How many articles are stored without sentence vectors (searchable, not yet embedded
    sentence by sentence)."""
    return db.execute(
        "SELECT COUNT(*) FROM articles a WHERE NOT EXISTS "
        "(SELECT 1 FROM sentence_vectors s WHERE s.article_id = a.id)"
    ).fetchone()[0]


def summary(db: sqlite3.Connection) -> dict:
    """What ``rag stats`` shows of the tables: counts, sources, months, first and last date."""
    sources = db.execute(
        "SELECT source, COUNT(*) FROM articles GROUP BY source ORDER BY COUNT(*) DESC"
    ).fetchall()
    months = db.execute(
        "SELECT substr(date, 1, 7), COUNT(*) FROM articles WHERE date != '' GROUP BY 1 ORDER BY 1"
    ).fetchall()
    first, last = db.execute("SELECT MIN(NULLIF(date, '')), MAX(date) FROM articles").fetchone()
    return {
        "articles": db.execute("SELECT COUNT(*) FROM articles").fetchone()[0],
        "chunks": db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0],
        "sources": {source or "(none)": n for source, n in sources},
        "months": dict(months),
        "first_date": first or "",
        "last_date": last or "",
    }


def lead_rows(db: sqlite3.Connection, date_from: str, date_to: str) -> list[int]:
    """The first chunk of every article dated from ``date_from`` to ``date_to`` (inclusive
    days), in date order: what a digest of those days reads."""
    return [r for (r,) in db.execute(
        "SELECT c.row FROM articles a JOIN chunks c ON c.article_id = a.id AND c.ordinal = 0 "
        "WHERE a.date >= ? AND a.date < ? ORDER BY a.date, c.row",
        (date_from, _day_after(date_to)),
    )]  # fmt: skip


# Dates are ISO ("2015-08-06 10:13:47"): comparing them as text finds a day's articles
# through the date index, where substr(date, 1, 10) would read every article.


def days_around(db: sqlite3.Connection, date_from: str, date_to: str) -> tuple[str, str]:
    """The nearest days with articles before ``date_from`` and after ``date_to`` ("" when
    there is none)."""
    before = db.execute(
        "SELECT MAX(date) FROM articles WHERE date != '' AND date < ?", (date_from,)
    ).fetchone()[0]
    after = db.execute(
        "SELECT MIN(date) FROM articles WHERE date >= ?", (_day_after(date_to),)
    ).fetchone()[0]
    return (before or "")[:10], (after or "")[:10]


def latest_day(db: sqlite3.Connection, up_to: str) -> str:
    """The newest day with articles up to ``up_to`` ("" when there is none)."""
    newest = db.execute(
        "SELECT MAX(date) FROM articles WHERE date != '' AND date < ?", (_day_after(up_to),)
    ).fetchone()[0]
    return (newest or "")[:10]


def _day_after(day: str) -> str:
    """The day after ``day`` (an ISO date, or the first ten characters of one)."""
    try:
        return (date.fromisoformat(day[:10]) + timedelta(days=1)).isoformat()
    except OverflowError:  # 9999-12-31: every later text sorts after its day
        return day[:10] + "~"
