"""The chat's own search and answer over HTTP, as users wait on them: ``rag serve`` on an
index, 200 distinct questions through /v1/search (best sentences and hit selection, as the
chat runs it) and /v1/ask (extractive), one at a time, then 16 clients asking at once.

    python benchmarks/chat_speed.py --index-dir <index> --out docs/benchmarks/chat-speed.json

Questions: the 120 news-dev questions and the first 80 Arabic XQuAD-dev questions
(``search_while_writing.questions``), after 200 English XQuAD-dev questions not timed (a
server in use has its index in the page cache). Reports p50/p95 of each endpoint as the client saw
it, the median of each search stage as the server timed it, and for the concurrent phase
the answers per second and every status seen.

``--placeholder-sentences`` first gives every article stored without sentence vectors
(an index built by an earlier version, or ``write_cost.py``'s placeholder indexes) random
ones: the search then does the same work as on a fresh index, but its answers mean nothing;
use it for timing only.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import sys
import time
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import DATA, emit, squad_articles_and_questions  # noqa: E402
from load import drive  # noqa: E402
from search_while_writing import questions  # noqa: E402

from rag.store.database import SCHEMA  # noqa: E402
from tests.live_server import READ_KEY, start_server  # noqa: E402


def warm_up_questions() -> list[str]:
    """200 questions other than those timed: XQuAD-dev's English ones."""
    _, english = squad_articles_and_questions(DATA / "qa/xquad-dev.en.json", "en")
    return [q.text for q in english[:200]]


def percentiles(seconds: list[float]) -> dict:
    seconds = sorted(seconds)
    return {
        "requests": len(seconds),
        "p50_ms": round(1000 * statistics.median(seconds), 1),
        "p95_ms": round(1000 * seconds[int(0.95 * len(seconds))], 1),
    }


def one_by_one(http: httpx.Client, path: str, asked: list[str]) -> tuple[dict, dict]:
    seconds, stages = [], {}
    for question in asked:
        body = {"query": question, "k": 5} if path == "/v1/search" else {"question": question}
        started = time.perf_counter()
        response = http.post(path, json=body)
        seconds.append(time.perf_counter() - started)
        response.raise_for_status()
        for stage, value in response.json().get("timings", {}).items():
            stages.setdefault(stage, []).append(value)
    medians = {stage: round(1000 * statistics.median(v), 2) for stage, v in stages.items()}
    return percentiles(seconds), medians


def auth() -> dict:
    return {"Authorization": f"Bearer {READ_KEY}"}


def fill_placeholder_sentences(index_dir: Path) -> int:
    """Random unit vectors for the sentences of articles stored without any."""
    db = sqlite3.connect(index_dir / "index.sqlite")
    db.executescript(SCHEMA)
    dimension = np.frombuffer(db.execute("SELECT vector FROM chunks LIMIT 1").fetchone()[0],
                              dtype=np.float32).size  # fmt: skip
    rows = db.execute(
        "SELECT article_id, sentences FROM chunks WHERE article_id NOT IN "
        "(SELECT DISTINCT article_id FROM sentence_vectors)"
    ).fetchall()
    starts = {(aid, s) for aid, spans in rows for s, _ in json.loads(spans)}
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((len(starts), dimension)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    values = [(aid, s, v.astype(np.float16).tobytes())
              for (aid, s), v in zip(starts, vectors, strict=True)]  # fmt: skip
    with db:
        db.executemany(
            "INSERT INTO sentence_vectors (article_id, start, vector) VALUES (?, ?, ?)", values
        )
    db.close()
    return len(starts)


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--index-dir", type=Path, required=True)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--placeholder-sentences", action="store_true")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    results = {}
    if args.placeholder_sentences:
        results["placeholder_sentences"] = fill_placeholder_sentences(args.index_dir)
    asked = questions()
    log = Path("/tmp") / f"chat-speed-{args.index_dir.name}.log"
    server = start_server(args.index_dir, Path("seeds"), log, rate_limit_per_minute="1000000",
                          feeds_watch="false")  # fmt: skip
    try:
        with httpx.Client(base_url=server.url, headers=auth(), timeout=60) as http:
            ready = http.get("/readyz").json()
            results["index_chunks"] = ready["chunks"]
            # > 0: timed while `rag serve` makes the sentence vectors in the background
            pending = [ready["articles_without_sentence_vectors"]]
            for question in warm_up_questions():  # the page cache, as on a server in use
                http.post("/v1/search", json={"query": question, "k": 5}).raise_for_status()
            results["search"], results["search_stages_ms"] = one_by_one(http, "/v1/search", asked)
            results["ask"], results["ask_stages_ms"] = one_by_one(http, "/v1/ask", asked)
            results["concurrent_ask"] = drive(server.url, args.clients, args.seconds,
                                              mix=(("ask", 1.0),), questions=asked)  # fmt: skip
            pending.append(http.get("/readyz").json()["articles_without_sentence_vectors"])
            results["articles_without_sentence_vectors"] = {"start": pending[0],
                                                            "end": pending[1]}  # fmt: skip
    finally:
        server.stop()
    emit(results, args.out)


if __name__ == "__main__":
    main()
