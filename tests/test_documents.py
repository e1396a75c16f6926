import gzip
import json

import pytest

from rag.errors import DocumentError
from rag.news.documents import LoadFailure, article_id, load, normalize_date
from rag.types import Article
from tests.conftest import SEED_FILE, SEEDS


def loaded(*paths):
    records = list(load(paths))
    return (
        [r for r in records if isinstance(r, Article)],
        [r for r in records if isinstance(r, LoadFailure)],
    )


def test_text_file_first_line_is_the_title():
    (article,), failures = loaded(SEED_FILE)
    assert failures == []
    assert article.title.startswith("خامنئي يبعث برسالة لبوتين")
    assert article.text.startswith("موسكو/دبي – وكالات:")
    assert article.origin == str(SEED_FILE)
    # its dateline's wire agencies, and the Thursday before the Rome talks of 19 April 2025
    assert (article.source, article.date, article.url) == ("وكالات", "2025-04-17", "")


def test_a_text_file_may_open_with_its_metadata(tmp_path):
    (tmp_path / "a.md").write_text(
        "---\nsource: Al Riyadh\nDate: 21/07/2015\nurl: https://x.sa/1\n\n---\n"
        "Title\nBody: with a colon.",
        encoding="utf-8",
    )
    (tmp_path / "b.txt").write_text("---\ntitle: Given\nauthor: A. Writer\n---\nAll body.\nMore.",
                                    encoding="utf-8")  # fmt: skip
    (tmp_path / "c.txt").write_text("---\nTitle\nA body with --- in it.", encoding="utf-8")
    (a, b, c), failures = loaded(tmp_path / "a.md", tmp_path / "b.txt", tmp_path / "c.txt")
    assert failures == []
    assert (a.title, a.text, a.source, a.date, a.url) == (
        "Title", "Body: with a colon.", "Al Riyadh", "2015-07-21", "https://x.sa/1"
    )  # fmt: skip
    assert (b.title, b.text, b.author) == ("Given", "All body.\nMore.", "A. Writer")
    assert (c.title, c.source) == ("---", "")  # no closing line: no front matter


@pytest.mark.parametrize(
    ("front", "reason"),
    [
        ("colour: red", "line 2 of the front matter is not 'field: value' with a field among "
                        "title, source, date, url, author: 'colour: red'"),
        ("just words", "line 2 of the front matter is not 'field: value' with a field among "
                       "title, source, date, url, author: 'just words'"),
        ("date: yesterday", "unrecognised date 'yesterday' (use YYYY-MM-DD or "
                            "YYYY-MM-DD hh:mm:ss)"),
    ],
)  # fmt: skip
def test_front_matter_that_cannot_be_read_says_which_line(tmp_path, front, reason):
    (tmp_path / "a.txt").write_text(f"---\n{front}\n---\nTitle\nBody", encoding="utf-8")
    assert loaded(tmp_path / "a.txt") == ([], [LoadFailure(str(tmp_path / "a.txt"), reason)])


def test_markdown_and_folders_are_read_recursively(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "one.md").write_text("# Title one\n\nBody one.", encoding="utf-8")
    (tmp_path / "two.txt").write_text("Title two\nBody two.", encoding="utf-8")
    (tmp_path / ".hidden.txt").write_text("Hidden\nnot read", encoding="utf-8")
    articles, failures = loaded(tmp_path)
    assert sorted(a.title for a in articles) == ["# Title one", "Title two"]
    assert failures == []


def test_json_object_and_array_with_field_aliases(tmp_path):
    (tmp_path / "one.json").write_text(
        json.dumps(
            {
                "title": "T",
                "text": "نص المقال",
                "url": "https://x/1",
                "date_extracted": "2015-07-21 02:51:32",
                "source": "aawsat",
                "author": "A",
            }
        ),
        encoding="utf-8",
    )
    (tmp_path / "many.json").write_text(
        json.dumps(
            [{"title": "B1", "body": "first body"}, {"title": "B2", "content": "second body"}]
        ),
        encoding="utf-8",
    )
    articles, failures = loaded(tmp_path / "one.json", tmp_path / "many.json")
    assert failures == []
    one = articles[0]
    assert (one.title, one.text, one.url, one.date, one.source, one.author) == (
        "T",
        "نص المقال",
        "https://x/1",
        "2015-07-21T02:51:32",
        "aawsat",
        "A",
    )
    assert [a.text for a in articles[1:]] == ["first body", "second body"]


