"""Extractive answers on XQuAD-dev (Arabic questions, and English questions over the Arabic
paragraphs), over the retrieval benchmark's index (build it first with retrieval.py).

    python benchmarks/answers.py --index-dir index/benchmark-retrieval \
        --out docs/benchmarks/answers.json

Answerable: the question as it is. Unanswerable: the same question asked of the index
without its article (``--hide article``, the default: every paragraph of the question's
Wikipedia article left out of retrieval), or, harder, without just its gold paragraph
(``--hide paragraph``: the article's other paragraphs, on the same topic, remain).
Reports, as the answerer answered (with the abstention model of the settings), the share of
answerable questions whose answer contains the gold answer (Arabic-normalised) and whose
first citation is the gold paragraph, and the abstention rates; and, for reference, the same
with the confidence threshold calibrated in-sample at --max-false-abstention (the highest
whose false abstention on answerable questions stays within it).
With RAG_ABSTENTION_MODEL=none, confidence is the best sentence's similarity (the previous
releases' rule).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import emit, xquad_questions  # noqa: E402

from rag.answers.retrieval import Filters  # noqa: E402
from rag.pipeline import Pipeline  # noqa: E402
from rag.settings import Settings  # noqa: E402
from rag.text.arabic import normalize  # noqa: E402


def contains(answer_text: str, golds) -> bool:
    text = normalize(answer_text)
    return any(normalize(g).strip() and normalize(g).strip() in text for g in golds)


def run(answerer, questions, hidden_ids):
    rows = []
    for q in questions:
        answerable = answerer.answer(q.text)
        hidden = answerer.answer(q.text, filters=Filters(exclude_articles=hidden_ids(q)))
        rows.append(
            {
                "id": q.id,
                "contains": contains(answerable.text, q.answers),
                "first_gold": bool(answerable.citations)
                and answerable.citations[0].article_id == q.article_id,
                "abstained_answerable": answerable.abstained,
                "abstained_unanswerable": hidden.abstained,
                "confidence_answerable": answerable.confidence,
                "confidence_unanswerable": hidden.confidence,
            }
        )
    return rows


def summarize(rows, threshold=None):
    """The rates as answered (``threshold=None``), or with abstention below ``threshold``."""

    def abstains(row, condition):
        if threshold is None:
            return row["abstained_" + condition]
        return row["abstained_" + condition] or row["confidence_" + condition] < threshold

    n = len(rows)
    answered = [r for r in rows if not abstains(r, "answerable")]
    return {
        "questions": n,
        "threshold": None if threshold is None else round(threshold, 4),
        "gold_contained": sum(r["contains"] for r in answered) / n,
        "first_citation_gold": sum(r["first_gold"] for r in answered) / n,
        "abstention_answerable": 1 - len(answered) / n,
        "abstention_unanswerable": sum(abstains(r, "unanswerable") for r in rows) / n,
    }


def calibrate(rows, max_false_abstention):
    """In-sample: the confidence below which ``max_false_abstention`` of answerable fall."""
    scores = sorted(r["confidence_answerable"] for r in rows)
    return scores[int(max_false_abstention * len(scores))]


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--index-dir", type=Path, default=Path("index/benchmark-retrieval"))
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--max-false-abstention", type=float, default=0.10)
    parser.add_argument("--hide", choices=("article", "paragraph"), default="article")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    pipeline = Pipeline(Settings.load(index_dir=args.index_dir))
    answerer = pipeline.answerer()
    xq_ar, xq_en, article_of = xquad_questions()

    def hidden_ids(q):
        return (q.article_id,) if args.hide == "paragraph" else article_of(q)

    results = {}
    for name, questions in (("xquad-ar", xq_ar), ("xquad-en", xq_en)):
        rows = run(answerer, questions[: args.limit], hidden_ids)
        results[name] = {
            "as_answered": summarize(rows),
            "in_sample_calibrated": summarize(rows, calibrate(rows, args.max_false_abstention)),
            "abstention_model": pipeline.settings.abstention_model,
            "hidden": args.hide,
        }
    emit(results, args.out)


if __name__ == "__main__":
    main()
