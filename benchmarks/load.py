"""Load on the real server: concurrent clients mixing /v1/ask (extractive), /v1/search and
ingest, at several concurrency levels, then a soak that watches the server's memory.

    python benchmarks/load.py --index-dir runs/xquad-ar/index --levels 1 8 32 64 \
        --seconds 30 --soak-seconds 600 --out docs/benchmarks/load.json

Starts ``rag serve`` itself (a copy of the index in a temporary folder, so ingest does not
touch the original) and reads its RSS from /proc. Reports, per level: requests, throughput,
p50/p95/p99 latency of successful requests, and the count of each status (429/503 are the
server shedding load; any 500 or client-side error is a failure).
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import emit, rss_mb  # noqa: E402

from tests.live_server import ADMIN_KEY, READ_KEY, start_server  # noqa: E402

QUESTIONS = [
    "What did Araghchi say about enrichment?",
    "ماذا قال عراقجي عن التخصيب؟",
    "متى تعقد الجولة الثانية من المحادثات؟",
    "What did Khamenei send to Putin?",
    "ما هي أكبر مدينة في المنطقة؟",
    "Who won the election?",
]
MIX = (("ask", 0.6), ("search", 0.3), ("ingest", 0.1))


def one_request(http: httpx.Client, kind: str, rng: random.Random, questions=QUESTIONS) -> int:
    question = rng.choice(questions)
    if kind == "ask":
        return http.post("/v1/ask", json={"question": question}).status_code
    if kind == "search":
        return http.post("/v1/search", json={"query": question, "k": 5}).status_code
    marker = uuid.uuid4().hex[:10]
    article = {"title": f"Load test article {marker}",
               "content": f"Article {marker} was added by the load test. It has two sentences.",
               "source": "load-test"}  # fmt: skip
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    return http.post("/v1/articles", json=article, headers=headers).status_code


def drive(
    url: str, clients: int, seconds: float, seed: int = 0, mix=MIX, questions=QUESTIONS
) -> dict:
    """``clients`` threads, each sending requests back to back for ``seconds``."""
    records: list[tuple[str, int | str, float]] = []
    lock = threading.Lock()
    deadline = time.monotonic() + seconds
    kinds, weights = zip(*mix, strict=True)

    def client(number: int):
        rng = random.Random(seed * 1000 + number)
        headers = {"Authorization": f"Bearer {READ_KEY}"}
        with httpx.Client(base_url=url, timeout=60, headers=headers) as http:
            while time.monotonic() < deadline:
                kind = rng.choices(kinds, weights)[0]
                started = time.perf_counter()
                try:
                    status: int | str = one_request(http, kind, rng, questions)
                except httpx.HTTPError as err:
                    status = type(err).__name__
                with lock:
                    records.append((kind, status, time.perf_counter() - started))

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - began
    ok = sorted(t * 1000 for _, s, t in records if s in (200, 201))
    return {
        "clients": clients,
        "requests": len(records),
        "throughput_per_s": len(records) / elapsed,
        "ok_per_s": len(ok) / elapsed,
        "p50_ms": _pct(ok, 50),
        "p95_ms": _pct(ok, 95),
        "p99_ms": _pct(ok, 99),
        "statuses": {str(k): v for k, v in Counter(s for _, s, _ in records).items()},
        "by_kind": {str(k): v for k, v in Counter(k for k, _, _ in records).items()},
        "failures": sum(1 for _, s, _ in records if s not in (200, 201, 429, 503)),
    }


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--index-dir", type=Path, required=True)
    parser.add_argument("--levels", type=int, nargs="+", default=[1, 8, 32, 64])
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--soak-seconds", type=float, default=600)
    parser.add_argument("--soak-clients", type=int, default=8)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="rag-load-"))
    shutil.copytree(args.index_dir, work / "index")
    server = start_server(work / "index", Path("seeds"), work / "server.log",
                          rate_limit_per_minute="1000000")  # fmt: skip
    try:
        drive(server.url, 2, 5)  # warm up
        results = {"index_chunks": httpx.get(f"{server.url}/readyz").json()["chunks"],
                   "levels": []}  # fmt: skip
        for clients in args.levels:
            level = drive(server.url, clients, args.seconds)
            print(level, file=sys.stderr)
            results["levels"].append(level)
        if args.soak_seconds:
            start_rss = rss_mb(server.process.pid)
            soak = drive(server.url, args.soak_clients, args.soak_seconds, seed=7)
            soak.update(rss_start_mb=start_rss, rss_end_mb=rss_mb(server.process.pid),
                        seconds=args.soak_seconds)  # fmt: skip
            results["soak"] = soak
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    emit(results, args.out)


if __name__ == "__main__":
    main()
