"""Query speed. (1) Dense search alone at 1,000,000 synthetic unit vectors of e5's dimension:
exact (flat) against HNSW, latency per query and HNSW's recall@10 against exact search, plus
RAM and disk bytes per vector. (2) Hybrid retrieval (query embedding + dense + BM25 + fusion)
on a real index, over distinct real questions, and the index's bytes per chunk in RAM and on
disk.

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
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import emit, rss_mb, xquad_questions  # noqa: E402
from tqdm import tqdm  # noqa: E402

from rag.vectors.faiss_index import FILE_NAME, FaissVectors  # noqa: E402

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
        started = time.perf_counter()
        index = FaissVectors.build(DIMENSION, kind, [(ids, data, [])], m=m, ef_search=ef_search)
        build = time.perf_counter() - started
        latencies, rows = [], []
        for query in noisy:
            began = time.perf_counter()
            hits = index.search(query, 10)
            latencies.append(time.perf_counter() - began)
            rows.append([row for row, _ in hits])
        found[kind] = rows
        with tempfile.TemporaryDirectory() as folder:
            index.save(Path(folder))
            disk = (Path(folder) / FILE_NAME).stat().st_size
        results[kind] = {"build_s": build, "search_ms": _ms(latencies),
                         "disk_bytes_per_vector": disk / n}  # fmt: skip
        del index
    results["hnsw"]["recall@10_vs_exact"] = float(np.mean([
        len(set(a) & set(b)) / 10 for a, b in zip(found["flat"], found["hnsw"], strict=True)
    ]))  # fmt: skip
    return results


def hybrid_questions(limit: int) -> list[str]:
    """The six questions above, then XQuAD-dev's Arabic and English questions interleaved
    (real questions of every length; a timing needs no answer in the index), ``limit`` in all.
    Each is asked once: repeating a few questions would time warm caches."""
    arabic, english, _ = xquad_questions()
    mixed = [q.text for pair in zip(arabic, english, strict=False) for q in pair]
    return list(dict.fromkeys(QUESTIONS + mixed))[:limit]


def hybrid_on_index(
    index_dir: Path,
    questions: int,
    query_model: str | None = None,
    best_sentences: bool = False,
    hit_selection: str = "bundled",
) -> dict:
    """Whole retrievals (query embedding + dense + BM25 + fusion; best sentences are the
    answer's work, not retrieval's, unless ``best_sentences``: then the search the chat runs,
    its hits chosen by ``hit_selection``) on a real index, and the memory the open index
    takes: resident memory after the searches less that with the model loaded and no index
    open.

    ``query_model`` embeds the questions with another model than the index's own: one that
    gives nearly the same vectors (the fp32 model over an index built by its int8 copy), to
    time the searches with that model's question embedding."""
    from rag.embeddings import load_embedder
    from rag.pipeline import Pipeline
    from rag.settings import Settings

    pipeline = Pipeline(Settings.load(index_dir=index_dir, hit_selection=hit_selection))
    embedder = pipeline.embedder
    if query_model:
        embedder = load_embedder(query_model, models_dir=pipeline.settings.models_dir)
    embedder.embed_query(QUESTIONS[0])  # the model alone, loaded and warm
    rss_model_only = rss_mb(os.getpid())
    store = pipeline.open_store()
    retriever = replace(pipeline.retriever(store), embedder=embedder)
    retriever.search(QUESTIONS[0], best_sentences=False)  # warm up
    stages: dict[str, list[float]] = {}
    totals = []
    asked = hybrid_questions(questions)
    for question in tqdm(asked, desc="searches", unit="question"):
        result = retriever.search(question, best_sentences=best_sentences)
        for stage, seconds in result.timings.items():
            stages.setdefault(stage, []).append(seconds)
        totals.append(sum(result.timings.values()))
    index_mb = rss_mb(os.getpid()) - rss_model_only
    stats = store.stats()
    chunks = max(1, stats["chunks"])
    return {
        "chunks": stats["chunks"],
        "articles": stats["articles"],
        "questions": len(asked),
        "index_type": store.index_type,
        "index_model": store.manifest["embedder"]["model"],
        "query_model": embedder.model,
        "best_sentences": best_sentences,
        "hit_selection": hit_selection if best_sentences else "",
        "retrieval_ms": _ms(totals),
        "stages_ms": {stage: _ms(values) for stage, values in stages.items()},
        "disk_bytes_per_chunk": stats["disk_bytes"] / chunks,
        "ram_bytes_per_chunk": index_mb * 2**20 / chunks,
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
    parser.add_argument(
        "--questions", type=int, default=600, help="Distinct questions for the hybrid timing."
    )
    parser.add_argument(
        "--query-model", help="Embed the hybrid timing's questions with this model instead."
    )
    parser.add_argument(
        "--best-sentences",
        action="store_true",
        help="Time the search the chat runs: best sentences, hits chosen by --hit-selection.",
    )
    parser.add_argument("--hit-selection", default="bundled")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    results = {}
    if args.index_dir:
        results["hybrid"] = hybrid_on_index(
            args.index_dir,
            args.questions,
            args.query_model,
            best_sentences=args.best_sentences,
            hit_selection=args.hit_selection,
        )
    if args.vectors:
        results["dense"] = dense_at_scale(args.vectors, args.queries, args.hnsw_m, args.ef_search)
    emit(results, args.out)


if __name__ == "__main__":
    main()
