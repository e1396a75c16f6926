"""The lexical index against the one it replaced: ``rag.store.lexical`` (a snapshot plus the rows
since, in memory) against bm25s (rebuilt over the same chunk tokens), on the retrieval
benchmark's questions, through the same retriever. Prints R@1/R@5/R@20 of BM25 alone and
of the hybrid search, per question set, and the median time of one lexical search.

    python benchmarks/lexical.py --index-dir index/benchmark-retrieval \
        --out docs/benchmarks/lexical.json

The index is one built by benchmarks/retrieval.py (XQuAD-dev and ARCD-train paragraphs
plus SaudiNewsNet distractors).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import DATA, emit, gold_rank, recall_at, squad_articles_and_questions  # noqa: E402

from rag.pipeline import Pipeline  # noqa: E402
from rag.settings import Settings  # noqa: E402
from rag.text.arabic import detect_language  # noqa: E402


class Bm25sLexical:
    """What the store did before: bm25s over every chunk's tokens, held in memory."""

    def __init__(self, store):
        import bm25s

        rows, corpus = [], []
        for row, tokens in store._db.execute("SELECT row, tokens FROM chunks ORDER BY row"):
            rows.append(row)
            corpus.append(tokens.split())
        self.rows = np.asarray(rows, dtype=np.int64)
        self.index = bm25s.BM25()
        self.index.index(corpus, show_progress=False)

    def search(self, tokens, n, allowed=None):
        if not tokens or n < 1:
            return []
        scores = self.index.get_scores(tokens)
        if allowed is not None:
            scores = np.where(np.isin(self.rows, allowed), scores, 0.0)
        n = min(n, len(scores))
        top = np.argpartition(-scores, n - 1)[:n]
        top = top[np.argsort(-scores[top])]
        return [(int(self.rows[i]), float(scores[i])) for i in top if scores[i] > 0]


def evaluate(retriever, store, questions, depth=20):
    ranks = {"bm25": [], "hybrid": []}
    seconds = []
    vectors = retriever.embedder.embed_queries([q.text for q in questions])
    for question, vector in zip(questions, vectors, strict=True):
        terms = retriever._lexical_terms(question.text, detect_language(question.text))
        started = time.perf_counter()
        lexical = store.bm25_search(terms, depth)
        seconds.append(time.perf_counter() - started)
        chunks = store.chunks([r for r, _ in lexical])
        ranks["bm25"].append(gold_rank([chunks[r] for r, _ in lexical], question))
        hits = retriever.search(question.text, k=depth, best_sentences=False,
                                query_vector=vector).hits  # fmt: skip
        ranks["hybrid"].append(
            gold_rank([h.chunk for h in hits], question, [h.duplicates for h in hits])
        )
    table = {name: {f"R@{k}": recall_at(r, k) for k in (1, 5, 20)} for name, r in ranks.items()}
    table["median_lexical_ms"] = 1000 * statistics.median(seconds)
    return table


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--index-dir", type=Path, default=Path("index/benchmark-retrieval"))
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    pipeline = Pipeline(Settings.load(index_dir=args.index_dir))
    store = pipeline.open_store()
    retriever = pipeline.retriever(store)
    _, xq_ar = squad_articles_and_questions(DATA / "qa/xquad-dev.ar.json", "ar")
    _, xq_en = squad_articles_and_questions(
        DATA / "qa/xquad-dev.en.json", "en", contexts=DATA / "qa/xquad-dev.ar.json"
    )
    _, arcd = squad_articles_and_questions(DATA / "qa/arcd-train.json", "ar")
    ours = store.bm25_search
    bm25s = Bm25sLexical(store)
    results = {"chunks": store.stats()["chunks"]}
    for name, questions in (("xquad-ar", xq_ar), ("xquad-en", xq_en), ("arcd", arcd)):
        store.bm25_search = ours
        results[f"{name} rag.store.lexical"] = evaluate(retriever, store, questions)
        store.bm25_search = bm25s.search
        results[f"{name} bm25s"] = evaluate(retriever, store, questions)
    store.bm25_search = ours
    emit(results, args.out)


if __name__ == "__main__":
    main()
