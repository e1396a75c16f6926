"""The learned choice of the hits a search shows: features, the model file, the setting, and
the search over the real seed index."""

import json
from dataclasses import replace

import numpy as np
import pytest

from rag.answers.selection import BUNDLED, FEATURES, HitSelector, hit_features
from rag.errors import ConfigError
from rag.pipeline import Pipeline
from rag.settings import Settings
from rag.types import Chunk, Hit, Sentence
from tests.conftest import assert_model_file_refused

QUESTIONS = ["What did Araghchi say about enrichment?", "ماذا قال عراقجي عن تخصيب اليورانيوم؟"]


def hit(score, dense_score, dense_rank, bm25_rank, sentences):
    chunk = Chunk(id=f"a:{score}", article_id="a", ordinal=0, text="", start=0, end=0, sentences=())
    return Hit(
        chunk=chunk,
        score=score,
        dense_score=dense_score,
        dense_rank=dense_rank,
        bm25_rank=bm25_rank,
        sentences=[Sentence("", 0, 0, s) for s in sentences],
    )


def test_features_are_relative_to_the_other_hits():
    hits = [
        hit(0.2, 0.80, 1, None, [0.70, 0.90]),
        hit(0.1, None, None, 2, [0.80]),
        hit(0.05, 0.60, 4, 1, [0.60, 0.50, 0.65]),
    ]
    rows = dict(zip(FEATURES, hit_features(hits).T, strict=True))
    np.testing.assert_allclose(rows["fused"], [1.0, 0.5, 0.25])
    np.testing.assert_allclose(rows["place"], [1.0, 1 / 2, 1 / 3])
    np.testing.assert_allclose(rows["dense"], [1.0, 0.0, 0.25])
    np.testing.assert_allclose(rows["bm25"], [0.0, 0.5, 1.0])
    # a hit dense search did not find is given the pool's lowest similarity
    np.testing.assert_allclose(rows["similarity"], [0.0, -0.2, -0.2])
    best = np.array([0.90, 0.80, 0.65])
    standard = (best - best.mean()) / (best.std() + 1e-6)
    np.testing.assert_allclose(rows["sentence"], standard)
    # a one-sentence chunk's second best is its best
    second = (np.array([0.70, 0.80, 0.60]) - best.mean()) / (best.std() + 1e-6)
    np.testing.assert_allclose(rows["second_sentence"], second)
    np.testing.assert_allclose(rows["sentence_gap"], [0.0, -0.10, -0.25])


def test_the_choice_keeps_the_best_scored_hits_in_their_order():
    hits = [hit(0.2 - i / 100, 0.5, i + 1, None, [0.5]) for i in range(6)]
    prefers_late = HitSelector(0.0, tuple(-1.0 if n == "place" else 0.0 for n in FEATURES), 10)
    assert prefers_late.choose(hits, 3) == [3, 4, 5]
    assert prefers_late.choose(hits[:2], 3) == [0, 1]


def test_the_bundled_model_loads_and_chooses_from_more_than_it_shows():
    selector = HitSelector.load()
    assert selector.pool > Settings().rerank_pool
    assert len(selector.weights) == len(FEATURES)


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "No such file"),
        ("{", "Expecting property name"),
        (json.dumps({"pool": 10, "bias": 0}), "no 'weights'"),
        (
            json.dumps({"pool": 10, "bias": 0, "weights": {"fused": 1}}),
            "weights must name exactly",
        ),
        (
            json.dumps({"pool": 0, "bias": 0, "weights": dict.fromkeys(FEATURES, 0)}),
            "pool must be at least 1, got 0",
        ),
    ],
)
def test_a_bad_model_file_is_refused_with_the_reason(tmp_path, content, message):
    assert_model_file_refused(
        HitSelector.load, tmp_path / "selection.json", content, "hit selection model", message
    )


def test_the_setting_chooses_the_model(tmp_path):
    def chosen(choice):
        return Pipeline(Settings.load(environ={}, hit_selection=choice)).hit_selector()

    assert chosen("bundled") == HitSelector.load()
    assert chosen("none") is None
    model = tmp_path / "wider.json"
    data = json.loads(BUNDLED.read_text(encoding="utf-8"))
    data["pool"] = 20
    model.write_text(json.dumps(data), encoding="utf-8")
    assert chosen(str(model)).pool == 20
    with pytest.raises(ConfigError, match="cannot read the hit selection model"):
        chosen(str(tmp_path / "missing.json"))


@pytest.mark.parametrize("question", QUESTIONS)
@pytest.mark.parametrize("selector", ["bundled", "prefers late places"])
def test_a_search_shows_the_chosen_hits_in_the_rerank_order(seed_pipeline, question, selector):
    retriever = seed_pipeline.retriever()
    assert retriever.selector == HitSelector.load()
    if selector != "bundled":
        weights = tuple(-1.0 if n == "place" else 0.0 for n in FEATURES)
        retriever = replace(retriever, selector=HitSelector(0.0, weights, 10))
    five = retriever.rerank_pool
    pool = replace(retriever, rerank_by_sentence=False, selector=None).search(question, k=10).hits
    assert len(pool) > five  # the seed article has more chunks than a search shows
    chosen = [pool[i].chunk.id for i in retriever.selector.choose(pool, five)]
    if selector != "bundled":
        assert chosen == [h.chunk.id for h in pool[len(pool) - five :]]
    shown = retriever.search(question).hits
    assert sorted(h.chunk.id for h in shown) == sorted(chosen)
    # the rerank's order, but hits brought up from below the fused five come after the others
    fused_five = {h.chunk.id for h in pool[:five]}
    kept = [h.chunk.id in fused_five for h in shown]
    assert kept == sorted(kept, reverse=True)
    reranked = [h.chunk.id for h in retriever._rerank_by_sentence(list(shown))]
    for group in (True, False):
        in_group = [h.chunk.id for h, k in zip(shown, kept, strict=True) if k == group]
        assert in_group == [i for i in reranked if i in in_group]
