"""``rag check``: is an index folder whole?

Three looks, from the source of truth out:

1. each SQLite database passes ``PRAGMA integrity_check``;
2. each derived file (the vector and lexical snapshots) matches the checksum and the bounds
   it was saved with (a damaged one is rebuilt from SQLite when the index is opened);
3. the index, opened as a server opens it, holds as many chunks in its vectors and in its
   lexical index as SQLite does.

Any problem makes the check fail; each is one line that says what to do.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

from rag.errors import IndexNotFoundError, RagError
from rag.store import database
from rag.store.backups import DATABASES
from rag.store.lexical import LexicalIndex
from rag.store.manifest import MANIFEST, read_json, verify_checksum
from rag.vectors.faiss_index import FILE_NAME as VECTORS


@dataclass
class CheckReport:
    folder: Path
    lines: list[str] = field(default_factory=list)  # what was looked at, and how it was
    problems: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def sound(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict:
        return {"index_dir": str(self.folder), "sound": self.sound, "counts": self.counts,
                "checked": self.lines, "problems": self.problems}  # fmt: skip


def check(folder: Path, open_store) -> CheckReport:
    """Check the index in ``folder``; ``open_store()`` opens it as a server does (repairing
    derived files) and returns the store."""
    folder = Path(folder)
    if not (folder / MANIFEST).exists():
        raise IndexNotFoundError(f"no index in {folder}")
    report = CheckReport(folder)
    databases_sound = all([_check_database(folder / name, report) for name in DATABASES
                           if (folder / name).exists()])  # fmt: skip
    _check_derived(folder, report)
    if databases_sound:
        _check_counts(open_store, report)
    return report


def _check_database(path: Path, report: CheckReport) -> bool:
    try:
        with closing(database.reading(path)) as db:
            verdicts = [row[0] for row in db.execute("PRAGMA integrity_check(20)")]
    except sqlite3.DatabaseError as err:
        verdicts = [str(err)]
    if verdicts == ["ok"]:
        report.lines.append(f"{path.name}: integrity ok")
        return True
    report.problems.append(str(database.damaged(path, database.one_line(verdicts))))
    return False


def _check_derived(folder: Path, report: CheckReport) -> None:
    stamp = read_json(folder / "derived.json")
    looks = [
        (VECTORS, lambda: verify_checksum(folder / VECTORS, stamp.get("vectors_checksum"))),
        ("lexical/", lambda: LexicalIndex.load(folder, stamp.get("lexical_checksums"))),
    ]
    for name, look in looks:
        if not (folder / name).exists():
            report.lines.append(f"{name}: not saved yet (built from SQLite on open)")
            continue
        try:
            look()
        except (OSError, ValueError) as err:
            report.problems.append(
                f"{name} is damaged ({str(err)[:200]}); it is rebuilt from SQLite when the "
                "index is opened (`rag check` again)"
            )
        else:
            checked = "checksum and bounds" if stamp.get("lexical_checksums") else "bounds"
            report.lines.append(f"{name}: {checked if name == 'lexical/' else 'checksum'} ok")


def _check_counts(open_store, report: CheckReport) -> None:
    try:
        store = open_store()
    except RagError as err:
        report.problems.append(str(err))
        return
    try:
        counts = store.counts()
    finally:
        store.close()
    report.counts = counts
    report.lines.append(", ".join(f"{name.replace('_', ' ')}: {n}" for name, n in counts.items()))
    for part in ("vectors", "lexical"):
        if counts[part] != counts["chunks"]:
            report.problems.append(
                f"the {part} index holds {counts[part]} chunks where SQLite holds "
                f"{counts['chunks']}; delete derived.json to have the snapshots rebuilt from "
                "SQLite when the index is next opened"
            )
