"""Metric functions, each checked against hand-computed values in tests/test_evaluation.py.

Answer normalisation (SQuAD's, extended for Arabic), applied to both sides before
comparing: ``rag.text.arabic.normalize`` (removes diacritics and tatweel; folds أ إ آ ٱ to ا,
ؤ to و, ئ and ى to ي, ة to ه; Arabic-Indic digits to ASCII), lower case, punctuation
(ASCII and Arabic ، ؛ ؟ « » and the like) removed, the English articles a/an/the removed,
whitespace collapsed. The Arabic article ال is kept: removing it also cuts words that
merely start with those letters.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence

from rag.text.arabic import normalize as normalize_arabic

_ENGLISH_ARTICLES = re.compile(r"\b(a|an|the)\b")

# the order reports list metrics in (others follow, by name)
METRIC_ORDER = (
    "recall@1", "recall@5", "recall@20", "mrr@10", "ndcg@10",
    "exact_match", "f1", "contains_answer",
    "citation_precision", "citation_recall", "first_citation_gold", "cited_from_gold",
    "unsupported_claims",
    "abstention", "abstention_without_gold", "false_abstention",
    "language_ok", "judge_correct", "judge_faithful",
)  # fmt: skip


def normalize_answer(text: str) -> str:
    text = normalize_arabic(text).lower()
    text = "".join(" " if unicodedata.category(ch).startswith("P") else ch for ch in text)
    text = _ENGLISH_ARTICLES.sub(" ", text)
    return " ".join(text.split())


def exact_match(prediction: str, golds: Sequence[str]) -> float:
    predicted = normalize_answer(prediction)
    return float(any(predicted == normalize_answer(g) for g in golds))


def token_f1(prediction: str, golds: Sequence[str]) -> float:
    """SQuAD's token F1, the best over the gold answers."""
    predicted = normalize_answer(prediction).split()
    best = 0.0
    for gold in golds:
        expected = normalize_answer(gold).split()
        common = sum((Counter(predicted) & Counter(expected)).values())
        if not common:
            continue
        precision, recall = common / len(predicted), common / len(expected)
        best = max(best, 2 * precision * recall / (precision + recall))
    return best


def contains_answer(text: str, golds: Sequence[str]) -> float:
    """1 when a (normalised, non-empty) gold answer appears inside the (normalised) text."""
    haystack = f" {normalize_answer(text)} "
    return float(any(g and f" {g} " in haystack for g in map(normalize_answer, golds)))


def recall_at(rank: int | None, k: int) -> float:
    return float(rank is not None and rank <= k)


def reciprocal_rank(rank: int | None, k: int = 10) -> float:
    return 1.0 / rank if rank is not None and rank <= k else 0.0


def ndcg_at(relevant: Sequence[bool], k: int = 10) -> float:
    """Binary-relevance nDCG@k; the ideal ranking puts every relevant result found first."""
    gains = [1.0 / math.log2(i + 2) for i, hit in enumerate(relevant[:k]) if hit]
    ideal_count = min(sum(relevant), k)
    if not ideal_count:
        return 0.0
    return sum(gains) / sum(1.0 / math.log2(i + 2) for i in range(ideal_count))


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) by linear interpolation; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None
