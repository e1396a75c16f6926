"""Retrieval benchmark: XQuAD-dev (ar, en over ar) and ARCD-train over their paragraphs
plus SaudiNewsNet chunks as distractors. Prints R@1/5/20 and MRR@10 for BM25, dense and
hybrid, the ingest throughput and the median search latency.

    python benchmarks/retrieval.py --distractor-chunks 20000 --out docs/benchmarks/retrieval.json

A chunk is gold when it belongs to the question's paragraph and contains the gold answer's
character offset.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    DATA,
    emit,
    gold_rank,
    ingest_timed,
    mrr_at,
    news_articles,
    recall_at,
    squad_articles_and_questions,
)

from rag.news.documents import content_key  # noqa: E402
from rag.pipeline import Pipeline  # noqa: E402
from rag.settings import Settings  # noqa: E402
from rag.text.arabic import detect_language  # noqa: E402
from rag.text.chunking import chunk_article  # noqa: E402


def build(pipeline: Pipeline, articles, distractor_chunks: int, resume: bool = False):
    """Index the paragraphs and the distractors in one ingest (one save at the end). With
    ``resume``, articles already indexed are skipped as unchanged."""
    indexer = pipeline.indexer(rebuild=not resume)
    added, seconds = ingest_timed(articles + distractors(indexer, distractor_chunks), indexer)
    return indexer.store, added, seconds


def distractors(indexer, wanted_chunks: int) -> list:
    """SaudiNewsNet articles in file order, in whole batches of 50, until their distinct
    contents make ``wanted_chunks`` chunks."""
    picked, seen, chunks, skip = [], set(), 0, 0
    while chunks < wanted_chunks:
        batch = list(news_articles(limit=50, skip=skip))
        skip += 50
        if not batch:
            break
        for article in batch:
            key = content_key(article.text)
            if key not in seen:
                seen.add(key)
                chunks += len(chunk_article(article, indexer.chunking))
        picked += batch
    return picked


def evaluate(pipeline: Pipeline, store, questions, depth=20, rerank_limit=None):
    retriever = pipeline.retriever(store)
    plain = replace(retriever, selector=None)  # the sentence rerank of the best five alone
    unselected = "hybrid, as shown without hit selection"
    chat = "hybrid, a 5-hit search as the chat runs it"
    vectors = pipeline.embedder.embed_queries([q.text for q in questions])
    ranks = {
        "bm25": [],
        "dense": [],
        "hybrid": [],
        "hybrid, as shown": [],
        unselected: [],
        chat: [],
    }
    latencies = []
    for number, (question, vector) in enumerate(zip(questions, vectors, strict=True)):
        # each side alone as the hybrid search runs it: centred vector, bridged names
        language = detect_language(question.text)
        dense = store.dense_search(retriever._centred(vector, language), depth)
        lexical = store.bm25_search(retriever._lexical_terms(question.text, language), depth)
        for name, rows in (("dense", dense), ("bm25", lexical)):
            chunks = store.chunks([r for r, _ in rows])
            ranks[name].append(gold_rank([chunks[r] for r, _ in rows], question))
        started = time.perf_counter()  # a whole search, the question's embedding included
        result = retriever.search(question.text, k=depth, best_sentences=False)
        latencies.append(time.perf_counter() - started)
        hybrid = [h.chunk for h in result.hits]
        ranks["hybrid"].append(gold_rank(hybrid, question, [h.duplicates for h in result.hits]))
        if rerank_limit is None or number < rerank_limit:
            # the order search(k=depth) shows; sentences embedded for the pool it is chosen
            # from only, the hits below it keep their fused place
            retriever._attach_best_sentences(vector, result.hits[: retriever._pool()])
            for name, ordering in (("hybrid, as shown", retriever), (unselected, plain)):
                shown = ordering._shown_order(result.hits)
                ranks[name].append(
                    gold_rank([h.chunk for h in shown], question, [h.duplicates for h in shown])
                )
            # what the chat shows: a search for five hits, which reads 50 candidates per list
            # where one for 20 reads 80, so its fused order can differ a little
            five = retriever.search(question.text, query_vector=vector).hits
            ranks[chat].append(
                gold_rank([h.chunk for h in five], question, [h.duplicates for h in five])
            )
    table = {name: _figures(r, 5 if name == chat else depth) for name, r in ranks.items() if r}
    return table, latencies


def _figures(ranks: list[int | None], depth: int) -> dict[str, float | None]:
    """R@1/5/10/20 and MRR@10 of one list; None where it holds fewer hits than the cut-off
    (a 5-hit search says nothing of R@10)."""
    figures = {f"R@{k}": recall_at(ranks, k) if k <= depth else None for k in (1, 5, 10, 20)}
    figures["MRR@10"] = mrr_at(ranks, 10) if depth >= 10 else None
    return figures


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--distractor-chunks", type=int, default=20000)
    parser.add_argument("--index-dir", type=Path, default=Path("index/benchmark-retrieval"))
    parser.add_argument("--model", default="e5-small")
    parser.add_argument("--chunk-chars", type=int, default=None)
    parser.add_argument("--no-titles", action="store_true")
    parser.add_argument("--reuse", action="store_true", help="Reuse an index built before.")
    parser.add_argument("--resume", action="store_true", help="Go on with an interrupted build.")
    parser.add_argument(
        "--rerank-questions",
        type=int,
        default=None,
        help="Questions per set for the sentence-rerank row (default: all; it is slow).",
    )
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    overrides = {"index_dir": args.index_dir, "embedding_model": args.model}
    if args.chunk_chars:
        overrides.update(chunk_target_chars=args.chunk_chars, max_sentence_chars=args.chunk_chars)
    if args.no_titles:
        overrides["embed_titles"] = False
    pipeline = Pipeline(Settings.load(**overrides))

    xq_articles, xq_ar = squad_articles_and_questions(DATA / "qa/xquad-dev.ar.json", "ar")
    _, xq_en = squad_articles_and_questions(
        DATA / "qa/xquad-dev.en.json", "en", contexts=DATA / "qa/xquad-dev.ar.json"
    )
    arcd_articles, arcd = squad_articles_and_questions(DATA / "qa/arcd-train.json", "ar")
    if args.reuse and (args.index_dir / "manifest.json").exists():
        store, chunks, seconds = pipeline.open_store(), None, None
    else:
        store, chunks, seconds = build(
            pipeline, xq_articles + arcd_articles, args.distractor_chunks, resume=args.resume
        )
    results = {
        "settings": {k: str(v) for k, v in overrides.items()},
        "chunks": store.stats()["chunks"],
    }
    if chunks:
        results["ingest_chunks_per_s"] = chunks / seconds
    for name, questions in (("xquad-ar", xq_ar), ("xquad-en", xq_en), ("arcd", arcd)):
        table, latencies = evaluate(pipeline, store, questions, rerank_limit=args.rerank_questions)
        results[name] = {
            **table,
            "median_search_ms": 1000 * statistics.median(latencies),
            "p95_search_ms": 1000 * sorted(latencies)[int(0.95 * len(latencies))],
        }
    emit(results, args.out)


if __name__ == "__main__":
    main()