def test_jsonl_and_gzipped_jsonl_report_bad_lines_and_keep_the_rest(tmp_path):
    lines = [
        json.dumps({"title": "ok", "content": "good one"}),
        "{broken",
        "",
        json.dumps({"title": "no content"}),
        json.dumps({"content": "  "}),
        json.dumps(["not", "an", "object"]),
        json.dumps({"content": "good two"}),
    ]
    (tmp_path / "a.jsonl").write_text("\n".join(lines), encoding="utf-8")
    with gzip.open(tmp_path / "b.jsonl.gz", "wt", encoding="utf-8") as out:
        out.write("\n".join(lines))
    for name in ("a.jsonl", "b.jsonl.gz"):
        articles, failures = loaded(tmp_path / name)
        assert [a.text for a in articles] == ["good one", "good two"]
        assert [(f.origin.rsplit(":", 1)[1], f.reason) for f in failures] == [
            ("2", "broken JSON: Expecting property name enclosed in double quotes (column 2)"),
            ("4", "no content field (expected one of: content, text, body)"),
            ("5", "empty 'content'"),
            ("6", "expected a JSON object, got list"),
        ]


def test_html_main_text_is_extracted(tmp_path):
    body = "<p>" + "وقال المتحدث إن المحادثات كانت بناءة ومفيدة للطرفين. " * 8 + "</p>"
    (tmp_path / "page.html").write_text(
        "<html><head><title>عنوان الصفحة</title></head><body><nav>القائمة</nav>"
        f"<article><h1>عنوان الصفحة</h1>{body}</article><script>alert(1)</script></body></html>",
        encoding="utf-8",
    )
    (article,), failures = loaded(tmp_path / "page.html")
    assert failures == []
    assert article.title == "عنوان الصفحة"
    assert article.text.startswith("وقال المتحدث")
    assert "alert" not in article.text and "القائمة" not in article.text


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("latin1.txt", "café\nbody".encode("latin-1"), "not UTF-8 text (byte 0xe9 at offset 3)"),
        ("empty.txt", b"  \n ", "empty file"),
        (
            "broken.json",
            b'{"title": "x",',
            "broken JSON at line 1 column 15: Expecting property name enclosed in double quotes",
        ),
        ("scalar.json", b"42", "JSON must be an object or an array of objects"),
        (
            "nocontent.json",
            b'{"title": "x"}',
            "no content field (expected one of: content, text, body)",
        ),
        ("badtype.json", b'{"content": 5}', "'content' must be text, got int"),
        (
            "baddate.json",
            b'{"content": "x", "date": "yesterday"}',
            "unrecognised date 'yesterday' (use YYYY-MM-DD or YYYY-MM-DD hh:mm:ss)",
        ),
        ("empty.html", b"<html><body></body></html>", "no article text found in the HTML"),
        ("broken.jsonl.gz", b"not gzip at all", "broken gzip file: Not a gzipped file (b'no')"),
        (
            "image.png",
            b"\x89PNG",
            "unsupported file type (supported: .txt, .md, .json, .jsonl, .jsonl.gz, .html, .htm)",
        ),
    ],
)
def test_bad_files_get_one_clear_reason(tmp_path, name, content, reason):
    (tmp_path / name).write_bytes(content)
    articles, failures = loaded(tmp_path / name)
    assert articles == []
    assert failures == [LoadFailure(str(tmp_path / name), reason)]


def test_a_bad_file_does_not_stop_the_others(tmp_path):
    (tmp_path / "bad.json").write_bytes(b"{")
    (tmp_path / "good.txt").write_text("Title\nBody", encoding="utf-8")
    articles, failures = loaded(tmp_path, tmp_path / "missing.txt")
    assert [a.title for a in articles] == ["Title"]
    assert [f.reason for f in failures] == [
        "broken JSON at line 1 column 2: Expecting property name enclosed in double quotes",
        "no such file or folder",
    ]


def test_article_id_is_stable_and_prefers_the_url():
    assert article_id("https://x/1", "a") == article_id("https://x/1", "b")
    assert article_id("", "نص  المقال") == article_id("", "نَص المقال")  # normalised content
    assert article_id("", "one") != article_id("", "two")
    assert len(article_id("", "one")) == 16


def test_seed_folder_holds_the_seed_article():
    articles, _ = loaded(SEEDS)
    assert len(articles) == 1


@pytest.mark.parametrize(
    ("raw", "iso"),
    [
        ("2015-07-21 02:51:32", "2015-07-21T02:51:32"),
        ("2015-07-21", "2015-07-21"),
        ("21/07/2015", "2015-07-21"),
        ("2015-07-21T02:51:32Z", "2015-07-21T02:51:32"),
        ("", ""),
    ],
)
def test_normalize_date(raw, iso):
    assert normalize_date(raw) == iso


def test_normalize_date_rejects_unknown_forms():
    with pytest.raises(DocumentError, match="unrecognised date"):
        normalize_date("last Tuesday")
