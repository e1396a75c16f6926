"""The chat's search while articles arrive: p50/p95 of ``Service.search`` (best sentences
and hit selection, as the chat and /v1/search run it) over an index, idle and while a
writer adds one article a second (as a feed does), each phase with a fresh service.

    python benchmarks/search_while_writing.py --index-dir <news-dev index copy> \\
        --out docs/benchmarks/search-while-writing.json

Questions: the 120 news-dev questions and the first 80 Arabic XQuAD-dev questions (200
distinct). Articles written: SaudiNewsNet articles from the end of the file, embedded by
the index's model. Use a copy of the index: the articles written stay in it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import DATA, emit, news_articles, squad_articles_and_questions  # noqa: E402

from rag.access import OWNER
from rag.service import Service  # noqa: E402
from rag.settings import Settings  # noqa: E402


def questions() -> list[str]:
    lines = (DATA / "qa/news-dev.jsonl").read_text(encoding="utf-8").splitlines()
    news = [json.loads(line)["question"] for line in lines if line.strip()]
    _, xquad = squad_articles_and_questions(DATA / "qa/xquad-dev.ar.json", "ar")
    return news + [q.text for q in xquad[:80]]


def run(settings: Settings, asked: list[str], articles: list | None) -> dict:
    service = Service.open(settings)
    service.warm_up()
    stop, written = threading.Event(), []

    def writer():
        for article in articles or []:
            if stop.is_set():
                return
            started = time.perf_counter()
            service.add_articles(OWNER, [article])
            written.append(time.perf_counter() - started)
            stop.wait(max(0.0, 1.0 - (time.perf_counter() - started)))

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    seconds = []
    for question in asked:
        started = time.perf_counter()
        service.search(OWNER, question)
        seconds.append(time.perf_counter() - started)
    stop.set()
    thread.join()
    service.close()
    seconds.sort()
    result = {
        "searches": len(seconds),
        "p50_ms": 1000 * statistics.median(seconds),
        "p95_ms": 1000 * seconds[int(0.95 * len(seconds))],
    }
    if articles:
        result |= {"articles_written": len(written),
                   "write_median_s": statistics.median(written) if written else None}  # fmt: skip
    return result


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--index-dir", type=Path, required=True)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    settings = Settings.load(index_dir=args.index_dir)
    asked = questions()
    incoming = list(news_articles(limit=600, skip=30_300))
    idle = run(settings, asked, None)
    print("idle", idle, file=sys.stderr)
    writing = run(settings, asked, incoming)
    print("writing", writing, file=sys.stderr)
    emit({"index": str(args.index_dir), "idle": idle, "writing": writing,
          "p95_ratio": writing["p95_ms"] / idle["p95_ms"]}, args.out)  # fmt: skip


if __name__ == "__main__":
    main()
