"""Past conversations of the web chat, kept per browser in the index folder's database.

A browser is known by a random id it keeps (no account is needed); its conversations are
listed newest first, reopened whole (the messages as shown and the answers behind them)
and deleted. The table comes with the first saved conversation, as the feeds' tables do:
a server whose chat is never used writes nothing.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from html import unescape
from pathlib import Path

from rag.errors import IndexWriteError, RagError
from rag.store.database import DATABASE, table_connection

MAX_CONVERSATIONS = 200  # per browser: the oldest beyond this are dropped
TITLE_CHARS = 80
_ID = re.compile(r"[0-9a-f]{32}")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY, browser TEXT NOT NULL, title TEXT NOT NULL,
    created TEXT NOT NULL, updated TEXT NOT NULL,
    messages TEXT NOT NULL,   -- JSON: the chat's messages as shown
    answers TEXT NOT NULL     -- JSON: one answer (or null, if stopped) per question
);
CREATE INDEX IF NOT EXISTS conversations_browser ON conversations(browser, updated);
"""


class ConversationError(RagError):
    """A conversation that cannot be read or saved, said plainly."""


@dataclass(frozen=True)
class Conversation:
    id: str
    title: str
    updated: str
    messages: list[dict]
    answers: list[dict | None]


class ConversationStore:
    """The conversations table of one index folder (thread-safe)."""

    def __init__(self, folder: Path, read_only: bool = False):
        self.path = Path(folder) / DATABASE
        self.read_only = read_only
        self._lock = threading.Lock()
        self._db = table_connection(self.path, read_only)

    def save(
        self, browser: str, conversation: str, messages: list[dict], answers: list[dict | None],
        *, updated: str | None = None,
    ) -> None:  # fmt: skip
        """Create or replace ``conversation`` of ``browser``; its title is its first question.
        ``updated`` (default: now) gives a deleted conversation back its place in the list."""
        _check_id(browser, "browser")
        _check_id(conversation, "conversation")
        if self.read_only:
            raise IndexWriteError("conversations cannot be saved: the index folder is read-only")
        title = next((a["question"] for a in answers if a), "") or _first_question(messages)
        now = updated or datetime.now(timezone.utc).isoformat(timespec="microseconds")  # order
        title = title[:TITLE_CHARS]
        row = (conversation, browser, title, now, now, _json(messages), _json(answers))
        try:
            with self._lock, self._db:
                self._db.executescript(_SCHEMA)
                owner = self._db.execute(
                    "SELECT browser FROM conversations WHERE id = ?", (conversation,)
                ).fetchone()
                if owner and owner[0] != browser:
                    raise ConversationError("that conversation belongs to another browser")
                self._db.execute(
                    "INSERT INTO conversations VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO "
                    "UPDATE SET title = excluded.title, updated = excluded.updated, "
                    "messages = excluded.messages, answers = excluded.answers",
                    row,
                )
                self._db.execute(
                    "DELETE FROM conversations WHERE browser = ? AND id NOT IN (SELECT id FROM "
                    "conversations WHERE browser = ? ORDER BY updated DESC, rowid DESC LIMIT ?)",
                    (browser, browser, MAX_CONVERSATIONS),
                )
        except sqlite3.Error as err:  # a full disk, say: the conversation on screen stays
            raise IndexWriteError(f"the conversation cannot be saved ({err})") from None

    def list(self, browser: str) -> list[tuple[str, str, str]]:
        """(id, title, updated) of the browser's conversations, newest first."""
        _check_id(browser, "browser")
        with self._lock:
            if not self._has_table():
                return []
            return self._db.execute(
                "SELECT id, title, updated FROM conversations WHERE browser = ? "
                "ORDER BY updated DESC, rowid DESC",
                (browser,),
            ).fetchall()

    def get(self, browser: str, conversation: str) -> Conversation:
        _check_id(browser, "browser")
        _check_id(conversation, "conversation")
        with self._lock:
            row = (
                self._has_table()
                and self._db.execute(
                    "SELECT id, title, updated, messages, answers FROM conversations "
                    "WHERE browser = ? AND id = ?",
                    (browser, conversation),
                ).fetchone()
            )
        if not row:
            raise ConversationError("no such conversation in this browser's history")
        return Conversation(row[0], row[1], row[2], json.loads(row[3]), json.loads(row[4]))

    def delete(self, browser: str, conversation: str) -> Conversation:
        """Delete ``conversation`` of ``browser``; it is returned, to be saved back (an undo)."""
        if self.read_only:
            raise IndexWriteError("conversations cannot be deleted: the index folder is read-only")
        deleted = self.get(browser, conversation)
        with self._lock, self._db:
            self._db.execute(
                "DELETE FROM conversations WHERE browser = ? AND id = ?", (browser, conversation)
            )
        return deleted

    def _has_table(self) -> bool:
        found = self._db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'conversations'"
        ).fetchone()
        return found is not None

    def close(self) -> None:
        self._db.close()


def _check_id(value: str, what: str) -> None:
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise ConversationError(f"not a {what} id: expected 32 hexadecimal characters")


def _json(value) -> str:
    return json.dumps(value, ensure_ascii=False)


def _first_question(messages: list) -> str:
    """The first user message's text, as typed (the chat shows it escaped); the content of
    a message sent through Gradio's API is a list of parts."""
    for message in messages:
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, list):
                parts = [p.get("text") for p in content if isinstance(p, dict)]
                content = " ".join(p for p in parts if isinstance(p, str))
            return unescape(content) if isinstance(content, str) else ""
    return ""
