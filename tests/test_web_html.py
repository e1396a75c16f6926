"""The HTML of answers and sources: escaped, linked, and marked where unsupported."""

from __future__ import annotations

from rag.types import Answer, Article, Citation, Claim
from rag.web.labels import LABELS
from rag.web.rendering import answer_html, answer_text, counted, sources_html, totals_text

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
    html = answer_html(answer, {"a1": ARTICLE}, LABELS["en"], number=3)
    assert '<mark class="unsupported"' in html and "The moon is cheese." in html
    # the third answer's markers open its own sources, not those of another answer
    assert html.count('<a class="marker" href="#a3-src-1">[1]</a>') == 2
    assert 'id="a3-src-1"' in html and 'id="src-1"' not in html
    assert "[7]" in html and "src-7" not in html  # no source 7: plain text
    assert "openai/test" in html


def test_a_marker_carries_a_card_of_its_source():
    answer = Answer("q", "Iran will enrich. [1]", [_citation()], [], [], "en", "en", False,
                    "extractive")  # fmt: skip
    html = answer_html(answer, {"a1": ARTICLE}, LABELS["en"])
    card = html[html.index('<span class="card"') : html.index("</span></span>")]
    assert "&lt;b&gt;title&lt;/b&gt;" in card and 'href="https://example.org/a?x=1&amp;y=2"' in card
    # the date isolated left-to-right: beside an Arabic newspaper it must not read 16-04-2025
    assert (
        'wire · <bdi dir="ltr">2025-04-16</bdi>' in card
        and "The &lt;script&gt;x()&lt;/script&gt; quote." in card
    )


def test_copy_gives_plain_text_with_the_numbered_sources_and_links():
    answer = Answer("q", "Quoted:\n«The quote.» [1]", [_citation()], [], [], "en", "en", False,
                    "extractive", notes=["A note."])  # fmt: skip
    text = answer_text(answer, LABELS["en"])
    assert text.splitlines() == [
        "Quoted:",
        "«The quote.» [1]",
        "ⓘ A note.",
        "",
        "Sources:",
        "[1] <b>title</b> — wire · 2025-04-16",
        "    https://example.org/a?x=1&y=2",
        "    «The <script>x()</script> quote.»",
    ]  # the article's own characters, as text: the page escapes them
    html = answer_html(answer, {"a1": ARTICLE}, LABELS["en"])
    assert '<pre class="plain-text" hidden>Quoted:' in html
    assert "&lt;script&gt;" in html and "<script>" not in html
    refusal = Answer("q", "The articles do not answer this.", [], [_citation(2)], [], "en",
                     "en", True, "extractive")  # fmt: skip
    assert answer_text(refusal, LABELS["en"]) == "The articles do not answer this."


def test_every_sentence_quoted_from_a_source_is_highlighted():
    text = "First one.\n\nSecond one. Third one.\n\nFourth one."
    article = Article("a2", "T", text, "", "wire")
    first = Citation(1, "a2", "a2:0", "T", "wire", "", "", "First one.", 0, 10)
    answer = Answer(
        "q", "«First one.» [1]\n«Third one.» [1]", [first], [],
        [Claim("First one. [1]", [1], True), Claim("Third one. [1]", [1], True)],
        "en", "en", False, "extractive",
    )  # fmt: skip
    for html in (answer_html(answer, {"a2": article}, LABELS["en"]),
                 sources_html(answer, {"a2": article}, LABELS["en"])):  # fmt: skip
        assert '<mark class="quote" dir="auto">First one.</mark>' in html
        assert '<mark class="quote" dir="auto">Third one.</mark>' in html
        assert '<mark class="quote" dir="auto">Second one.' not in html
    # a message is one line: the chat reads it as Markdown, where a blank line ends HTML
    assert "\n" not in answer_html(answer, {"a2": article}, LABELS["en"])


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
    shown = answer_html(quoted, {}, LABELS["en"]).split('<pre class="plain-text"')[0]
    assert shown.count("Quoted") == 1 and 'class="mode"' not in shown
    refusal = Answer("q", "The indexed articles do not answer this.", [], [_citation(2)], [],
                     "en", "en", True, "extractive")  # fmt: skip
    panel = sources_html(refusal, {"a1": ARTICLE}, LABELS["en"])
    assert "None of the indexed articles answers" in panel and "<article" not in panel
    assert "also retrieved" not in panel.lower()


def test_counts_read_as_the_language_says_them():
    en, ar = LABELS["en"]["n_articles"], LABELS["ar"]["n_articles"]
    assert [counted(n, en) for n in (1, 2, 31030)] == ["1 article", "2 articles", "31030 articles"]
    assert [counted(n, ar) for n in (1, 2, 3, 10, 11, 103)] == [
        "مقال واحد", "مقالان", "3 مقالات", "10 مقالات", "11 مقالًا", "103 مقالات"
    ]  # fmt: skip
    stats = {"articles": 1, "chunks": 6, "first_date": "2025-04-17", "last_date": "2025-04-17"}
    assert totals_text(stats, LABELS["en"]) == (
        "1 article, 6 passages, \u20662025-04-17\u2069 to \u20662025-04-17\u2069"
    )  # the dates isolated left-to-right, or an Arabic line reads them 17-04-2025


def test_dates_in_notes_and_sources_in_the_header_keep_their_direction():
    """#35: in Arabic the time note printed "04-12-2026" for 2026-12-04, and the header's
    sources read "2+ الرياض" for "الرياض +2"."""
    from rag.web.library import indexed

    note = "بحثت في المقالات المؤرخة من 2026-12-04 إلى 2026-12-05 فقط"
    answer = Answer("q", "x", [], [], [], "ar", "ar", True, "extractive", notes=[note])
    html = answer_html(answer, {}, LABELS["ar"])
    assert "\u20662026-12-04\u2069" in html and "\u20662026-12-05\u2069" in html
    stats = {"articles": 5, "chunks": 9, "first_date": "2015-07-01", "last_date": "2015-08-01",
             "sources": {"الرياض": 3, "aawsat": 2, "x<y\u202e": 1, "okaz": 1, "(none)": 1}}  # fmt: skip
    header = indexed(stats, "ar")
    assert "\u2068الرياض\u2069, \u2068aawsat\u2069, \u2068x&lt;y\u2069 \u2066+1\u2069" in header
    assert "\u202e" not in header  # a source's own bidi controls are dropped
    assert header.count("<span") == header.count("</span>") == 2  # the two dates kept whole
