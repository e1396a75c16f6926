"""Which of the best fused hits a search shows: a learned choice among a wider pool.

Fusion by reciprocal rank knows only the two lists' ranks; the passage that answers is often
just below the cut (R@10 is two points above R@5 on every set of docs/benchmarks.md). Before
the best sentences reorder the hits shown, a logistic model scores each of the best ``pool``
fused hits (after near-copies are collapsed) from signals the search already has, each taken
relative to the question's other hits, so that one model serves questions whose scores sit
at different heights:

- ``fused``: the fused score over the best one's; ``place``: 1 / place in the fused order;
- ``dense``, ``bm25``: 1 / rank in each list (0 when the list did not find it);
- ``similarity``: the chunk's dense similarity minus the pool's best;
- ``sentence``, ``second_sentence``: its best and second-best sentences' similarity,
  standardised over the pool's best sentences; ``sentence_gap``: best minus the pool's best.

The ``count`` hits it scores highest are kept, and ``Retriever`` shows them in the sentence
rerank's order, those brought up from below the fused ``count`` after the others. The weights
live in ``rag/data/selection.json``, written by ``benchmarks/fit_selection.py`` (fitted on
ARCD-train only), which records the data and the figures reached.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rag.errors import ConfigError
from rag.types import Hit

BUNDLED = Path(__file__).parent.parent / "data" / "selection.json"
FEATURES = (
    "fused",
    "place",
    "dense",
    "bm25",
    "similarity",
    "sentence",
    "second_sentence",
    "sentence_gap",
)


def hit_features(hits: list[Hit]) -> np.ndarray:
    """One row of ``FEATURES`` per hit, each relative to the others (hits in fused order,
    best sentences attached)."""
    fused = np.array([h.score for h in hits])
    dense = np.array([np.nan if h.dense_score is None else h.dense_score for h in hits])
    if np.isnan(dense).all():
        dense[:] = 0.0
    dense = np.where(np.isnan(dense), np.nanmin(dense), dense)
    best, second = np.array([_two_best(h) for h in hits]).T
    mean, spread = best.mean(), best.std() + 1e-6
    columns = {
        "fused": fused / fused.max(),
        "place": 1.0 / np.arange(1, len(hits) + 1),
        "dense": np.array([h.dense_reciprocal_rank for h in hits]),
        "bm25": np.array([h.bm25_reciprocal_rank for h in hits]),
        "similarity": dense - dense.max(),
        "sentence": (best - mean) / spread,
        "second_sentence": (second - mean) / spread,
        "sentence_gap": best - best.max(),
    }
    return np.column_stack([columns[name] for name in FEATURES])


def _two_best(hit: Hit) -> tuple[float, float]:
    scores = sorted((s.score for s in hit.sentences), reverse=True) or [0.0]
    return scores[0], scores[1] if len(scores) > 1 else scores[0]


@dataclass(frozen=True)
class HitSelector:
    """A logistic model over ``FEATURES``: which ``count`` of the best ``pool`` hits to show.

    >>> selector = HitSelector.load()                   # doctest: +SKIP
    >>> selector.choose(hits[: selector.pool], 5)       # doctest: +SKIP
    [0, 1, 2, 4, 7]
    """

    bias: float
    weights: tuple[float, ...]  # one per name in FEATURES
    pool: int

    def scores(self, hits: list[Hit]) -> np.ndarray:
        return self.bias + hit_features(hits) @ np.array(self.weights)

    def choose(self, hits: list[Hit], count: int) -> list[int]:
        """The places of the ``count`` hits scored highest, in their given order."""
        if len(hits) <= count:
            return list(range(len(hits)))
        scores = self.scores(hits)
        best = sorted(range(len(hits)), key=lambda i: -scores[i])[:count]
        return sorted(best)

    @classmethod
    def load(cls, path: Path = BUNDLED) -> HitSelector:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            weights = data["weights"]
            unknown = set(weights) ^ set(FEATURES)
            if unknown:
                raise ValueError(f"weights must name exactly {list(FEATURES)}")
            pool = int(data["pool"])
            if pool < 1:
                raise ValueError(f"pool must be at least 1, got {pool}")
            return cls(float(data["bias"]), tuple(float(weights[n]) for n in FEATURES), pool)
        except KeyError as error:
            raise ConfigError(f"cannot read the hit selection model {path}: no {error}") from None
        except (OSError, ValueError, TypeError, AttributeError) as error:
            raise ConfigError(f"cannot read the hit selection model {path}: {error}") from None
