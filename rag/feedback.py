"""👍/👎 on answers, kept in SQLite beside the index, exportable as an evaluation dataset.

Every front end (web chat, Slack, API) records through ``FeedbackStore.record``; ``rag
feedback export`` writes the rows as JSONL in the format ``rag eval`` reads (``question``,
``answers``, ``gold_article``, ``lang``), with the rating and the answer that was given.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

from rag.errors import IndexWriteError
from rag.store.database import table_connection
from rag.types import Answer

log = logging.getLogger(__name__)

DATABASE = "feedback.sqlite3"
CHANNELS = ("web", "slack", "api")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY,
    created TEXT NOT NULL,
    channel TEXT NOT NULL,
    rating INTEGER NOT NULL CHECK (rating IN (-1, 1)),
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    citations TEXT NOT NULL,   -- JSON list of the answer's citations
    language TEXT NOT NULL,
    mode TEXT NOT NULL,
    comment TEXT NOT NULL DEFAULT ''
);
"""


@dataclass(frozen=True)
class FeedbackRow:
    id: int
    created: str
    channel: str
    rating: int
    question: str
    answer: str
    citations: list[dict]
    language: str
    mode: str
    comment: str

    def as_eval_record(self) -> dict:
        """One line of an evaluation dataset: a 👍 answer's quotes become the gold answers."""
        liked = self.rating > 0
        return {
            "question": self.question,
            "answers": [c["quote"] for c in self.citations] if liked else [],
            "gold_article": self.citations[0]["article_id"] if liked and self.citations else None,
            "answerable": True if liked else None,
            "lang": self.language,
            "feedback": {
                "rating": self.rating,
                "answer": self.answer,
                "mode": self.mode,
                "channel": self.channel,
                "created": self.created,
                "comment": self.comment,
            },
        }


class FeedbackStore:
    """The feedback table of one index folder (its own database file, WAL, thread-safe)."""

    def __init__(self, folder: Path):
        folder = Path(folder)
        self.path = folder / DATABASE
        self._lock = threading.Lock()
        try:
            folder.mkdir(parents=True, exist_ok=True)
            self._db = table_connection(self.path)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(_SCHEMA)
            self.writable = True
        except (OSError, sqlite3.Error) as err:  # a read-only folder: read what is there
            log.warning("feedback cannot be saved in %s (%s); ratings are off", folder, err)
            self._db = table_connection(self.path, read_only=True) if self.path.exists() else None
            self.writable = False

    def record(self, answer: Answer, rating: int, *, channel: str, comment: str = "") -> int:
        """Store a rating (+1 or -1) of ``answer``; the new row's id."""
        if rating not in (-1, 1):
            raise ValueError(f"rating must be 1 (👍) or -1 (👎), got {rating!r}")
        if channel not in CHANNELS:
            raise ValueError(f"channel must be one of {', '.join(CHANNELS)}, got {channel!r}")
        if not self.writable:
            raise IndexWriteError("feedback cannot be saved: the index folder is read-only")
        row = (
            datetime.now(timezone.utc).isoformat(timespec="seconds"),
            channel,
            rating,
            answer.question,
            answer.text,
            json.dumps([asdict(c) for c in answer.citations], ensure_ascii=False),
            answer.question_language,
            answer.mode,
            comment,
        )
        with self._lock, self._db:
            cursor = self._db.execute(
                "INSERT INTO feedback (created, channel, rating, question, answer, citations, "
                "language, mode, comment) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                row,
            )
        return int(cursor.lastrowid)

    def rows(self) -> Iterator[FeedbackRow]:
        if self._db is None:
            return
        with self._lock:
            fetched = self._db.execute(
                "SELECT id, created, channel, rating, question, answer, citations, language, "
                "mode, comment FROM feedback ORDER BY id"
            ).fetchall()
        for values in fetched:
            values = list(values)
            values[6] = json.loads(values[6])
            yield FeedbackRow(*values)

    def export(self, out, *, include_negative: bool = False) -> int:
        """Write rated answers as evaluation records, one JSON object a line; how many.

        👍 answers become questions whose gold answers are the quotes they cited; 👎 ones
        (no gold known) only with ``include_negative``, for review rather than scoring.
        """
        count = 0
        for row in self.rows():
            if row.rating < 0 and not include_negative:
                continue
            out.write(json.dumps(row.as_eval_record(), ensure_ascii=False) + "\n")
            count += 1
        return count

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
