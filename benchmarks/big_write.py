"""The largest article a write accepts, of the worst kinds of text, written to a running
server while a client searches: how long each write takes, and the searches' p50/p95 before
and during it.

    python benchmarks/big_write.py --chunks 135000 --work /tmp/big-write \\
        --out docs/benchmarks/big-write.json

The index holds real SaudiNewsNet chunks with random unit vectors in their place (built in
minutes, as in benchmarks/write_cost.py: the dense side's cost depends on how many vectors
there are, not on their values). ``rag serve`` runs in its own process; one client searches
``/v1/search`` back to back with news-dev's questions; the bodies are written through
``POST /v1/articles``, each the most a write accepts (50,000 characters):

- ``news``: real articles run together, as a long report would be;
- ``one-token``: one run of a letter without a space (the probe's 4.9 MB body, cut to size);
- ``one-sentence``: words without a full stop;
- ``cjk``: three-character words of Chinese characters, the densest in tokens we found;
- ``numbers``: 4,500 one-number sentences, the most sentences (each has a vector);
- ``ligatures``: U+FDFA (18 letters once written out) between spaces, up to the limit;
- ``4.9 MB``: the probe's body, refused (422) before any work.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import DATA, emit, news_articles  # noqa: E402
from write_cost import fill  # noqa: E402

from rag.pipeline import Pipeline  # noqa: E402
from rag.settings import Settings  # noqa: E402

LIMIT = 50_000


def bodies() -> dict[str, str]:
    rng = random.Random(1)
    news, size = [], 0
    for article in news_articles(limit=200, skip=30_000):
        news.append(article.text)
        size += len(article.text) + 2
        if size > LIMIT:
            break
    return {
        "news": "\n\n".join(news)[:LIMIT],
        "one-token": "ب" * LIMIT,
        "one-sentence": ("كلمة " * (LIMIT // 5))[:LIMIT],
        "cjk": " ".join(
            "".join(chr(rng.randint(0x4E00, 0x9FFF)) for _ in range(3)) for _ in range(12_500)
        )[:LIMIT],
        "numbers": " ".join(f"{rng.randint(0, 10**9)}." for _ in range(4_500)),
        "ligatures": "\ufdfa " * (LIMIT // 19),
        "4.9 MB": "x" * 4_900_000,
    }


class Searcher:
    """Searches back to back in a thread, keeping (start, seconds) of each."""

    def __init__(self, url: str, questions: list[str]):
        self.url, self.questions = url, questions
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        with httpx.Client(base_url=self.url, timeout=60) as http:
            for number in range(10**9):
                if self._stop.is_set():
                    return
                started = time.perf_counter()
                response = http.post("/v1/search", json={
                    "query": self.questions[number % len(self.questions)], "k": 5})  # fmt: skip
                assert response.status_code == 200, response.text
                self.samples.append((started, time.perf_counter() - started))

    def start(self):
        self._thread.start()

    def stop(self):
        self._stop.set()
        self._thread.join()

    def between(self, first: float, last: float) -> dict:
        ms = sorted(s * 1000 for t, s in self.samples if first <= t <= last)
        if not ms:
            return {"searches": 0}
        return {"searches": len(ms), "p50_ms": round(statistics.median(ms), 1),
                "p95_ms": round(ms[min(len(ms) - 1, int(0.95 * len(ms)))], 1)}  # fmt: skip


def start_server(folder: Path, port: int) -> subprocess.Popen:
    environment = {**os.environ, "RAG_RATE_LIMIT_PER_MINUTE": "100000"}
    process = subprocess.Popen([sys.executable, "-m", "rag.cli", "serve", "--index-dir",
                                str(folder), "--port", str(port)], env=environment)  # fmt: skip
    for _ in range(600):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    process.kill()
    raise RuntimeError("the server did not start")


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--chunks", type=int, default=135_000)
    parser.add_argument("--work", type=Path, default=Path("index/big-write"))
    parser.add_argument("--port", type=int, default=7893)
    parser.add_argument("--quiet-seconds", type=float, default=20)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    shutil.rmtree(args.work, ignore_errors=True)
    indexer = Pipeline(Settings.load(index_dir=args.work, environ={})).indexer()
    chunks = fill(indexer, args.chunks, news_articles(limit=29_000), sentence_vectors=True)
    indexer.store.close()
    questions = [json.loads(line)["question"]
                 for line in (DATA / "qa" / "news-dev.jsonl").read_text().splitlines()]  # fmt: skip
    url = f"http://127.0.0.1:{args.port}"
    server = start_server(args.work, args.port)
    searcher = Searcher(url, questions)
    results = {"chunks": chunks, "article_limit_chars": LIMIT, "writes": {}}
    try:
        searcher.start()
        time.sleep(args.quiet_seconds)
        results["searches_without_writes"] = searcher.between(0, time.perf_counter())
        with httpx.Client(base_url=url, timeout=600) as http:
            for name, text in bodies().items():
                started = time.perf_counter()
                response = http.post("/v1/articles", json={"title": name, "content": text})
                ended = time.perf_counter()
                results["writes"][name] = {
                    "chars": len(text), "status": response.status_code,
                    "write_s": round(ended - started, 2),
                    "chunks": response.json().get("chunks"),
                    "searches_during": searcher.between(started, ended),
                }  # fmt: skip
                print(name, results["writes"][name], file=sys.stderr)
                time.sleep(3)  # let a background snapshot, if one fell due, settle
    finally:
        searcher.stop()
        server.terminate()
        server.wait()
    emit(results, args.out)


if __name__ == "__main__":
    main()
