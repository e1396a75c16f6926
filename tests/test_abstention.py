"""The abstention model: its signals, the bundled calibration, and clear errors for a bad file."""

import json

import pytest

from rag.answers.abstention import BUNDLED, AbstentionModel, Evidence
from rag.errors import ConfigError
from rag.pipeline import Pipeline
from rag.settings import Settings
from rag.types import Chunk, Hit, Sentence
from tests.conftest import assert_model_file_refused


def hit(text, dense_rank=None, bm25_rank=None, title="", date=""):
    chunk = Chunk("a:0", "a", 0, text, 0, len(text), (), title=title, date=date)
    return Hit(chunk=chunk, score=0.1, dense_rank=dense_rank, bm25_rank=bm25_rank)


def sentence(text, score):
    return Sentence(text, 0, len(text), score)


def test_evidence_takes_the_best_agreement_and_the_best_coverage_over_the_hits():
    hits = [
        hit("نص آخر", dense_rank=2, bm25_rank=1),
        hit("وزير الخارجية عراقجي تحدث عن التخصيب", dense_rank=1, bm25_rank=3),
    ]
    question = "ماذا قال عراقجي عن التخصيب؟"
    evidence = Evidence.of(question, hits, hits[1], sentence(hits[1].chunk.text, 0.85))
    assert evidence.similarity == 0.85
    assert evidence.agreement == pytest.approx(1.5)  # 1/2 + 1/1 beats 1/1 + 1/3
    assert evidence.coverage == pytest.approx(0.5)  # عراقجي, تخصيب of ماذا قال عراقجي تخصيب
    lone = [hit("نص آخر", dense_rank=1)]
    alone = Evidence.of(question, lone, lone[0], sentence("نص آخر", 0.8))
    assert alone.agreement == 1.0 and alone.coverage == 0.0


def test_evidence_reads_names_numbers_the_answer_type_and_time_from_the_best_passage():
    best = hit("قال عراقجي إن ٣ جولات عقدت", dense_rank=1, date="2015-08-02")
    question = "How many rounds did Araghchi and Zarif hold in 2015 and in December 2016?"
    names = {"Araghchi": ("عراقجي",), "Zarif": ("ظريف",)}  # as the index spells them
    quoted = sentence("قال عراقجي إن الجولات عقدت", 0.8)
    evidence = Evidence.of(question, [best], best, quoted, names)
    assert evidence.names_missing == 1  # Zarif; Araghchi is there in Arabic script
    assert evidence.numbers_missing == 2  # 2015 and 2016
    assert evidence.type_missing == 1.0  # "how many", and the sentence has no number
    assert evidence.asks_after == 1.0  # December 2016, after an article of August 2015


def test_the_bundled_model_weighs_the_evidence_in_both_relations():
    model = AbstentionModel.load()
    for cross in (False, True):
        relation = model.cross_language if cross else model.same_language
        assert 0 < relation.threshold < 1
        assert relation.weights["similarity"] > 0 and relation.weights["agreement"] > 0
        for against in ("numbers_missing", "type_missing", "asks_after"):
            assert relation.weights[against] < 0, against
        strong = Evidence(similarity=0.88, agreement=2.0, coverage=1.0)
        on_topic = Evidence(similarity=0.80, agreement=0.2, coverage=0.2)  # similar, not agreed
        assert model.answerable(strong, cross_language=cross)[1]
        assert not model.answerable(on_topic, cross_language=cross)[1]
        # the same passage, written before the month the question asks about
        later = Evidence(similarity=0.88, agreement=2.0, coverage=1.0, asks_after=1.0)
        assert (
            model.answerable(later, cross_language=cross)[0]
            < (model.answerable(strong, cross_language=cross)[0])
        )


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "No such file"),
        ("{not json", "Expecting property name"),
        ('{"same_language": {}}', "no 'weights'"),
        ("[1, 2]", "list indices"),
        (
            json.dumps(
                {
                    name: {"bias": 0, "weights": {"length": 1}, "threshold": 0.5}
                    for name in ("same_language", "cross_language")
                }
            ),
            "unknown signals ['length']",
        ),  # fmt: skip
        (
            json.dumps(
                {
                    name: {"bias": 0, "weights": {}, "threshold": 1.5}
                    for name in ("same_language", "cross_language")
                }
            ),
            "threshold must be a probability",
        ),  # fmt: skip
    ],
)
def test_a_bad_model_file_is_refused_with_the_reason(tmp_path, content, message):
    assert_model_file_refused(
        AbstentionModel.load, tmp_path / "model.json", content, "abstention model", message
    )


def test_the_setting_chooses_the_model(tmp_path, seed_pipeline):
    assert seed_pipeline.answerer().extractive.abstention == AbstentionModel.load()

    def chosen(choice):
        return Pipeline(Settings.load(environ={}, abstention_model=choice)).abstention_model()

    assert chosen("none") is None
    model = tmp_path / "stricter.json"
    data = json.loads(BUNDLED.read_text(encoding="utf-8"))
    data["same_language"]["threshold"] = 0.99
    model.write_text(json.dumps(data), encoding="utf-8")
    assert chosen(str(model)).same_language.threshold == 0.99
    with pytest.raises(ConfigError, match="cannot read the abstention model"):
        chosen(str(tmp_path / "missing.json"))
