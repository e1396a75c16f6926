"""Whether the retrieved passages answer the question: when the extractive answer abstains.

A similarity threshold alone cannot tell a passage on the question's topic from one that
answers it (docs/benchmarks.md). These signals together do better:

- ``similarity``: the best sentence's similarity to the question (the embedder's view);
- ``agreement``: whether dense search and BM25 put the same chunk near the top
  (1/dense rank + 1/BM25 rank, the best over the hits; 2.0 when both rank it first);
- ``coverage``: the share of the question's words found in one hit (the best over the hits);
- ``names_missing``, ``numbers_missing``: how many of the question's names (in either
  script) and numbers the best sentence's passage lacks;
- ``type_missing``: 1 when the question asks for a number or a time and the best sentence
  holds none;
- ``asks_after``: 1 when the question names a month or year after the passage was published
  (``rag.answers.evidence``).

A logistic model of them, one per relation (question and passages in the same language, or
across), gives the probability that the passages answer; below its calibrated threshold
the answer abstains. A relation without a model (``null``) keeps the similarity thresholds
alone; the bundled file has both. Weights and thresholds live in
``rag/data/abstention.json``, written by ``benchmarks/calibrate_abstention.py`` (fitted on
every development set, folds grouped by article), which also records the rates each set
reached held out (docs/benchmarks.md).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from rag.answers import evidence
from rag.errors import ConfigError
from rag.text.arabic import tokenize
from rag.text.question import Question, as_question
from rag.types import Hit, Sentence

BUNDLED = Path(__file__).parent.parent / "data" / "abstention.json"
SIGNALS = (
    "similarity", "agreement", "coverage",
    "names_missing", "numbers_missing", "type_missing", "asks_after",
)  # fmt: skip
RELATIONS = ("same_language", "cross_language")


@dataclass(frozen=True)
class Evidence:
    """The signals abstention weighs, for one question and its hits."""

    similarity: float
    agreement: float
    coverage: float
    names_missing: float = 0.0
    numbers_missing: float = 0.0
    type_missing: float = 0.0
    asks_after: float = 0.0

    @classmethod
    def of(
        cls,
        question: Question | str,
        hits: list[Hit],
        best: Hit,
        sentence: Sentence,
        names: Mapping[str, Sequence[str]] | None = None,
    ) -> Evidence:
        """The evidence for ``question`` in ``hits``, whose best sentence is ``sentence``
        of ``best``; ``names``: the question's names with their spellings in the index
        (default: the question's own ``spellings``)."""
        question = as_question(question)
        names = question.spellings if names is None else names
        words = set(question.words)
        passage = f"{best.chunk.title} {best.chunk.text}"
        return cls(
            similarity=sentence.score,
            agreement=max(
                (h.dense_reciprocal_rank + h.bm25_reciprocal_rank for h in hits), default=0
            ),
            coverage=max((_share(words, h.chunk) for h in hits), default=0.0),
            names_missing=evidence.names_missing(names or {}, passage),
            numbers_missing=evidence.numbers_missing(question, passage),
            type_missing=float(evidence.answer_type_missing(question, sentence.text)),
            asks_after=float(evidence.asks_after(question, best.chunk.date)),
        )

    def values(self) -> list[float]:
        return [getattr(self, name) for name in SIGNALS]


def _share(words: set[str], chunk) -> float:
    """The share of ``words`` (the question's) that the chunk's headline or text holds."""
    return len(words & set(tokenize(f"{chunk.title} {chunk.text}"))) / len(words) if words else 0.0


@dataclass(frozen=True)
class Relation:
    """One logistic model: its bias, a weight per signal, and the abstention threshold."""

    bias: float
    weights: dict[str, float]
    threshold: float

    def probability(self, evidence: Evidence) -> float:
        z = self.bias + sum(w * getattr(evidence, name) for name, w in self.weights.items())
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))


@dataclass(frozen=True)
class AbstentionModel:
    """A model per relation; ``None`` leaves that relation to the similarity thresholds."""

    same_language: Relation | None
    cross_language: Relation | None

    def answerable(self, evidence: Evidence, *, cross_language: bool) -> tuple[float, bool]:
        """The probability that the passages answer, and whether it clears the threshold
        (without a model for the relation: the similarity, and yes)."""
        relation = self.cross_language if cross_language else self.same_language
        if relation is None:
            return evidence.similarity, True
        probability = relation.probability(evidence)
        return probability, probability >= relation.threshold

    @classmethod
    def load(cls, path: Path = BUNDLED) -> AbstentionModel:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            return cls(
                *(None if data[name] is None else _relation(data[name]) for name in RELATIONS)
            )
        except KeyError as error:
            raise ConfigError(f"cannot read the abstention model {path}: no {error}") from None
        except (OSError, ValueError, TypeError, AttributeError) as error:
            raise ConfigError(f"cannot read the abstention model {path}: {error}") from None


def _relation(data: dict) -> Relation:
    weights = {name: float(w) for name, w in data["weights"].items()}
    unknown = set(weights) - set(SIGNALS)
    if unknown:
        raise ValueError(f"unknown signals {sorted(unknown)}")
    threshold = float(data["threshold"])
    if not 0 <= threshold <= 1:
        raise ValueError(f"threshold must be a probability, got {threshold}")
    return Relation(float(data["bias"]), weights, threshold)
