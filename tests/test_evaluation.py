"""`rag eval`: metric functions by hand, dataset readers, and a small end-to-end run."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rag.cli import app
from rag.evaluation import metrics as m
from rag.evaluation.datasets import DatasetError, EvalQuestion, load_dataset
from rag.evaluation.report import compare_runs
from rag.evaluation.runner import citation_holds_answer, is_gold_chunk
from rag.pipeline import Pipeline
from rag.settings import Settings
from rag.types import Chunk, Citation
from tests.conftest import SHARED_DATA

XQUAD_AR = SHARED_DATA / "qa" / "xquad-dev.ar.json"
XQUAD_EN = SHARED_DATA / "qa" / "xquad-dev.en.json"


# ----- metrics, against values computed by hand ----------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The Eiffel Tower!", "eiffel tower"),
        ("  a  cat, an owl ", "cat owl"),
        ("أَعْلَنَ الرَّئِيسُ", "اعلن الرييس"),  # diacritics; hamza on yeh folded
        ("مدرسة «الأمل»؟", "مدرسه الامل"),  # ta marbuta, alef with hamza, Arabic punctuation
        ("٢٠١٥ م", "2015 م"),  # Arabic-Indic digits
        ("إلى مستشفى", "الي مستشفي"),  # alef with hamza below, alef maqsura
    ],
)
def test_normalize_answer(text, expected):
    assert m.normalize_answer(text) == expected


def test_exact_match_and_f1_by_hand():
    assert m.exact_match("The Eiffel tower.", ["eiffel tower", "x"]) == 1.0
    assert m.exact_match("Eiffel", ["eiffel tower"]) == 0.0
    # prediction "paris france city" vs gold "paris city": common 2; P=2/3, R=1 -> F1 0.8
    assert m.token_f1("Paris, France city", ["Paris city"]) == pytest.approx(0.8)
    # the best gold counts
    assert m.token_f1("عام 2015", ["1990", "عام ٢٠١٥"]) == pytest.approx(1.0)
    assert m.token_f1("nothing shared", ["other words"]) == 0.0


def test_containment_respects_word_boundaries():
    assert m.contains_answer("قال إنّ حق إيران في التخصيب", ["ايران"]) == 1.0
    assert m.contains_answer("the category", ["cat"]) == 0.0
    assert m.contains_answer("anything", [""]) == 0.0


def test_ranking_metrics_by_hand():
    assert m.recall_at(3, 5) == 1.0 and m.recall_at(6, 5) == 0.0 and m.recall_at(None, 5) == 0
    assert m.reciprocal_rank(4) == 0.25 and m.reciprocal_rank(11) == 0.0
    # relevant at ranks 2 and 4: DCG = 1/log2(3) + 1/log2(5); ideal = 1 + 1/log2(3)
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    assert m.ndcg_at([False, True, False, True], 10) == pytest.approx(dcg / (1 + 1 / math.log2(3)))
    assert m.ndcg_at([False] * 5) == 0.0
    assert m.percentile([10, 20, 30, 40], 50) == 25.0 and m.percentile([], 95) == 0.0


def test_gold_chunk_and_citation_rules():
    q = EvalQuestion("q1", "?", ("تخصيب",), "ar", gold_article="a1", answer_start=120)
    assert is_gold_chunk(Chunk("a1:1", "a1", 1, "text", 100, 200, ()), q)
    assert not is_gold_chunk(Chunk("a1:0", "a1", 0, "text", 0, 100, ()), q)
    other_article = Chunk("b:0", "b", 0, "x", 0, 9, ())
    assert not is_gold_chunk(other_article, q)
    assert is_gold_chunk(other_article, q, ["a1:3"])  # a collapsed near-copy of the gold
    covering = Citation(1, "a1", "a1:1", "t", "", "", "", "quote", 110, 130)
    elsewhere = Citation(2, "a1", "a1:2", "t", "", "", "", "no answer here", 300, 330)
    wrong_article = Citation(3, "a2", "a2:0", "t", "", "", "", "تخصيب", 0, 5)
    assert citation_holds_answer(covering, q)
    assert not citation_holds_answer(elsewhere, q)
    assert not citation_holds_answer(wrong_article, q)


# ----- dataset readers ----------------------------------------------------------------


def test_squad_reader_and_parallel_pairing():
    arabic = load_dataset(XQUAD_AR)
    assert len(arabic.questions) == 612 and len(arabic.contexts) == 120
    q = arabic.questions[0]
    context = next(a for a in arabic.contexts if a.id == q.gold_article)
    assert context.text[q.answer_start :].startswith(q.answers[0])
    paired = load_dataset(XQUAD_EN, contexts=XQUAD_AR)
    first = paired.questions[0]
    assert first.lang == "en" and first.answers == q.answers  # gold from the Arabic side
    assert paired.contexts[0].text == arabic.contexts[0].text


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_jsonl_reader(tmp_path):
    path = _write(
        tmp_path,
        "qs.jsonl",
        '{"question": "Who?", "answers": ["Araghchi"], "gold_article": "a1"}\n\n'
        '{"question": "ماذا؟", "answers": [], "answerable": false, "id": "x"}\n',
    )
    questions = load_dataset(path).questions
    assert [q.lang for q in questions] == ["en", "ar"]
    assert questions[0].answerable and not questions[1].answerable and questions[1].id == "x"


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        (
            "bad.jsonl",
            '{"question": "ok", "answers": []}\n{"question": \n',
            "bad.jsonl: line 2: not valid JSON",
        ),
        ("bad.jsonl", '{"answers": ["x"]}\n', "bad.jsonl: line 1: missing 'question'"),
        (
            "bad.jsonl",
            '{"question": "q", "answers": [1]}\n',
            "line 1: 'answers' must be a list of strings",
        ),
        ("bad.jsonl", "\n\n", "bad.jsonl: no questions"),
        ("bad.json", '{"data": [\n{"title": "x",\n]}', "bad.json: line 3: not valid JSON"),
        ("bad.json", '{"version": 1}', "not SQuAD format"),
        (
            "bad.json",
            '{"data": [{"paragraphs": [{"qas": []}]}]}',
            "data[0].paragraphs[0]: no context",
        ),
        ("bad.csv", "question,answer\n", "expected a SQuAD .json or a .jsonl file"),
    ],
)
def test_broken_datasets_get_a_clear_message(tmp_path, name, text, message):
    with pytest.raises(DatasetError, match=None) as raised:
        load_dataset(_write(tmp_path, name, text))
    assert message in str(raised.value)


def test_compare_lists_better_and_worse():
    def row(qid, contains):
        return {"id": qid, "question": qid, "answerable": True,
                "metrics": {"contains_answer": contains, "f1": 0.0}}  # fmt: skip

    a = ({"metrics": {"f1": {"mean": 0.5, "n": 2}}}, [row("q1", 0.0), row("q2", 1.0)])
    b = ({"metrics": {"f1": {"mean": 0.75, "n": 2}}}, [row("q1", 1.0), row("q2", 0.0)])
    result = compare_runs(a, b)
    assert result["metrics"]["f1"]["delta"] == pytest.approx(0.25)
    assert [x["id"] for x in result["better"]] == ["q1"]
    assert [x["id"] for x in result["worse"]] == ["q2"]


# ----- end to end ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_xquad(tmp_path_factory) -> Path:
    """The first two paragraphs of the first two XQuAD-dev articles, in Arabic."""
    data = json.loads(XQUAD_AR.read_text(encoding="utf-8"))
    for article in data["data"]:
        article["paragraphs"] = article["paragraphs"][:2]
    data["data"] = data["data"][:2]
    path = tmp_path_factory.mktemp("data") / "xquad-small.ar.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


@pytest.mark.slow
def test_end_to_end_eval_writes_results_and_a_report_that_opens(small_xquad, tmp_path, models_dir):
    out = tmp_path / "runs" / "small"
    result = CliRunner().invoke(
        app,
        ["eval", str(small_xquad), "--build-from-contexts", "--limit", "8", "--out", str(out)],
        env={"RAG_MODELS_DIR": str(models_dir)},
    )
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert len(rows) == 8
    assert {"recall@5", "f1", "contains_answer", "citation_recall"} <= set(rows[0]["metrics"])
    summary = json.loads((out / "summary.json").read_text())
    assert summary["metrics"]["recall@20"]["mean"] > 0.5
    assert summary["run"]["index"]["embedder"]["model"] and summary["run"]["git_commit"]
    # retrieval is measured in the order the chat shows, hit selection and rerank included
    pipeline = Pipeline(Settings.load(index_dir=out / "index", models_dir=models_dir, environ={}))
    shown = pipeline.retriever().search(rows[0]["question"], k=20).hits
    assert rows[0]["retrieved"] == [h.chunk.id for h in shown]

    compared = CliRunner().invoke(app, ["eval", "compare", str(out), str(out)])
    assert compared.exit_code == 0 and "0 questions better" in compared.output

    _open_report_in_chromium(out / "report.html")


def _open_report_in_chromium(report: Path) -> None:
    from playwright.sync_api import sync_playwright

    from tests.browser import CHROMIUM, CHROMIUM_FLAGS

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        page = browser.new_page()
        page.goto(report.as_uri())
        table = page.locator("table.metrics").first
        table.wait_for()
        assert "recall@5" in table.inner_text() and "contains_answer" in table.inner_text()
        assert page.locator("img[alt='recall at k']").evaluate("e => e.naturalWidth") > 0
        browser.close()


def test_a_repeated_paragraph_is_indexed_once_and_its_questions_keep_their_gold(tmp_path):
    from rag.evaluation.datasets import load_dataset

    text = "The Qatrah plant in Jubail opened in 2015. It makes water for 300,000 homes."
    squad = {"data": [
        {"title": "A", "paragraphs": [{"context": text, "qas": [
            {"id": "q1", "question": "When did the Qatrah plant open?",
             "answers": [{"text": "2015", "answer_start": text.index("2015")}]}]}]},
        {"title": "B", "paragraphs": [{"context": text, "qas": [
            {"id": "q2", "question": "How many homes does the Qatrah plant serve?",
             "answers": [{"text": "300,000", "answer_start": text.index("300,000")}]}]}]},
    ]}  # fmt: skip
    path = _write(tmp_path, "repeat.json", json.dumps(squad))
    merged, moved = load_dataset(path).merge_repeated_contexts()
    assert moved == {"repeat-1-0": "repeat-0-0"} and len(merged.contexts) == 1
    assert [q.gold_article for q in merged.questions] == ["repeat-0-0", "repeat-0-0"]
    assert merged.questions[1].answer_start == text.index("300,000")  # same text: same place

    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["eval", str(path), "--build-from-contexts", "--out",
                                      str(out), "--no-hidden-gold"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "repeat-1-0 -> repeat-0-0" in result.output
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert [row["metrics"]["recall@5"] for row in rows] == [1.0, 1.0]


def test_eval_errors_are_one_line(tmp_path):
    broken = _write(tmp_path, "broken.jsonl", "not json\n")
    result = CliRunner().invoke(app, ["eval", str(broken), "--out", str(tmp_path / "r")])
    assert result.exit_code == 1
    assert "broken.jsonl: line 1: not valid JSON" in result.output
    missing = CliRunner().invoke(app, ["eval", str(broken)])
    assert missing.exit_code == 2 and "--out is required" in missing.output


def test_exported_feedback_is_a_dataset_rag_eval_reads(tmp_path):
    from rag.feedback import FeedbackStore
    from rag.types import Answer

    citation = Citation(1, "a1", "a1:0", "t", "wire", "2025-04-16", "", "quoted sentence", 3, 18)
    answer = Answer("What did Araghchi say?", "«quoted sentence» [1]", [citation], [], [],
                    "en", "en", False, "extractive")  # fmt: skip
    store = FeedbackStore(tmp_path)
    store.record(answer, 1, channel="web")
    store.record(answer, -1, channel="slack")
    with open(tmp_path / "liked.jsonl", "w", encoding="utf-8") as out:
        assert store.export(out) == 1  # 👍 only: a 👎 has no gold answer to score against
    questions = load_dataset(tmp_path / "liked.jsonl").questions
    assert questions[0].answers == ("quoted sentence",) and questions[0].gold_article == "a1"
    with open(tmp_path / "all.jsonl", "w", encoding="utf-8") as out:
        assert store.export(out, include_negative=True) == 2
    rows = [json.loads(line) for line in (tmp_path / "all.jsonl").read_text().splitlines()]
    assert rows[1]["feedback"]["rating"] == -1 and rows[1]["feedback"]["channel"] == "slack"


def test_news_dev_shape_gold_by_url_copies_per_language_and_the_tradeoff(tmp_path):
    """news-dev's JSONL: gold by URL, other newspapers' copies count, unanswerable rows
    score abstention, every metric per language, the trade-off curve in the report."""
    from rag.news.documents import load
    from tests.conftest import SEED_FILE

    seed = next(iter(load([SEED_FILE])))
    seed_title, seed_text = seed.title, seed.text
    articles = [
        {"title": "Qatrah plant opens", "url": "https://a.example/qatrah",
         "content": "The Qatrah desalination plant opened in Jubail on Thursday. It will "
                    "produce 600,000 cubic metres of water a day."},
        {"title": "Jubail gets water", "url": "https://b.example/jubail",
         "content": "Jubail's new Qatrah plant, opened on Thursday, is to produce 600,000 "
                    "cubic metres of water daily, its operator said."},
        {"title": "Falcons", "url": "https://c.example/falcons",
         "content": "The falcon festival drew twelve thousand visitors to the lake."},
        {"title": seed_title, "url": "https://d.example/letter", "content": seed_text},
    ]  # fmt: skip
    corpus = _write(tmp_path, "articles.jsonl", "\n".join(json.dumps(a) for a in articles))
    index = tmp_path / "index"
    assert (
        CliRunner().invoke(app, ["ingest", str(corpus), "--index-dir", str(index)]).exit_code == 0
    )
    questions = [
        {"id": "e1", "lang": "en", "question": "How much water will the Qatrah plant produce a day?",
         "answers": ["600,000 cubic metres"], "answers_en": [], "gold_url": "https://a.example/qatrah",
         "answerable": True, "also_urls": ["https://b.example/jubail"]},
        {"id": "e2", "lang": "en", "question": "Who won the 2030 World Cup final?", "answers": [],
         "gold_url": None, "answerable": False, "also_urls": []},
        {"id": "a1", "lang": "ar", "question": "ماذا قال عراقجي عن التخصيب؟",
         "answers": ["غير قابل للتفاوض"], "gold_url": "https://d.example/letter",
         "answerable": True, "also_urls": []},
        {"id": "a2", "lang": "ar", "question": "من فاز بنهائي كأس العالم 2030؟", "answers": [],
         "gold_url": None, "answerable": False, "also_urls": []},
    ]  # fmt: skip
    dataset = _write(tmp_path, "news.jsonl", "\n".join(json.dumps(q, ensure_ascii=False)
                                                        for q in questions))  # fmt: skip
    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["eval", str(dataset), "--index", str(index), "--out",
                                      str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = [line.strip() for line in result.output.splitlines()]  # past progress bars
    assert next(line for line in lines if line.startswith("metric")).split() == [
        "metric", "all", "ar", "en",
    ]  # fmt: skip
    rows = {r["id"]: r for r in map(json.loads, (out / "results.jsonl").read_text().splitlines())}
    assert rows["e1"]["metrics"]["recall@5"] == 1.0
    assert rows["e1"]["metrics"]["first_citation_gold"] == 1.0
    assert rows["a1"]["metrics"]["contains_answer"] == 1.0
    assert "abstention" in rows["e2"]["metrics"] and "recall@5" not in rows["e2"]["metrics"]
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["by_lang"]) == {"ar", "en"}
    assert "cited_from_gold" in summary["by_lang"]["en"]["metrics"]
    assert "Abstention trade-off" in (out / "report.html").read_text()


def test_the_abstention_curve_runs_from_refusing_nothing_to_refusing_everything():
    from rag.evaluation.report import abstention_curve

    rows = [{"answerable": True, "confidence": c} for c in (0.9, 0.8, 0.3)] + [
        {"answerable": False, "confidence": c} for c in (0.2, 0.5)
    ]
    curve = abstention_curve(rows)
    assert curve[0][1:] == (0.0, 0.0) and curve[-1][1:] == (1.0, 1.0)
    assert all(a[1] <= b[1] and a[2] <= b[2] for a, b in zip(curve, curve[1:], strict=False))
    assert (0.5, 1 / 3, 0.5) in curve  # refusing below 0.5: one answerable, one not


# ----- questions about time (news-time-dev) -------------------------------------------------


def _time_answer(*cited: tuple[str, str, str, str], abstained: bool = False):
    """An answer citing (article id, date, headline, quote) in order."""
    from rag.types import Answer

    citations = [
        Citation(n, aid, f"{aid}#0", title, "src", day, "", quote, 0, len(quote))
        for n, (aid, day, title, quote) in enumerate(cited, start=1)
    ]
    return Answer("q", "text", citations, [], [], "en", "en", abstained, "extractive")


LONG = "قال المسؤول إن الاجتماع سيعقد في الرياض الأسبوع المقبل"


def test_news_time_dev_is_read_with_its_kinds_days_and_turns():
    dataset = load_dataset(SHARED_DATA / "qa" / "news-time-dev.jsonl")
    kinds = {q.kind for q in dataset.questions}
    assert len(dataset.questions) == 48
    assert kinds == {"digest", "topic_day", "latest", "empty_day", "followup_latest"}
    follow_up = next(q for q in dataset.questions if q.kind == "followup_latest")
    assert follow_up.history and follow_up.as_of and "newest" in follow_up.expect


@pytest.mark.parametrize(("kind", "expect", "cited", "failed"), [
    ("digest", {"day": "2015-07-22"},
     [("a", "2015-07-22", "السعودية تعلن ميزانية", LONG),
      ("b", "2015-07-22", "اليمن هدنة إنسانية", LONG),
      ("c", "2015-07-22", "النفط يرتفع", LONG)], []),
    ("digest", {"day": "2015-07-22"},
     [("a", "2015-07-22", "السعودية تعلن ميزانية", LONG),
      ("b", "2015-07-22", "السعودية تعلن ميزانية جديدة", LONG),  # the same story again
      ("c", "2015-07-21", "النفط يرتفع", "عمر إبراهيم – عين اليوم")],  # a day early, a byline
     ["all of the day", "one story each", "quotes of 6+ words"]),
    ("topic_day", {"day": "2015-07-22", "terms": ["اليمن"]},
     [("a", "2015-07-22", "اليمن هدنة", LONG), ("b", "2015-07-22", "النفط", LONG)], []),
    ("latest", {"newest": "2015-07-26", "terms": ["اليمن"]},
     [("a", "2015-07-27", "اليمن", LONG)], ["nothing after as_of"]),  # as_of 07-26: the future
    ("latest", {"newest": "2015-07-26", "terms": ["اليمن"]},
     [("a", "2015-07-22", "اليمن", LONG)], ["first is recent"]),
    ("empty_day", {"day": "2015-07-29"}, [("a", "2015-07-27", "x", LONG)], ["no citation"]),
    ("followup_latest", {"newest": "2015-07-26"}, [], ["answered", "newest is recent"]),
])  # fmt: skip
def test_a_time_answer_is_judged_by_its_kind(kind, expect, cited, failed):
    from rag.evaluation import time_questions

    q = EvalQuestion("t", "q", (), "ar", False, kind=kind, as_of="2015-07-26", expect=expect)
    metrics, found = time_questions.judge(q, _time_answer(*cited))
    assert found == failed
    assert metrics == {f"{kind}_pass": float(not failed), "time_pass": float(not failed)}
