"""The HTML of answers and sources: escaped, linked, and marked where unsupported."""

from __future__ import annotations

from rag.types import Answer, Article, Citation, Claim
from rag.web import LABELS
from rag.web_html import answer_html, sources_html

ARTICLE = Article(
    "a1", "<b>title</b>", "Before. The <script>x()</script> quote. After.", "", "wire"
)


def _citation(marker=1, url="https://example.org/a?x=1&y=2") -> Citation:
    start = ARTICLE.text.index("The")
    end = ARTICLE.text.index(" After")
    return Citation(marker, "a1", "a1:0", ARTICLE.title, "wire", "2025-04-16", url,
                    ARTICLE.text[start:end], start, end)  # fmt: skip


def test_unsupported_claims_are_marked_and_markers_link_to_sources():
    answer = Answer(
        "q", "Iran will enrich. [1]\nThe moon is cheese. [1] [7]", [_citation()], [],
        [Claim("Iran will enrich. [1]", [1], True, 0.9),
         Claim("The moon is cheese. [1] [7]", [1], False, 0.2)],
        "en", "en", False, "generated", model="openai/test",
    )  # fmt: skip
    html = answer_html(answer, LABELS["en"])
    assert '<mark class="unsupported"' in html and "The moon is cheese." in html
    assert html.count('<a class="marker" href="#src-1">[1]</a>') == 2
    assert "[7]" in html and 'href="#src-7"' not in html  # no source 7: plain text
    assert "openai/test" in html


def test_sources_escape_article_text_and_only_link_http_urls():
    answer = Answer("q", "x [1]", [_citation()], [_citation(2, "javascript:alert(1)")], [],
                    "en", "en", False, "extractive")  # fmt: skip
    html = sources_html(answer, {"a1": ARTICLE}, LABELS["en"])
    assert "<script>" not in html and "&lt;script&gt;x()&lt;/script&gt;" in html
    assert "<b>" not in html and "&lt;b&gt;title&lt;/b&gt;" in html
    assert 'href="https://example.org/a?x=1&amp;y=2"' in html
    assert "javascript:" not in html
    assert 'id="src-1"' in html and "<details" in html  # uncited ones folded
    assert '<mark class="quote" dir="auto">The &lt;script&gt;' in html


def test_a_quoted_answer_says_how_it_was_made_once_and_a_refusal_lists_no_sources():
    quoted = Answer("q", "Quoted from the indexed articles (no language model was used):\n"
                    "«The quote.» [1]", [_citation()], [], [], "en", "en", False, "extractive")  # fmt: skip
    html = answer_html(quoted, LABELS["en"])
    assert html.count("Quoted") == 1 and 'class="mode"' not in html
    refusal = Answer("q", "The indexed articles do not answer this.", [], [_citation(2)], [],
                     "en", "en", True, "extractive")  # fmt: skip
    panel = sources_html(refusal, {"a1": ARTICLE}, LABELS["en"])
    assert "None of the indexed articles answers" in panel and "<article" not in panel
    assert "also retrieved" not in panel.lower()
