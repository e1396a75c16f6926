"""Fit the search's hit selection model (rag/selection.py) on ARCD-train and write it.

    python benchmarks/fit_selection.py --index-dir index/benchmark-retrieval \\
        --out rag/data/selection.json

Data: ARCD-train's questions (the training split; XQuAD-dev is never looked at here) over
the retrieval benchmark's index. Each question is searched once through the product's
``Retriever`` in fused order, its best ``--depth`` hits with their sentences scored; a hit
is gold as in benchmarks/retrieval.py. For each pool size and L2 strength of the grid, a
logistic regression of ``rag.answers.selection.FEATURES`` predicts "gold", and 5-fold
cross-validation over questions measures how often the gold hit is among the five the
model picks (R@5 of the search, since the rerank only reorders those five). The best cell
(ties: the smaller pool, then the stronger L2) is refitted on every question and written
with the grid's figures.
"""

from __future__ import annotations

import argparse
import datetime
import json
import pickle
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import DATA, gold_rank, logistic_fit, squad_articles_and_questions  # noqa: E402

from rag.answers.selection import FEATURES, HitSelector, hit_features  # noqa: E402
from rag.pipeline import Pipeline  # noqa: E402
from rag.settings import Settings  # noqa: E402

SHOWN = 5  # the rerank pool: what the selector chooses
POOLS = (8, 10, 12)
L2 = (1.0, 10.0, 100.0, 300.0, 1000.0, 3000.0)
FOLDS = 5


def collect(retriever, questions, depth: int) -> list[tuple[list, list[bool]]]:
    """Per question: its best ``depth`` hits in fused order (sentences scored), and which
    of them are gold."""
    retriever = replace(retriever, rerank_by_sentence=False, selector=None)
    retriever._sentence_vectors.size = 500_000  # questions share paragraphs: keep them all
    collected = []
    for number, question in enumerate(questions, start=1):
        hits = retriever.search(question.text, k=depth).hits
        gold = [gold_rank([h.chunk], question, [h.duplicates]) == 1 for h in hits]
        collected.append((hits, gold))
        if number % 100 == 0:
            print(f"searched {number}/{len(questions)}", file=sys.stderr)
    return collected


def cached(path: Path | None, make):
    if path and path.exists():
        return pickle.loads(path.read_bytes())
    value = make()
    if path:
        path.write_bytes(pickle.dumps(value))
    return value


def fit(collected, pool: int, l2: float) -> HitSelector:
    x = np.vstack([hit_features(hits[:pool]) for hits, _ in collected if hits])
    y = np.concatenate([gold[:pool] for hits, gold in collected if hits]).astype(float)
    bias, weights = logistic_fit(x, y, l2)
    return HitSelector(bias, tuple(float(w) for w in weights), pool)


def recall(collected, selector: HitSelector | None) -> float:
    """The share of questions whose gold hit is among the five shown."""
    found = 0
    for hits, gold in collected:
        if selector is None:
            chosen = range(min(SHOWN, len(hits)))
        else:
            chosen = selector.choose(hits[: selector.pool], SHOWN)
        found += any(gold[i] for i in chosen)
    return found / len(collected)


def cross_validated(collected, pool: int, l2: float) -> float:
    folds = [collected[i::FOLDS] for i in range(FOLDS)]
    found = 0.0
    for i, held_out in enumerate(folds):
        training = [row for j, fold in enumerate(folds) if j != i for row in fold]
        found += recall(held_out, fit(training, pool, l2)) * len(held_out)
    return found / len(collected)


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--index-dir", type=Path, default=Path("index/benchmark-retrieval"))
    parser.add_argument(
        "--pools",
        type=lambda text: tuple(int(n) for n in text.split(",")),
        default=POOLS,
        help="Pool sizes of the grid, e.g. 12,16,20 (with --depth at least the largest).",
    )
    parser.add_argument(
        "--depth", type=int, help="Hits searched per question (default: the largest pool)."
    )
    parser.add_argument("--cache", type=Path, help="Keep the searched hits here (pickle).")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    depth = args.depth or max(args.pools)
    if depth < max(args.pools):
        parser.error(f"--depth {depth} is below the largest pool, {max(args.pools)}")
    pipeline = Pipeline(Settings.load(index_dir=args.index_dir, hit_selection="none"))
    retriever = pipeline.retriever()
    _, questions = squad_articles_and_questions(DATA / "qa/arcd-train.json", "ar")
    collected = cached(args.cache, lambda: collect(retriever, questions, depth))
    grid = {
        f"pool {pool}, l2 {l2}": cross_validated(collected, pool, l2)
        for pool in args.pools
        for l2 in L2
    }
    for cell, value in grid.items():
        print(f"{cell}: cross-validated R@5 {value:.4f}", file=sys.stderr)
    best = max(
        ((p, l2) for p in args.pools for l2 in L2),
        key=lambda c: (grid[f"pool {c[0]}, l2 {c[1]}"], -c[0], c[1]),
    )
    selector = fit(collected, *best)
    model = {
        "about": (
            "Hit selection model of the search (rag/selection.py), written by "
            f"benchmarks/fit_selection.py on {datetime.date.today().isoformat()}: ARCD-train's "
            f"{len(questions)} questions over {args.index_dir.name}, pool and L2 chosen by "
            f"{FOLDS}-fold cross-validation over questions."
        ),
        "pool": selector.pool,
        "bias": selector.bias,
        "weights": dict(zip(FEATURES, selector.weights, strict=True)),
        "fitted_on": {
            "questions": len(questions),
            "l2": best[1],
            "recall_at_5_fused_order": recall(collected, None),
            "recall_at_5_cross_validated": grid[f"pool {best[0]}, l2 {best[1]}"],
            "recall_at_5_fitted": recall(collected, selector),
            "grid": grid,
        },
    }
    args.out.write_text(json.dumps(model, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(model, indent=2))


if __name__ == "__main__":
    main()
