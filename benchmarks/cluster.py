"""The distributed paths on this 2-core machine: correctness and overhead, not speed-up.

    python benchmarks/cluster.py ingest --articles 5000 --keep /tmp/cluster \
        --out docs/benchmarks/cluster-ingest.json
    python benchmarks/cluster.py milvus --index-dir /path/to/index --out docs/benchmarks/milvus.json

``ingest``: the same SaudiNewsNet articles (one JSONL file) ingested by the single-process
path and by ``--ray`` (a local Ray instance, one embedding actor per core), each into a fresh
index; articles/s and chunks/s, Ray's start-up included and shown apart.

``milvus``: dense search latency over one index's vectors, FAISS (flat, in process) against
Milvus Lite (the same vectors copied into a Milvus Lite file), with and without a source
filter; and the overlap of their top 10.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import NEWS, emit  # noqa: E402

from rag.answers.retrieval import Filters  # noqa: E402
from rag.news.ingest import ingest  # noqa: E402
from rag.pipeline import Pipeline  # noqa: E402
from rag.settings import Settings  # noqa: E402


def write_articles(path: Path, count: int, skip: int = 5000) -> None:
    import gzip
    import itertools

    with gzip.open(NEWS, "rt", encoding="utf-8") as lines:
        path.write_text("".join(itertools.islice(lines, skip, skip + count)), encoding="utf-8")


def bench_ingest(args) -> dict:
    from rag.news.ray_ingest import _start_ray, embedder_factory, ingest_with_ray

    results = {"articles": args.articles}
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        source = folder / "news.jsonl"
        write_articles(source, args.articles)
        plain = Pipeline(Settings.load(index_dir=folder / "plain"))
        plain.embedder.embed_passages(["warm up"])
        started = time.perf_counter()
        report = ingest([source], plain.indexer())
        seconds = time.perf_counter() - started
        results["single_process"] = _rates(report, seconds)
        started = time.perf_counter()
        ray = _start_ray(None)
        results["ray_start_s"] = time.perf_counter() - started
        distributed = Pipeline(Settings.load(index_dir=folder / "ray"))
        factory = embedder_factory(distributed.settings, distributed.model_name())
        started = time.perf_counter()
        report = ingest_with_ray([source], distributed.indexer(), factory, address="auto")
        seconds = time.perf_counter() - started
        ray.shutdown()
        results["ray"] = _rates(report, seconds)
        results["ray_vs_single"] = (
            results["ray"]["chunks_per_s"] / (results["single_process"]["chunks_per_s"])
        )
        results["same_index"] = compare_indexes(folder / "plain", folder / "ray")
    return results


def compare_indexes(plain: Path, ray: Path) -> dict:
    """Whether both paths built the same chunks, and how close their vectors are."""
    a, b = _chunk_rows(plain), _chunk_rows(ray)
    cosines = [
        float(np.dot(a[key][1], b[key][1]) / np.linalg.norm(a[key][1]) / np.linalg.norm(b[key][1]))
        for key in a.keys() & b.keys()
    ]
    return {
        "same_chunk_ids": a.keys() == b.keys(),
        "same_offsets_and_tokens": all(a[k][0] == b[k][0] for k in a.keys() & b.keys()),
        "min_vector_cosine": min(cosines) if cosines else None,
    }


def _chunk_rows(folder: Path) -> dict:
    import sqlite3

    db = sqlite3.connect(folder / "index.sqlite")
    found = db.execute('SELECT id, start, "end", sentences, tokens, vector FROM chunks')
    rows = {r[0]: (r[1:5], np.frombuffer(r[5], dtype=np.float32)) for r in found}
    db.close()
    return rows


def _rates(report, seconds: float) -> dict:
    return {
        "seconds": seconds,
        "chunks": report.chunks,
        "articles_per_s": report.ingested / seconds,
        "chunks_per_s": report.chunks / seconds,
    }


def bench_milvus(args) -> dict:
    faiss = Pipeline(Settings.load(index_dir=args.index_dir, index_type="flat"))
    faiss_store = faiss.open_store()
    with tempfile.TemporaryDirectory() as folder:
        milvus = Pipeline(
            Settings.load(
                index_dir=args.index_dir,
                vector_store="milvus",
                milvus_uri=str(Path(folder) / "vectors.db"),
            )
        )
        started = time.perf_counter()
        milvus_store = milvus.open_store()  # copies every vector into Milvus Lite
        copy_seconds = time.perf_counter() - started
        vectors = np.vstack([batch for _, batch, _ in faiss_store._iter_vectors()])
        picks = np.random.default_rng(0).choice(len(vectors), args.queries, replace=False)
        queries = vectors[picks]
        source = next(iter(faiss_store.stats()["sources"]))
        allowed = faiss_store.filter_rows(sources=(source,))
        results = {
            "chunks": faiss_store.stats()["chunks"],
            "milvus_copy_s": copy_seconds,
            "filtered_source": source,
        }
        for name, store in (("faiss", faiss_store), ("milvus_lite", milvus_store)):
            for label, options in (("", {}), ("_filtered", {"filter": True})):
                latencies, tops = [], []
                for query in queries:
                    started = time.perf_counter()
                    if options:
                        found = store.dense_search(
                            query, 10, allowed if name == "faiss" else None,
                            Filters(sources=(source,)),
                        )  # fmt: skip
                    else:
                        found = store.dense_search(query, 10)
                    latencies.append(time.perf_counter() - started)
                    tops.append([r for r, _ in found])
                results[name + label] = {
                    "median_ms": 1000 * statistics.median(latencies),
                    "p95_ms": 1000 * sorted(latencies)[int(0.95 * len(latencies))],
                }
                results.setdefault("_tops", {})[name + label] = tops
        tops = results.pop("_tops")
        for label in ("", "_filtered"):
            overlap = [
                len(set(a) & set(b)) / max(1, len(a))
                for a, b in zip(tops["faiss" + label], tops["milvus_lite" + label], strict=True)
            ]
            results["top10_overlap" + label] = float(np.mean(overlap))
        milvus_store.close()
    faiss_store.close()
    return results


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    one = sub.add_parser("ingest")
    one.add_argument("--articles", type=int, default=300)
    one.add_argument("--out", type=Path)
    one.add_argument("--keep", type=Path, help="build both indexes here and keep them")
    two = sub.add_parser("milvus")
    two.add_argument("--index-dir", type=Path, required=True)
    two.add_argument("--queries", type=int, default=300)
    two.add_argument("--out", type=Path)
    args = parser.parse_args()
    results = bench_ingest(args) if args.command == "ingest" else bench_milvus(args)
    emit(results, args.out)


if __name__ == "__main__":
    main()
