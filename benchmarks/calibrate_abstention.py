"""Fit the extractive answer's abstention model (rag/abstention.py) and write it.

    python benchmarks/calibrate_abstention.py --index-dir index/benchmark-retrieval \\
        --skip 200 --out rag/data/abstention.json

Data: XQuAD-dev questions from ``--skip`` on (Arabic questions: same language; English
questions over the Arabic paragraphs: across languages), over the retrieval benchmark's
index. Each question is asked twice: as it is (answerable), and with every paragraph of its
Wikipedia article hidden from retrieval (unanswerable). The first ``--skip`` questions are
left out so that benchmarks/answers.py (which reads the first 200) measures the model on
questions it was not fitted on.

Per relation, a logistic regression of the signals (standardised, a little L2, Newton
steps) predicts "answerable"; the threshold is the probability below which at most
``--max-false-abstention`` of the answerable questions fall. The JSON records the weights
(on the raw signals), the threshold, the data and the rates reached on it. By default the
cross-language model is recorded but not used (``--cross-language fit`` uses it): fitted on
these data it refused the seed's English question, see docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import logistic_fit, xquad_questions  # noqa: E402

from rag.abstention import SIGNALS  # noqa: E402
from rag.pipeline import Pipeline  # noqa: E402
from rag.retrieval import Filters  # noqa: E402
from rag.settings import Settings  # noqa: E402


def collect(answerer, questions, hidden_ids) -> list[dict]:
    """One row per (question, condition): the signals, the relation, and the label."""
    rows = []
    for question in questions:
        for answerable in (True, False):
            filters = None if answerable else Filters(exclude_articles=hidden_ids(question))
            hits = answerer.retriever.search(question.text, filters=filters).hits
            found = answerer.extractive.evidence(question.text, hits)
            if found is None:  # nothing to quote: abstains whatever the model says
                continue
            evidence, cross = found
            rows.append({"signals": evidence.values(), "cross": cross, "answerable": answerable})
    return rows


def fit(rows: list[dict], max_false_abstention: float, l2: float = 1e-2) -> dict:
    x = np.array([r["signals"] for r in rows], dtype=float)
    y = np.array([r["answerable"] for r in rows], dtype=float)
    bias, weights = logistic_fit(x, y, l2)
    probability = 1 / (1 + np.exp(-(bias + x @ weights)))
    answerable = np.sort(probability[y == 1])
    threshold = float(answerable[int(max_false_abstention * len(answerable))])
    return {
        "bias": float(bias),
        "weights": {name: float(v) for name, v in zip(SIGNALS, weights, strict=True)},
        "threshold": threshold,
        "fitted_on": {
            "answerable": int(y.sum()),
            "unanswerable": int(len(y) - y.sum()),
            "abstention_answerable": float((probability[y == 1] < threshold).mean()),
            "abstention_unanswerable": float((probability[y == 0] < threshold).mean()),
        },
    }


NOT_USED = (
    "fitted on these data it refused the seed's English Araghchi question (docs/benchmarks.md, "
    '"Abstention from three signals"); English questions keep the similarity threshold'
)


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--index-dir", type=Path, default=Path("index/benchmark-retrieval"))
    parser.add_argument("--skip", type=int, default=200)
    parser.add_argument("--max-false-abstention", type=float, default=0.10)
    parser.add_argument(
        "--cross-language",
        choices=("off", "fit"),
        default="off",
        help="off (the bundled choice): English questions keep the similarity thresholds; "
        "the fitted model is recorded beside, unused",
    )
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    answerer = Pipeline(Settings.load(index_dir=args.index_dir)).answerer()
    arabic, english, article_of = xquad_questions()
    rows = collect(answerer, arabic[args.skip :] + english[args.skip :], article_of)
    model = {
        "about": (
            "Abstention model of the extractive answer (rag/abstention.py), written by "
            f"benchmarks/calibrate_abstention.py on {datetime.date.today().isoformat()}: "
            f"XQuAD-dev questions {args.skip}+ (Arabic; English over the Arabic paragraphs) "
            f"over {args.index_dir.name}, answerable as asked, unanswerable with their "
            f"Wikipedia article hidden; threshold at {args.max_false_abstention:.0%} "
            "false abstention."
        ),
        "same_language": fit([r for r in rows if not r["cross"]], args.max_false_abstention),
        "cross_language": None,
    }
    cross = fit([r for r in rows if r["cross"]], args.max_false_abstention)
    if args.cross_language == "fit":
        model["cross_language"] = cross
    else:
        model["cross_language_fitted_not_used"] = {**cross, "why": NOT_USED}
    args.out.write_text(json.dumps(model, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(model, indent=2))


if __name__ == "__main__":
    main()
