"""Query speed. (1) Dense search alone at 1,000,000 synthetic unit vectors of e5's dimension:
exact (flat) against HNSW, latency per query and HNSW's recall@10 against exact search, plus
RAM and disk bytes per vector. (2) Hybrid retrieval (query embedding + dense + BM25 + fusion)
on a real index.

    python benchmarks/query.py --vectors 1000000 --index-dir runs/xquad-ar/index \
        --out docs/benchmarks/query.json
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import emit  # noqa: E402

from rag.store import VectorIndexOptions, _new_faiss_index  # noqa: E402

DIMENSION = 384
QUESTIONS = [
    "What did Araghchi say about enrichment?",
    "ماذا قال عراقجي عن التخصيب؟",
    "من هو أول رئيس للولايات المتحدة؟",
    "When was the university founded?",
    "كم عدد سكان المدينة؟",
    "ما هي عاصمة فرنسا؟",
]


def _unit(rng, n: int) -> np.ndarray:
    vectors = rng.standard_normal((n, DIMENSION)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors


def _like_e5(rng, n: int, centers: np.ndarray, common: np.ndarray) -> np.ndarray:
    """Unit vectors shaped like e5's: one shared direction (e5's cosines are all high) plus
    a topic (one of ``centers``) plus noise. Uniform random vectors have no neighbours
    worth the name, which no real corpus looks like."""
    topics = centers[rng.integers(0, len(centers), n)]
    vectors = 1.0 * common + 0.8 * topics + 0.6 * _unit(rng, n)
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def _ms(values: list[float]) -> dict:
    ordered = sorted(v * 1000 for v in values)
    return {"p50": statistics.median(ordered), "p95": ordered[int(0.95 * (len(ordered) - 1))]}


def dense_at_scale(n: int, queries: int, m: int, ef_search: int) -> dict:
    import faiss

    rng = np.random.default_rng(0)
    centers, common = _unit(rng, 2000), _unit(rng, 1)
    data = np.empty((n, DIMENSION), dtype=np.float32)
    for start in range(0, n, 100_000):  # in slices: one float64 temporary of 1M x 384 is 3 GB
        data[start : start + 100_000] = _like_e5(rng, min(100_000, n - start), centers, common)
    ids = np.arange(n, dtype=np.int64)
    picks = rng.choice(n, queries, replace=False)
    noisy = data[picks] + 0.3 * _unit(rng, queries)  # a question near a passage, not on it
    noisy /= np.linalg.norm(noisy, axis=1, keepdims=True)
    results = {"vectors": n, "queries": queries}
    found = {}
    for kind in ("flat", "hnsw"):
        options = VectorIndexOptions(kind=kind, hnsw_m=m, hnsw_ef_search=ef_search)
        index = _new_faiss_index(DIMENSION, options, n)
        started = time.perf_counter()
        index.add_with_ids(data, ids)
        build = time.perf_counter() - started
        latencies, rows = [], []
        for query in noisy:
            began = time.perf_counter()
            _, hit = index.search(query.reshape(1, -1), 10)
            latencies.append(time.perf_counter() - began)
            rows.append(hit[0])
        found[kind] = rows
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "index.faiss")
            faiss.write_index(index, path)
            disk = os.path.getsize(path)
        results[kind] = {"build_s": build, "search_ms": _ms(latencies),
                         "disk_bytes_per_vector": disk / n}  # fmt: skip
        del index
    results["hnsw"]["recall@10_vs_exact"] = float(np.mean([
        len(set(a) & set(b)) / 10 for a, b in zip(found["flat"], found["hnsw"], strict=True)
    ]))  # fmt: skip
    return results


def hybrid_on_index(index_dir: Path, rounds: int) -> dict:
    from rag.pipeline import Pipeline
    from rag.settings import Settings

    pipeline = Pipeline(Settings.load(index_dir=index_dir))
    store = pipeline.open_store()
    retriever = pipeline.retriever(store)
    retriever.search(QUESTIONS[0])  # load and warm up
    stages: dict[str, list[float]] = {}
    totals = []
    for _ in range(rounds):
        for question in QUESTIONS:
            result = retriever.search(question, best_sentences=False)
            for stage, seconds in result.timings.items():
                stages.setdefault(stage, []).append(seconds)
            totals.append(sum(result.timings.values()))
    stats = store.stats()
    return {
        "chunks": stats["chunks"],
        "index_type": store.index_type,
        "retrieval_ms": _ms(totals),
        "stages_ms": {stage: _ms(values) for stage, values in stages.items()},
        "disk_bytes_per_chunk": stats["disk_bytes"] / max(1, stats["chunks"]),
    }


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--vectors", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--hnsw-m", type=int, default=32)
    parser.add_argument("--ef-search", type=int, default=128)
    parser.add_argument("--index-dir", type=Path)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    results = {}
    if args.index_dir:
        results["hybrid"] = hybrid_on_index(args.index_dir, args.rounds)
    if args.vectors:
        results["dense"] = dense_at_scale(args.vectors, args.queries, args.hnsw_m, args.ef_search)
    emit(results, args.out)


if __name__ == "__main__":
    main()
