"""How long "What happened on <day>?" takes: the digest of one busy day of SaudiNewsNet.

Builds (once) an index of ``--articles`` articles of ``--day`` with the product's own
ingest, then asks the day's digest ``--runs`` times through the answerer the chat uses, and
reports the latency (p50 / p95) and how many articles and stories it read::

    python benchmarks/digest_speed.py --day 2015-08-06 --articles 1600 \\
        --index-dir runs/digest-day --out docs/benchmarks/digest-speed.json
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import statistics
import time
from datetime import date, timedelta
from pathlib import Path

from common import NEWS, emit

from rag.news.documents import record_or_failure
from rag.news.ingest import ingest_records
from rag.pipeline import Pipeline
from rag.settings import Settings


def day_records(day: str, count: int) -> list[dict]:
    with gzip.open(NEWS, "rt", encoding="utf-8") as lines:
        dated = (json.loads(line) for line in lines)
        same_day = (r for r in dated if (r.get("date_extracted") or "").startswith(day))
        return list(itertools.islice(same_day, count))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--day", default="2015-08-06")
    parser.add_argument("--articles", type=int, default=1600)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--index-dir", type=Path, required=True)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    pipeline = Pipeline(Settings.load(index_dir=args.index_dir))
    if not (args.index_dir / "manifest.json").exists():
        records = day_records(args.day, args.articles)
        articles = [record_or_failure(r, f"news #{n}") for n, r in enumerate(records, start=1)]
        print(ingest_records(articles, pipeline.indexer()).summary())
    answerer = pipeline.answerer()
    as_of = date.fromisoformat(args.day) + timedelta(days=1)
    question = f"What happened on {date.fromisoformat(args.day):%B} {int(args.day[8:])}?"
    answer = answerer.answer(question, as_of=as_of)  # warm: the model, the caches
    seconds = []
    for _ in range(args.runs):
        started = time.perf_counter()
        answer = answerer.answer(question, as_of=as_of)
        seconds.append(time.perf_counter() - started)
    ms = sorted(s * 1000 for s in seconds)
    stats = answerer.retriever.store.stats()
    emit({
        "question": question, "as_of": as_of.isoformat(), "runs": args.runs,
        "index": {"articles": stats["articles"], "chunks": stats["chunks"]},
        "articles_of_the_day": len(answerer.retriever.store.lead_rows(args.day, args.day)),
        "stories_cited": len(answer.citations),
        "p50_ms": round(statistics.median(ms), 1),
        "p95_ms": round(ms[int(0.95 * (len(ms) - 1))], 1),
        "answer": answer.text,
    }, args.out)  # fmt: skip


if __name__ == "__main__":
    main()
