"""Damaged files named and repaired; backups taken while a server writes, and restored.

docs/security.md lists each case. The index is 40 real SaudiNewsNet articles.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from tests.conftest import SEEDS, news_records
from tests.live_server import ADMIN_KEY, start_server

QUERY = "الحوثيين في اليمن"


@pytest.fixture
def news_index(tmp_path, news_pipeline) -> Path:
    """A copy of the news index this test may damage."""
    folder = tmp_path / "index"
    shutil.copytree(news_pipeline.settings.index_dir, folder)
    return folder


def _rag(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rag.cli", *args], capture_output=True,
                          text=True, timeout=timeout)  # fmt: skip


def _search(folder: Path) -> list[str]:
    done = _rag("search", QUERY, "--index-dir", str(folder), "--json", "-k", "5")
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    return [hit["chunk"]["id"] for hit in json.loads(done.stdout)["hits"]]


def _stamp(folder: Path) -> dict:
    return json.loads((folder / "derived.json").read_text(encoding="utf-8"))


# ----- derived files: checked by checksum and bounds, rebuilt from SQLite -----------------


@pytest.mark.parametrize("stamp_has_checksums", [True, False], ids=["checksums", "earlier-stamp"])
def test_garbled_lexical_postings_are_rebuilt_not_an_index_error(news_index, stamp_has_checksums):
    before = _search(news_index)
    postings = news_index / "lexical" / "docs.npy"
    docs = np.load(postings)
    np.save(postings, np.random.default_rng(7).integers(-(2**31), 2**31 - 1, len(docs), np.int32))
    if not stamp_has_checksums:  # as an earlier version stamped it: only bounds can tell
        stamp = _stamp(news_index)
        stamp.pop("lexical_checksums")
        (news_index / "derived.json").write_text(json.dumps(stamp), encoding="utf-8")
    checked = _rag("check", "--index-dir", str(news_index))
    assert checked.returncode == 1
    assert "lexical/ is damaged" in checked.stdout and "rebuilt from SQLite" in checked.stdout
    assert _search(news_index) == before
    assert _rag("check", "--index-dir", str(news_index)).returncode == 0  # rebuilt and saved


def test_vectors_garbled_behind_a_sound_header_are_caught_by_their_checksum(news_index):
    before = _search(news_index)
    path = news_index / "vectors.faiss"
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 4096] = bytes(4096)  # faiss reads it, with the same count
    path.write_bytes(bytes(data))
    checked = _rag("check", "--index-dir", str(news_index))
    assert checked.returncode == 1 and "vectors.faiss is damaged" in checked.stdout
    assert _search(news_index) == before
    assert _stamp(news_index)["vectors_checksum"] is not None


# ----- a damaged database: one line that says what to do ----------------------------------


def _truncate_database(folder: Path) -> None:
    path = folder / "index.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    os.truncate(path, path.stat().st_size // 3)


@pytest.mark.parametrize("command", [
    ["stats"], ["search", QUERY], ["ask", QUERY], ["delete", "x"], ["backup", "{tmp}/copy"],
    ["serve", "--port", "1"],
], ids=lambda c: c[0])  # fmt: skip
def test_a_truncated_database_is_one_line_from_every_command(news_index, tmp_path, command):
    _truncate_database(news_index)
    args = [part.replace("{tmp}", str(tmp_path)) for part in command]
    done = _rag(*args, "--index-dir", str(news_index))
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert "index.sqlite is damaged" in lines[0] and "rag restore" in lines[0]


def test_check_names_a_damaged_database(news_index):
    _truncate_database(news_index)
    checked = _rag("check", "--index-dir", str(news_index), "--json")
    assert checked.returncode == 1
    report = json.loads(checked.stdout)
    assert not report["sound"]
    assert any("index.sqlite is damaged" in p for p in report["problems"])


def test_damage_found_while_serving_is_a_503_with_one_line(news_index, caplog):
    """The API's own error handlers, over a real SQLite file damaged past its first pages."""
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from rag.api import install_error_handlers

    path = news_index / "index.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page = db.execute("PRAGMA page_size").fetchone()[0]
        root = db.execute("SELECT rootpage FROM sqlite_master WHERE name = 'articles'").fetchone()[
            0
        ]
    with open(path, "r+b") as stream:
        stream.seek((root - 1) * page)
        stream.write(b"\xff" * page)
    app = FastAPI()
    install_error_handlers(app, news_index)

    @app.get("/count")
    def count():
        with sqlite3.connect(path) as db:
            return db.execute("SELECT SUM(LENGTH(text)) FROM articles").fetchone()[0]

    response = TestClient(app).get("/count")
    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "index_damaged" and "rag restore" in error["message"]
    assert str(news_index) not in error["message"]
    assert not any(record.exc_info for record in caplog.records)  # one line, no traceback


