"""Faults the server must survive: a full disk, a kill during ingest, two ingests at once.

(Language-model faults — hangs, 500s, garbage, a stream cut half-way — are in
tests/test_answers_generated.py: each gives the labelled extractive answer.)
"""

from __future__ import annotations

import json
import resource
import sqlite3
import subprocess
import sys
import threading
import time
import uuid

import httpx
import pytest

from rag.news.documents import article_id
from tests.conftest import SEEDS, make_pipeline
from tests.live_server import ADMIN_KEY, READ_KEY, start_server

pytestmark = pytest.mark.slow


def _auth(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


def _article(marker: str, sentences: int = 2) -> dict:
    body = " ".join(
        f"Sentence {n} about the harbour crane {marker} and its cargo." for n in range(sentences)
    )
    return {"title": f"Harbour crane {marker}", "content": body,
            "url": f"https://example.org/crane/{marker}", "source": "fault-wire"}  # fmt: skip


def _consistent(index_dir) -> None:
    """Every article has chunks, every chunk an article: nothing half-indexed."""
    with sqlite3.connect(index_dir / "index.sqlite") as db:
        orphans = db.execute(
            "SELECT COUNT(*) FROM chunks WHERE article_id NOT IN (SELECT id FROM articles)"
        ).fetchone()[0]
        empty = db.execute(
            "SELECT COUNT(*) FROM articles WHERE id NOT IN (SELECT article_id FROM chunks)"
        ).fetchone()[0]
    assert (orphans, empty) == (0, 0)


def test_a_full_disk_refuses_the_write_clearly_and_reading_goes_on(tmp_path, e5_embedder):
    from rag.news.ingest import ingest

    index_dir = tmp_path / "index"
    pipeline = make_pipeline(index_dir, e5_embedder)
    ingest([SEEDS], pipeline.indexer()).summary()
    pipeline.indexer().store.close()
    largest = max(p.stat().st_size for p in index_dir.rglob("*") if p.is_file())
    limit = largest + 16_000  # no file of the index may grow much: the disk is "full"

    def full_disk():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    server = start_server(index_dir, SEEDS, tmp_path / "server.log", preexec=full_disk)
    try:
        with httpx.Client(base_url=server.url, timeout=120) as http:
            before = http.get("/readyz").json()
            big = _article(uuid.uuid4().hex[:8], sentences=400)
            refused = http.post("/v1/articles", json=big, headers=_auth(ADMIN_KEY))
            assert refused.status_code == 503, refused.text
            error = refused.json()["error"]
            assert error["code"] == "index_unwritable" and "nothing was changed" in error["message"]
            assert http.get("/readyz").json() == before
            asked = http.post("/v1/ask", json={"question": "What did Araghchi say about enrichment?"},
                              headers=_auth(READ_KEY))  # fmt: skip
            assert asked.status_code == 200 and asked.json()["citations"]
    finally:
        server.stop()
    _consistent(index_dir)


def test_a_kill_during_api_ingest_keeps_every_acknowledged_article(tmp_path):
    index_dir = tmp_path / "index"
    log = tmp_path / "server.log"
    server = start_server(index_dir, SEEDS, log)
    acknowledged: list[dict] = []
    stop = threading.Event()

    def writer():
        with httpx.Client(base_url=server.url, timeout=60) as http:
            while not stop.is_set():
                article = _article(uuid.uuid4().hex[:8])
                try:
                    response = http.post("/v1/articles", json=article, headers=_auth(ADMIN_KEY))
                except httpx.HTTPError:
                    return  # the server is gone: this one was never acknowledged
                if response.status_code == 201:
                    acknowledged.append(article)

    thread = threading.Thread(target=writer)
    thread.start()
    deadline = time.monotonic() + 60
    while len(acknowledged) < 5 and time.monotonic() < deadline:
        time.sleep(0.1)
    server.process.kill()  # SIGKILL, mid-way through whatever it was doing
    server.process.wait()
    stop.set()
    thread.join()
    assert len(acknowledged) >= 5
    _consistent(index_dir)

    restarted = start_server(index_dir, SEEDS, tmp_path / "restarted.log")
    try:
        with httpx.Client(base_url=restarted.url, timeout=60) as http:
            ready = http.get("/readyz").json()
            assert ready["chunks"] == ready["vectors"]
            for article in acknowledged:
                identity = article_id(article["url"], article["content"])
                assert (
                    http.get(f"/v1/articles/{identity}", headers=_auth(READ_KEY)).status_code == 200
                )
                hits = http.post("/v1/search", json={"query": article["title"], "k": 3},
                                 headers=_auth(READ_KEY)).json()["hits"]  # fmt: skip
                assert identity in [h["chunk"]["article_id"] for h in hits]
    finally:
        restarted.stop()


def test_two_ingests_at_once_are_serialised_and_lose_nothing(tmp_path):
    folders = []
    for name in ("a", "b"):
        folder = tmp_path / name
        folder.mkdir()
        for n in range(12):
            marker = f"{name}{n}-{uuid.uuid4().hex[:6]}"
            (folder / f"{marker}.txt").write_text(
                f"Harbour crane {marker}\nThe crane {marker} lifted a container on Sunday.",
                encoding="utf-8",
            )
        folders.append(folder)
    index_dir = tmp_path / "index"
    runs = [
        subprocess.Popen([sys.executable, "-m", "rag.cli", "ingest", str(folder),
                          "--index-dir", str(index_dir)],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for folder in folders
    ]  # fmt: skip
    outputs = [run.communicate(timeout=600)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    assert all("ingested 12" in out for out in outputs), outputs
    stats = subprocess.run(
        [sys.executable, "-m", "rag.cli", "stats", "--index-dir", str(index_dir), "--json"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    import json

    data = json.loads(stats.stdout)
    assert data["articles"] == 24 and data["chunks"] == data["vectors"]
    _consistent(index_dir)


def test_a_hanging_language_model_still_answers_through_the_api(tmp_path):
    from tests.fake_llm import FakeLLM, Reply

    llm = FakeLLM().start()
    llm.reply = lambda body: Reply("never in time", delay=30)
    server = start_server(
        tmp_path / "index", SEEDS, tmp_path / "server.log",
        llm_model="openai/test-model", llm_api_base=llm.api_base, llm_api_key="sk-test",
        llm_timeout="1", llm_retries="0",
    )  # fmt: skip
    try:
        with httpx.Client(base_url=server.url, timeout=60, headers=_auth(READ_KEY)) as http:
            started = time.monotonic()
            answer = http.post(
                "/v1/ask", json={"question": "What did Araghchi say about enrichment?"}
            )
            assert time.monotonic() - started < 20
            body = answer.json()
            assert answer.status_code == 200 and body["mode"] == "extractive"
            assert any("language model failed" in note for note in body["notes"])
            assert body["citations"]
        assert "sk-test" not in server.log.read_text()
    finally:
        server.stop()
        llm.stop()


def test_a_read_only_replica_refuses_writes_and_keeps_answering(tmp_path, e5_embedder):
    from rag.news.ingest import ingest

    index_dir = tmp_path / "index"
    pipeline = make_pipeline(index_dir, e5_embedder)
    ingest([SEEDS], pipeline.indexer())
    server = start_server(index_dir, SEEDS, tmp_path / "server.log", mmap_index="true")
    try:
        with httpx.Client(base_url=server.url, timeout=60) as http:
            refused = http.post("/v1/articles", json=_article("ro"), headers=_auth(ADMIN_KEY))
            assert refused.status_code == 503
            assert refused.json()["error"]["code"] == "index_unwritable"
            assert "read-only" in refused.json()["error"]["message"]
            asked = http.post("/v1/ask", json={"question": "What did Araghchi say about enrichment?"},
                              headers=_auth(READ_KEY))  # fmt: skip
            assert asked.status_code == 200 and asked.json()["citations"]
    finally:
        server.stop()


def test_two_read_only_servers_pick_up_what_another_process_ingests(tmp_path, e5_embedder):
    """Stateless replicas: both memory-map one index; an ingest elsewhere reaches both."""
    from rag.news.ingest import ingest

    index_dir = tmp_path / "index"
    ingest([SEEDS], make_pipeline(index_dir, e5_embedder).indexer())
    servers = [
        start_server(
            index_dir, SEEDS, tmp_path / f"server-{n}.log", mmap_index="true", reload_seconds="0.5"
        )  # fmt: skip
        for n in range(2)
    ]
    try:
        article = tmp_path / "new.jsonl"
        article.write_text(json.dumps(_article("zeppelin")), encoding="utf-8")
        done = subprocess.run(
            [sys.executable, "-m", "rag.cli", "ingest", str(article), "--index-dir",
             str(index_dir), "--no-progress"],
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        for server in servers:
            deadline = time.monotonic() + 30
            while True:
                found = httpx.post(
                    f"{server.url}/v1/search", json={"query": "harbour crane zeppelin", "k": 1},
                    headers=_auth(READ_KEY), timeout=60,
                ).json()["hits"]  # fmt: skip
                if found and "zeppelin" in found[0]["chunk"]["text"]:
                    break
                assert time.monotonic() < deadline, f"{server.url} still serves the old index"
                time.sleep(0.5)
    finally:
        for server in servers:
            server.stop()
