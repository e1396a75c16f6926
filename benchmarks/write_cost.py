"""What one write costs as the index grows: the time to make one new article searchable
(chunking and embedding included) at several corpus sizes, and the time of the occasional
snapshot rewrite that many small writes share.

    python benchmarks/write_cost.py --sizes 2000 20000 135000 --work /tmp/write-cost \\
        --out docs/benchmarks/write-cost.json

Each index holds real SaudiNewsNet chunks (text, offsets, tokens: the lexical index is
real) and, to build a 135,000-chunk index in minutes instead of hours, random unit vectors
in place of their embeddings: the dense side's cost depends on how many vectors there are,
not on their values. The articles written during the measurement are embedded by the real
model, through ``Service.add_articles`` (the path of the API, the web Library and feeds),
and each is then found by a search before the clock stops.
"""

from __future__ import annotations

import argparse
import inspect
import shutil
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import emit, news_articles  # noqa: E402

from rag.access import OWNER
from rag.news.documents import content_key  # noqa: E402
from rag.pipeline import Pipeline  # noqa: E402
from rag.service import Service  # noqa: E402
from rag.settings import Settings  # noqa: E402
from rag.store import PreparedArticle  # noqa: E402
from rag.text.arabic import tokenize  # noqa: E402
from rag.text.chunking import chunk_article  # noqa: E402


def fill(indexer, wanted_chunks: int, articles, sentence_vectors: bool = False) -> int:
    """Store articles' real chunks with random vectors until ``wanted_chunks`` (and random
    vectors for their sentences, as an ingest stores them, with ``sentence_vectors``)."""
    store, rng, total, batch = indexer.store, np.random.default_rng(0), 0, []

    def unit(count: int) -> np.ndarray:
        vectors = rng.standard_normal((count, store.dimension)).astype(np.float32)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    with store.writer():
        for article in articles:
            chunks = chunk_article(article, indexer.chunking)
            tokens = [tokenize(indexer.passage_text(c), stem=indexer.stemming) for c in chunks]
            starts = sorted({s.start for c in chunks for s in c.sentence_quotes()})
            sentences = (
                dict(zip(starts, unit(len(starts)), strict=True)) if sentence_vectors else {}
            )
            batch.append(PreparedArticle(article, content_key(article.text), chunks,
                                         unit(len(chunks)), tokens, sentences))  # fmt: skip
            total += len(chunks)
            if len(batch) == 200 or total >= wanted_chunks:
                store.add(batch)
                batch = []
            if total >= wanted_chunks:
                break
        save_snapshot(store)
    return total


def save_snapshot(store) -> None:
    """Write the derived files now (``force``: a version before snapshots had no such
    argument and wrote them on every save)."""
    if "force" in inspect.signature(store.save_derived).parameters:
        store.save_derived(force=True)
    else:
        store.save_derived()


def measure(service: Service, fresh: list, writes: int) -> dict:
    seconds = []
    for article in fresh[:writes]:
        words = " ".join(article.text.split()[:12])
        started = time.perf_counter()
        report = service.add_articles(OWNER, [article])
        assert report.ingested == 1, report.summary()
        hits = service.search(OWNER, words, k=5).hits
        seconds.append(time.perf_counter() - started)
        assert any(hit.chunk.article_id == article.id for hit in hits), "not found after write"
    started = time.perf_counter()
    with service.store.writer():
        save_snapshot(service.store)
    snapshot = time.perf_counter() - started
    return {
        "writes": len(seconds),
        "median_s": statistics.median(seconds),
        "max_s": max(seconds),
        "snapshot_rewrite_s": snapshot,
    }


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 20000, 135000])
    parser.add_argument("--writes", type=int, default=7)
    parser.add_argument("--work", type=Path, default=Path("index/write-cost"))
    parser.add_argument("--model", default="e5-small-onnx")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    fresh = list(news_articles(limit=args.writes, skip=31_000 - args.writes))
    results = {"model": args.model, "sizes": {}}
    for size in args.sizes:
        folder = args.work / f"chunks-{size}"
        shutil.rmtree(folder, ignore_errors=True)
        settings = Settings.load(index_dir=folder, embedding_model=args.model)
        pipeline = Pipeline(settings)
        indexer = pipeline.indexer()
        started = time.perf_counter()
        chunks = fill(indexer, size, news_articles(limit=30_000 - args.writes))
        print(f"{chunks} chunks stored in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        indexer.store.close()
        service = Service.open(settings)
        service.warm_up()
        results["sizes"][str(chunks)] = measure(service, fresh, args.writes)
        print(results["sizes"][str(chunks)], file=sys.stderr)
        service.close()
    emit(results, args.out)


if __name__ == "__main__":
    main()