# ----- backups while a server writes; kill -9 during one; restore -------------------------


def _article_ids(folder: Path) -> set[str]:
    with sqlite3.connect(f"file:{folder / 'index.sqlite'}?mode=ro", uri=True) as db:
        return {row[0] for row in db.execute("SELECT id FROM articles")}


def _pad_database(folder: Path, megabytes: int) -> None:
    """A large table, so that a backup takes long enough to be killed half-way."""
    with sqlite3.connect(folder / "index.sqlite") as db:
        db.execute("CREATE TABLE padding (blob BLOB)")
        db.executemany("INSERT INTO padding VALUES (?)",
                       ((os.urandom(1 << 20),) for _ in range(megabytes)))  # fmt: skip


def test_a_backup_killed_half_way_is_refused_and_a_whole_one_restores_everything(
    news_index, tmp_path
):
    _pad_database(news_index, 300)
    server = start_server(news_index, SEEDS, tmp_path / "server.log")
    acknowledged: list[str] = []
    stop = threading.Event()

    def write_articles():  # the server writes all along
        for number, record in enumerate(news_records(30, skip=40)):
            if stop.is_set():
                return
            response = httpx.post(f"{server.url}/v1/articles", json={
                "title": record["title"], "content": record["content"], "url": record["url"],
                "source": record["source"], "date": record["date_extracted"][:10],
            }, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=60)  # fmt: skip
            assert response.status_code == 201, (number, response.text)
            acknowledged.append(record["url"])

    writer = threading.Thread(target=write_articles)
    try:
        writer.start()
        killed = tmp_path / "killed"
        process = subprocess.Popen([sys.executable, "-m", "rag.cli", "backup", str(killed),
                                    "--index-dir", str(news_index)])  # fmt: skip
        partial = tmp_path / f".killed.partial-{process.pid}"
        deadline = time.monotonic() + 60
        while not (partial / "manifest.json").exists() and time.monotonic() < deadline:
            time.sleep(0.002)
        assert (partial / "manifest.json").exists(), "the backup never started copying"
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        assert not killed.exists()  # never renamed into place
        for half in (killed, partial):
            refused = _rag("restore", str(half), "--index-dir", str(tmp_path / "restored"))
            assert refused.returncode == 1 and "Traceback" not in refused.stderr
        assert "not a complete backup" in refused.stderr
        assert _rag("check", "--index-dir", str(news_index)).returncode == 0

        started_with = set(acknowledged)
        whole = tmp_path / "whole"
        done = _rag("backup", str(whole), "--index-dir", str(news_index))
        assert done.returncode == 0, done.stderr
    finally:
        stop.set()
        writer.join()
        server.stop()
    restored = tmp_path / "restored"
    done = _rag("restore", str(whole), "--index-dir", str(restored))
    assert done.returncode == 0, done.stderr
    urls = _urls(restored)
    assert started_with <= urls  # every article acknowledged before the backup is in it
    assert len(_article_ids(restored)) >= 40 + len(started_with)
    checked = _rag("check", "--index-dir", str(restored), "--json")
    assert checked.returncode == 0, checked.stdout
    assert _search(restored)


def _urls(folder: Path) -> set[str]:
    with sqlite3.connect(f"file:{folder / 'index.sqlite'}?mode=ro", uri=True) as db:
        return {row[0] for row in db.execute("SELECT url FROM articles")}


def test_restore_moves_the_index_it_replaces_aside(news_index, tmp_path):
    backup = tmp_path / "backup"
    assert _rag("backup", str(backup), "--index-dir", str(news_index)).returncode == 0
    other = tmp_path / "other"
    shutil.copytree(SEEDS, tmp_path / "seed-files")
    assert _rag("ingest", str(tmp_path / "seed-files"), "--index-dir", str(other),
                "--no-progress").returncode == 0  # fmt: skip
    seed_ids = _article_ids(other)
    done = _rag("restore", str(backup), "--index-dir", str(other))
    assert done.returncode == 0 and "kept in" in done.stdout
    aside = next(tmp_path.glob("other.before-restore-*"))
    assert _article_ids(aside) == seed_ids  # nothing lost
    assert _article_ids(other) == _article_ids(news_index)


def test_backup_refuses_a_folder_that_is_not_empty(news_index, tmp_path):
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "keep.txt").write_text("mine", encoding="utf-8")
    done = _rag("backup", str(dest), "--index-dir", str(news_index))
    assert done.returncode == 1 and "not empty" in done.stderr
    assert (dest / "keep.txt").read_text(encoding="utf-8") == "mine"
