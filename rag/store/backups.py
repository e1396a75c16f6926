"""Backups of an index folder, taken while a server runs, and bringing one back.

A backup holds what cannot be rebuilt: the manifest and the SQLite databases (articles,
chunks and their vectors, feeds, saved conversations, feedback), each copied with SQLite's
online backup API, which reads one consistent state while writers go on (WAL). The derived
files (the vector and lexical snapshots, a Milvus Lite file) are left out: they are rebuilt
from SQLite when the restored index is first opened.

A backup is written into a hidden staging folder and renamed into place once complete,
with ``backup.json`` (what it holds, each file's size and checksum) written last: a backup
killed half-way is never taken for a whole one, and ``restore`` refuses anything that does
not match its ``backup.json``. Restoring never deletes: the index it replaces is moved
aside, whole, to ``<folder>.before-restore-<time>``.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

from rag import feedback
from rag.errors import IndexNotFoundError, RagError
from rag.store import database
from rag.store.manifest import MANIFEST, checksum

BACKUP_MANIFEST = "backup.json"
FORMAT = 1
DATABASES = (database.DATABASE, feedback.DATABASE)
# everything an index folder may hold besides its own README: moved aside on restore
_INDEX_FILES = (MANIFEST, *DATABASES, *(f"{d}{s}" for d in DATABASES for s in ("-wal", "-shm")),
                "vectors.faiss", "derived.json", "lexical", "milvus.db")  # fmt: skip


class BackupError(RagError):
    """A backup that cannot be made or brought back, with the reason."""


@dataclass
class BackupReport:
    folder: Path
    files: dict[str, int]  # name -> bytes
    articles: int
    chunks: int
    seconds: float

    def summary(self) -> str:
        size = sum(self.files.values()) / 1e6
        return (
            f"backed up {self.articles} articles ({self.chunks} chunks, {size:.1f} MB) to "
            f"{self.folder} in {self.seconds:.1f} s; the vector and lexical snapshots are not "
            "copied: they are rebuilt from SQLite when a restored index is first opened"
        )


def backup(folder: Path, dest: Path) -> BackupReport:
    """Copy the index in ``folder`` to the new folder ``dest`` (see the module's note)."""
    folder, dest = Path(folder), Path(dest)
    if not (folder / MANIFEST).exists():
        raise IndexNotFoundError(f"no index in {folder}")
    if dest.exists() and any(dest.iterdir()):
        raise BackupError(f"{dest} exists and is not empty; name a new folder for the backup")
    started = time.monotonic()
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = dest.parent / f".{dest.name}.partial-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        shutil.copy2(folder / MANIFEST, staging / MANIFEST)
        for name in DATABASES:
            if (folder / name).exists():
                _copy_database(folder / name, staging / name)
        articles, chunks = _counts(staging / database.DATABASE)
        files = {p.name: p.stat().st_size for p in sorted(staging.iterdir())}
        _write_json(staging / BACKUP_MANIFEST, {
            "format": FORMAT, "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "articles": articles, "chunks": chunks,
            "files": {name: {"bytes": size, "crc32": checksum(staging / name)}
                      for name, size in files.items()},
        })  # fmt: skip
        if dest.exists():
            dest.rmdir()  # empty, checked above
        staging.rename(dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return BackupReport(dest, files, articles, chunks, time.monotonic() - started)


def _copy_database(source: Path, target: Path) -> None:
    """One consistent copy, in one step: a stepwise copy starts again whenever another
    connection writes, and might never end beside a busy server. A damaged database is
    refused: the copy would carry the damage."""
    try:
        with closing(database.reading(source)) as reader, closing(sqlite3.connect(target)) as copy:
            reader.backup(copy)
            copy.execute("PRAGMA journal_mode=DELETE")  # one file, no -wal beside it
            verdicts = [row[0] for row in copy.execute("PRAGMA quick_check(5)")]
    except sqlite3.DatabaseError as err:
        if not database.is_damage(err):
            raise
        verdicts = [str(err)]
    if verdicts != ["ok"]:
        raise database.damaged(source, database.one_line(verdicts))


def _counts(path: Path) -> tuple[int, int]:
    with closing(database.reading(path)) as db:
        articles = db.execute("SELECT COUNT(*) FROM articles").fetchone()[0]
        chunks = db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
    return articles, chunks


def verify_backup(source: Path) -> dict:
    """What ``backup.json`` in ``source`` says, once every file it names matches it."""
    source = Path(source)
    try:
        described = json.loads((source / BACKUP_MANIFEST).read_text(encoding="utf-8"))
        files = described["files"]
    except (OSError, ValueError, KeyError, TypeError):
        raise BackupError(f"{source} is not a complete backup (no readable {BACKUP_MANIFEST}; "
                          "a backup stopped half-way has none)") from None  # fmt: skip
    if described.get("format") != FORMAT:
        raise BackupError(f"{source} is a backup of format {described.get('format')!r}; "
                          f"this version reads format {FORMAT}")  # fmt: skip
    if MANIFEST not in files or database.DATABASE not in files:
        raise BackupError(f"{source} holds no index ({MANIFEST} and {database.DATABASE})")
    _verify_files(source, files)
    return described


def _verify_files(folder: Path, files: dict) -> None:
    for name, expected in files.items():
        path = folder / name
        if Path(name).name != name or not path.is_file():
            raise BackupError(f"{folder} is incomplete: {name} is missing")
        if path.stat().st_size != expected["bytes"] or checksum(path) != expected["crc32"]:
            raise BackupError(f"{folder} is damaged: {name} does not match its checksum")


@dataclass
class RestoreReport:
    folder: Path
    articles: int
    chunks: int
    moved_aside: Path | None

    def summary(self) -> str:
        kept = (f"; the index it replaced is kept in {self.moved_aside}"
                if self.moved_aside else "")  # fmt: skip
        return (f"restored {self.articles} articles ({self.chunks} chunks) into {self.folder}"
                f"{kept}; its snapshots are rebuilt when it is first opened")  # fmt: skip


def restore(source: Path, folder: Path) -> RestoreReport:
    """Bring the backup in ``source`` back as the index in ``folder``. Stop the servers on
    ``folder`` first: they hold the replaced files open and would go on serving them."""
    source, folder = Path(source), Path(folder)
    described = verify_backup(source)
    folder.mkdir(parents=True, exist_ok=True)
    staging = folder / f".restoring-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        for name in described["files"]:
            shutil.copy2(source / name, staging / name)
        _verify_files(staging, described["files"])  # the copy, as read back from this disk
        with _folder_lock(folder):
            moved_aside = _move_aside(folder)
            for name in described["files"]:
                os.replace(staging / name, folder / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return RestoreReport(folder, described["articles"], described["chunks"], moved_aside)


def _move_aside(folder: Path) -> Path | None:
    present = [folder / name for name in _INDEX_FILES if (folder / name).exists()]
    if not present:
        return None
    aside = folder.parent / f"{folder.name}.before-restore-{time.strftime('%Y%m%d-%H%M%S')}"
    aside.mkdir()
    for path in present:
        os.replace(path, aside / path.name)
    return aside


@contextmanager
def _folder_lock(folder: Path) -> Iterator[None]:
    """The folder's write lock, not waited for: a restore under a running ingest is refused."""
    with open(folder / database.LOCK, "w") as lock:
        database.lock_file(lock, timeout=0)
        yield


def _write_json(path: Path, data: dict) -> None:
    with open(path, "w", encoding="utf-8") as stream:
        json.dump(data, stream, indent=2)
        stream.flush()
        os.fsync(stream.fileno())
