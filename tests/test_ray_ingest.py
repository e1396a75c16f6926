"""Ingest as a Ray Data pipeline on a local Ray instance: the same index as a plain ingest,
and an embedding actor that dies mid-way is replaced without duplicating chunks."""

from __future__ import annotations

import gzip
import itertools
import json
import sqlite3
import subprocess
import sys

import numpy as np
import pytest

ray = pytest.importorskip("ray")

from rag.embeddings import load_embedder  # noqa: E402
from rag.news import ray_ingest  # noqa: E402
from rag.news.ingest import ingest  # noqa: E402
from rag.news.ray_ingest import ingest_with_ray  # noqa: E402
from rag.news.sentence_pass import fill_sentence_vectors  # noqa: E402
from tests.conftest import ROOT, SEED_FILE, SHARED_DATA, make_pipeline  # noqa: E402

NEWS = SHARED_DATA / "news" / "saudinewsnet-2015.jsonl.gz"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """The seed, 300 short SaudiNewsNet articles (one file) and one broken file."""
    folder = tmp_path_factory.mktemp("ray-corpus")
    with gzip.open(NEWS, "rt", encoding="utf-8") as lines:
        short = (json.loads(line) for line in lines)
        records = list(itertools.islice((r for r in short if len(r["content"]) < 700), 300))
    (folder / "news.jsonl").write_text(
        "\n".join(json.dumps(r, ensure_ascii=False) for r in records), encoding="utf-8"
    )
    (folder / "seed.txt").write_text(SEED_FILE.read_text(encoding="utf-8"), encoding="utf-8")
    (folder / "broken.json").write_text("{not json", encoding="utf-8")
    return folder


class DiesOnce:
    """An embedder factory whose first actor exits in the middle of its first batch; the
    others write down how many passages each process embedded."""

    def __init__(self, models_dir, marker, work_log):
        self.models_dir, self.marker, self.work_log = models_dir, marker, work_log

    def __call__(self):
        import os

        embedder = load_embedder("e5-small", models_dir=self.models_dir, threads=1)
        marker, work_log = self.marker, self.work_log
        original = embedder.embed_passages

        def embed_passages(texts):
            if not marker.exists():
                marker.write_text("died")
                os._exit(1)  # the actor's process dies, as on an OOM kill
            with work_log.open("a") as log:
                log.write(f"{os.getpid()} {len(texts)}\n")
            return original(texts)

        embedder.embed_passages = embed_passages
        return embedder


def rows(folder):
    db = sqlite3.connect(folder / "index.sqlite")
    found = db.execute('SELECT id, start, "end", sentences, tokens, vector FROM chunks').fetchall()
    db.close()
    return {r[0]: r[1:] for r in found}


def test_ray_builds_the_index_a_plain_ingest_builds_even_when_an_actor_dies(
    tmp_path, corpus, e5_embedder, models_dir, monkeypatch
):
    plain = make_pipeline(tmp_path / "plain", e5_embedder)
    expected = ingest([corpus], plain.indexer())

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    marker, work_log = tmp_path / "actor-died", tmp_path / "work.log"
    # the 300 short articles (~0.4 MB) fit in one 1 MiB block; smaller blocks show the spreading
    monkeypatch.setattr(ray_ingest, "BLOCK_BYTES", 16 * 1024)
    distributed = make_pipeline(tmp_path / "ray", e5_embedder)
    indexer = distributed.indexer()
    factory = DiesOnce(models_dir, marker, work_log)
    report = ingest_with_ray([corpus], indexer, factory, actors=2)
    # searchable once the actors embedded the chunks; the sentences are the second pass's
    assert indexer.store.count_lacking_sentence_vectors() == report.ingested
    assert fill_sentence_vectors(indexer) == report.ingested
    indexer.store.close()

    assert marker.exists()  # an actor did die mid-way
    embedded = {}
    for line in work_log.read_text().splitlines():
        pid, count = map(int, line.split())
        embedded[pid] = embedded.get(pid, 0) + count
    # the one large file was spread over the actors, not left to one of them
    assert len(embedded) >= 2 and max(embedded.values()) < 0.8 * sum(embedded.values())
    counts = ("ingested", "updated", "unchanged", "skipped", "failed", "chunks")
    assert {c: getattr(report, c) for c in counts} == {c: getattr(expected, c) for c in counts}
    assert report.ingested > 200 and report.skipped > 0  # SaudiNewsNet repeats some stories
    assert [f.reason for f in report.failures] == [f.reason for f in expected.failures]
    assert any("broken.json" in f.origin for f in report.failures)
    plain_rows, ray_rows = rows(tmp_path / "plain"), rows(tmp_path / "ray")
    assert len(ray_rows) == report.chunks  # no chunk twice
    assert ray_rows.keys() == plain_rows.keys()  # the same chunk ids
    cosines = []
    for chunk_id, (start, end, sentences, tokens, vector) in ray_rows.items():
        assert (start, end, sentences, tokens) == plain_rows[chunk_id][:4]
        a = np.frombuffer(vector, dtype=np.float32)
        b = np.frombuffer(plain_rows[chunk_id][4], dtype=np.float32)
        cosines.append(float(a @ b / np.linalg.norm(a) / np.linalg.norm(b)))
    assert min(cosines) > 0.9999
    plain_sentences, ray_sentences = (
        sentence_rows(tmp_path / "plain"),
        sentence_rows(tmp_path / "ray"),
    )
    assert ray_sentences.keys() == plain_sentences.keys() and len(ray_sentences) > report.chunks
    assert min(float(v @ plain_sentences[k]) for k, v in ray_sentences.items()) > 0.999


def sentence_rows(folder):
    db = sqlite3.connect(folder / "index.sqlite")
    found = db.execute("SELECT article_id, start, vector FROM sentence_vectors").fetchall()
    db.close()
    return {(a, s): np.frombuffer(v, dtype=np.float16).astype(np.float32) for a, s, v in found}


def test_rag_ingest_ray_on_an_indexed_folder_embeds_nothing(tmp_path, corpus, e5_embedder):
    folder = tmp_path / "index"
    first = ingest([corpus], make_pipeline(folder, e5_embedder).indexer())
    done = subprocess.run(
        [sys.executable, "-m", "rag.cli", "ingest", str(corpus), "--ray", "--ray-actors", "1",
         "--index-dir", str(folder), "--json"],
        capture_output=True, text=True, cwd=ROOT, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert (report["ingested"], report["updated"], report["chunks"]) == (0, 0, 0)
    assert report["unchanged"] == first.ingested and report["failed"] == first.failed
    assert "Traceback" not in done.stderr
