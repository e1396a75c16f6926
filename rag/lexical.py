"""The lexical index: SQLite FTS5 over the chunks' BM25 tokens, in the database itself.

Triggers keep it in the same transaction as the chunk rows it indexes, so a write costs
what it adds (no rebuild of the whole corpus) and a reader sees exactly what SQLite
committed. Ranking is FTS5's BM25 (k1 1.2, b 0.75) over our own tokens (normalised,
stemmed Arabic and English words, joined by spaces)."""

from __future__ import annotations

import logging
import sqlite3

import numpy as np

log = logging.getLogger(__name__)

# our tokens are \w+ runs: letters, digits and "_"; FTS5 only splits them at the spaces
_SCHEMA = """
CREATE VIRTUAL TABLE lexical USING fts5(
    tokens, content='chunks', content_rowid='row',
    tokenize="unicode61 remove_diacritics 0 tokenchars '_'"
);
CREATE VIRTUAL TABLE lexical_terms USING fts5vocab(lexical, 'row');
CREATE TRIGGER lexical_insert AFTER INSERT ON chunks BEGIN
    INSERT INTO lexical (rowid, tokens) VALUES (new.row, new.tokens);
END;
CREATE TRIGGER lexical_delete AFTER DELETE ON chunks BEGIN
    INSERT INTO lexical (lexical, rowid, tokens) VALUES ('delete', old.row, old.tokens);
END;
"""
_FILL = "INSERT INTO lexical (lexical) VALUES ('rebuild');"


def ensure(db: sqlite3.Connection) -> None:
    """Create the lexical index if this database has none yet (an index made by an earlier
    version), filled from the chunks it already holds."""
    if exists(db):
        return
    try:
        db.executescript(f"BEGIN IMMEDIATE; {_SCHEMA} {_FILL} COMMIT;")
    except sqlite3.OperationalError:
        db.rollback()
        if not exists(db):  # not a second process that made it first
            raise
        return
    chunks = db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
    if chunks:
        log.info("lexical index built from %d chunks", chunks)


def exists(db: sqlite3.Connection) -> bool:
    return bool(db.execute("SELECT 1 FROM sqlite_master WHERE name = 'lexical'").fetchone())


def search(
    db: sqlite3.Connection, tokens: list[str], n: int, allowed: np.ndarray | None = None
) -> list[tuple[int, float]]:
    """The ``n`` best chunk rows by BM25 over ``tokens`` (any of them), only ``allowed``
    rows if given; scores are positive, higher is better."""
    terms = list(dict.fromkeys(t for t in tokens if t))
    if not terms or n < 1 or (allowed is not None and not len(allowed)):
        return []
    query = " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)
    sql = "SELECT rowid, -bm25(lexical) FROM lexical WHERE lexical MATCH ?"
    params: list = [query]
    if allowed is not None:
        sql += " AND rowid IN (SELECT value FROM json_each(?))"
        params.append("[" + ",".join(map(str, np.asarray(allowed).tolist())) + "]")
    sql += " ORDER BY bm25(lexical) LIMIT ?"
    params.append(n)
    return [(int(row), float(score)) for row, score in db.execute(sql, params)]


def vocabulary(db: sqlite3.Connection) -> list[str]:
    """Every distinct token of the chunks indexed now."""
    return [term for (term,) in db.execute("SELECT term FROM lexical_terms")]
