"""The web chat in a real browser: headless Debian Chromium driven by Playwright.

Screenshots of the chat in English and Arabic are saved under ``test-artifacts/``.
"""

from __future__ import annotations

import re
import sqlite3
import uuid

import pytest

from tests.browser import QUESTION_AR, QUESTION_EN, ask, hover_for_card, log_in, screenshot
from tests.conftest import ENRICHMENT_SENTENCE
from tests.live_server import ADMIN_KEY


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.console_errors = []
    page.dialogs = []
    page.on("console", lambda m: m.type == "error" and page.console_errors.append(m.text))
    page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
    log_in(page, live_server.url, ADMIN_KEY)
    page.locator("#question textarea").wait_for()
    yield page
    context.close()


def test_english_question_shows_the_arabic_quote_right_to_left(page):
    ask(page, QUESTION_EN)
    quote = page.locator("#sources .sources > article mark.quote").filter(
        has_text=ENRICHMENT_SENTENCE
    )
    quote.first.wait_for()
    assert quote.first.evaluate("e => getComputedStyle(e).direction") == "rtl"
    marker = page.locator("#chat a.marker").first
    assert marker.get_attribute("href") == "#a1-src-1"
    title = page.locator("#sources #src-1 header")
    assert title.evaluate("e => getComputedStyle(e).direction") == "rtl"
    screenshot(page, "chat-en.png")


CONTRAST = """e => {
    const rgb = c => c.match(/[\\d.]+/g).slice(0, 3).map(Number).map(v => {
        v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
    const lum = c => { const [r, g, b] = rgb(c); return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
    const style = getComputedStyle(e);
    const [a, b] = [lum(style.color), lum(style.backgroundColor)].sort((x, y) => y - x);
    return (a + 0.05) / (b + 0.05);
}"""


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_the_highlighted_quote_is_readable_in_both_themes(browser, live_server, theme):
    context = browser.new_context(viewport={"width": 1366, "height": 900}, color_scheme=theme)
    page = context.new_page()
    try:
        log_in(page, live_server.url, ADMIN_KEY)
        page.goto(f"{live_server.url}/?__theme={theme}")
        page.locator("#question textarea").wait_for()
        ask(page, QUESTION_EN)
        quote = page.locator("#sources mark.quote").first
        quote.wait_for()
        assert quote.evaluate(CONTRAST) >= 4.5
        assert (
            page.locator(
                "#chat button[title*='hare' i], #chat button[aria-label*='hare' i]"
            ).count()
            == 0
        )
        screenshot(page, f"chat-{theme}.png")
    finally:
        context.close()


def test_arabic_interface_and_question(page):
    indexed = page.locator("#indexed")
    indexed.filter(has_text=re.compile(r"Indexed: \d+ articles?, \d+ passages?")).wait_for()
    assert re.search(r" · sources: \S", indexed.inner_text())  # the seed's وكالات among them
    page.locator("#ui-language label").filter(has_text="العربية").click()
    page.get_by_text("سؤالك").first.wait_for()
    indexed.filter(has_text=re.compile(r"المفهرس: (مقال واحد|مقالان|\d+ مقال)")).wait_for()
    page.get_by_text("أمثلة", exact=True).first.wait_for()  # the examples' label too
    ask(page, QUESTION_AR)
    page.locator("#sources .sources > article mark.quote").filter(
        has_text=ENRICHMENT_SENTENCE
    ).first.wait_for()
    date = page.locator("#sources .source .meta bdi").first  # وكالات · 2025-04-17
    assert date.inner_text() == "2025-04-17"
    assert date.evaluate("e => getComputedStyle(e).direction") == "ltr"
    answer_line = page.locator("#chat .answer div").nth(1)
    assert answer_line.evaluate("e => getComputedStyle(e).direction") == "rtl"
    assert page.evaluate("document.documentElement.dir") == "rtl"
    box = page.locator("#question textarea")
    assert box.evaluate("e => getComputedStyle(e).direction") == "rtl"
    screenshot(page, "chat-ar.png")
    assert page.locator("#chat details.answer-sources summary").inner_text() == "المصادر (1)"
    page.locator("#ui-language label").filter(has_text="English").click()
    page.get_by_text("Your question").first.wait_for()
    assert page.evaluate("document.documentElement.dir") == "ltr"
    # the answer on screen and its sources take the new language's labels too
    page.locator("#sources h3").filter(has_text="Sources").wait_for()
    page.locator("#chat details.answer-sources summary").filter(has_text="Sources (").wait_for()
    page.get_by_text("Examples", exact=True).first.wait_for()


def test_thumbs_up_is_stored_in_the_feedback_table(page, live_server):
    ask(page, QUESTION_EN)
    page.locator("#chat .answer").first.wait_for()
    page.get_by_role("button", name="Like", exact=True).last.click()
    page.locator("#notice").filter(has_text="feedback was saved").wait_for()
    with sqlite3.connect(live_server.index_dir / "feedback.sqlite3") as db:
        rows = db.execute(
            "SELECT rating, question, citations FROM feedback WHERE channel = 'web'"
        ).fetchall()
    assert (1, QUESTION_EN) in [(rating, question) for rating, question, _ in rows]
    assert any(ENRICHMENT_SENTENCE in citations for _, _, citations in rows)


def test_empty_question_is_ignored_and_an_over_long_one_refused(page):
    page.locator("#question textarea").fill("   ")
    page.locator("#send").click()
    page.locator("#question textarea").fill("x" * 2001)
    page.locator("#send").click()
    page.locator("#notice").filter(has_text="the limit is 2000").wait_for()
    # the second question was handled after the first: an empty one put nothing in the chat
    assert page.locator("#chat .message").count() == 0
    assert page.locator("#chat .answer").count() == 0


def _add_article(page, title: str, text: str) -> None:
    page.get_by_role("tab", name="Library").click()
    page.locator("#add-title textarea, #add-title input").first.fill(title)
    page.locator("#add-text textarea").fill(text)
    page.locator("#add-source textarea, #add-source input").first.fill("test-wire")
    page.locator("#add-date textarea, #add-date input").first.fill("2026-11-28")
    page.locator("#add-article").click()
    page.locator("#library-notice").filter(has_text="Added").wait_for(timeout=60_000)
    page.get_by_role("tab", name="Chat").click()


def test_an_article_added_in_the_library_answers_questions(page):
    marker = uuid.uuid4().hex[:6]
    _add_article(
        page,
        f"Desalination plant {marker} opens in Jubail",
        f"A new desalination plant named Qatrah-{marker} opened in Jubail on Thursday. "
        "The operator said it will produce six hundred thousand cubic metres of water a day.",
    )
    ask(page, f"How much water will the Qatrah-{marker} plant produce?")
    page.locator("#sources .source").filter(has_text=f"Qatrah-{marker}").first.wait_for()


def test_the_headers_count_follows_an_article_added_in_the_library(page):
    """#35: the header's "Indexed" line kept its count after an addition (the Library's
    table did not)."""
    indexed = page.locator("#indexed")
    indexed.filter(has_text="Indexed:").wait_for()
    count = "() => +document.querySelector('#indexed').innerText.match(/Indexed: (\\d+)/)[1]"
    before = page.evaluate(count)
    page.get_by_role("tab", name="Library").click()
    page.locator("#add-title textarea, #add-title input").first.fill(f"Count {uuid.uuid4().hex}")
    page.locator("#add-text textarea").fill(f"A report numbered {uuid.uuid4().hex} was filed.")
    page.locator("#add-article").click()
    page.locator("#library-notice").filter(has_text="Added").wait_for(timeout=60_000)
    page.wait_for_function(f"n => ({count})() > n", arg=before)  # still in the Library tab


def test_script_in_an_article_runs_nothing(page):
    marker = uuid.uuid4().hex[:6]
    hostile = (
        f"Pelican festival {marker} <script>alert('xss')</script>"
        "<img src=x onerror=\"alert('xss')\">"
    )
    _add_article(
        page,
        hostile,
        f"The pelican festival {marker} drew many visitors to the lake. "
        f"<script>alert('xss')</script> <img src=x onerror=\"alert('xss')\"> "
        f"Organisers of festival {marker} counted twelve thousand guests.",
    )
    ask(page, f"How many guests came to the pelican festival {marker}?")
    page.locator("#sources .source").filter(has_text=marker).first.wait_for()
    # no element that could run: nothing to wait for (a dialog would need one)
    assert page.locator("#sources script, #sources img").count() == 0
    assert page.dialogs == []
    assert "<script>alert('xss')</script>" in page.locator("#sources").inner_text()
    assert not [e for e in page.console_errors if "xss" in e.lower()]


def test_uploads_are_added_or_refused_with_the_reason(page, tmp_path):
    marker = uuid.uuid4().hex[:6]
    good = tmp_path / f"oasis-{marker}.txt"
    good.write_text(
        f"Oasis {marker} reopens\nThe Oasis-{marker} garden reopened after three years of work.",
        encoding="utf-8",
    )
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("Caf\xe9 title\nna\xefve text".encode("latin-1"))
    page.get_by_role("tab", name="Library").click()
    for path, expected in ((bad, "not UTF-8"), (good, "Added 1 article,")):
        if path is good:  # take the refused file away first
            page.locator("#upload button[aria-label='Clear']").click()
        page.locator("#upload input[type=file]").set_input_files(str(path))
        page.locator("#upload").filter(has_text=path.stem).wait_for()
        page.locator("#add-file").click()
        page.locator("#library-notice").filter(has_text=expected).wait_for(timeout=60_000)


def test_html_and_bidi_controls_in_a_question_run_nothing(page):
    ask(page, f"<svg/onload=confirm(1)> \u202e{QUESTION_EN}")
    page.locator("#chat .answer").first.wait_for()
    assert page.locator("#chat svg[onload]").count() == 0  # nothing that could run
    assert page.dialogs == []


def test_library_statistics_and_sources_are_current_not_frozen(page, live_server):
    import httpx

    marker = uuid.uuid4().hex[:6]
    article = {"title": f"Falcon race {marker}", "content": f"The falcon {marker} won a race.",
               "source": f"wire-{marker}", "date": "2026-11-29"}  # fmt: skip
    added = httpx.post(f"{live_server.url}/v1/articles", json=article, timeout=60,
                       headers={"Authorization": f"Bearer {ADMIN_KEY}"})  # fmt: skip
    assert added.status_code == 201
    page.get_by_role("tab", name="Library").click()  # the page was open before the write
    page.locator("#library-stats").filter(has_text=f"wire-{marker}").wait_for()
    page.get_by_role("tab", name="Chat").click()
    page.get_by_role("button", name="Filters").click()
    page.locator("#source-filter input").click()
    page.get_by_role("option", name=f"wire-{marker}").wait_for()


def test_api_docs_render_offline(browser, live_server):
    """Swagger UI from files installed with the product, under the page's own CSP."""
    context = browser.new_context()
    page = context.new_page()
    failed = []
    page.on("requestfailed", lambda r: failed.append(r.url))
    page.goto(live_server.url + "/docs")
    page.locator(".opblock-summary-path").filter(has_text="/v1/ask").first.wait_for()
    assert not [url for url in failed if not url.startswith(live_server.url)]
    context.close()


def _answered(page, question: str) -> None:
    """Ask, and wait until the answer and its sources are complete."""
    page.locator("#question textarea").fill(question)
    page.locator("#send").click()
    page.locator("#chat .message").filter(has_text=question).first.wait_for()
    page.locator("#sources mark.quote").filter(has_text=ENRICHMENT_SENTENCE).first.wait_for()
    page.locator("#chat .answer").last.wait_for()
    page.wait_for_function("!document.querySelector('#sources .pending, #chat .pending')")


def test_feedback_after_the_trash_icon_rates_the_new_answer(page, live_server):
    _answered(page, QUESTION_AR)
    page.locator("#chat button[aria-label='Clear']").first.click()  # Gradio's own trash icon
    page.locator("#sources").filter(has_text="Sources of the answer appear here.").wait_for()
    _answered(page, QUESTION_EN)
    page.get_by_role("button", name="Like", exact=True).last.click()
    page.locator("#notice").filter(has_text="feedback was saved").wait_for()
    with sqlite3.connect(live_server.index_dir / "feedback.sqlite3") as db:
        question = db.execute("SELECT question FROM feedback ORDER BY id DESC LIMIT 1").fetchone()
    assert question == (QUESTION_EN,)


def test_the_library_says_what_happened_and_clears_the_form(page):
    marker = uuid.uuid4().hex[:6]
    title, text = f"Dune race {marker}", f"The dune race {marker} was won by a camel named Rih."
    for expected in ("Added 1 article,", "Already in the library"):
        page.get_by_role("tab", name="Library").click()
        page.locator("#add-title textarea, #add-title input").first.fill(title)
        page.locator("#add-text textarea").fill(text)
        page.locator("#add-article").click()
        page.locator("#library-notice").filter(has_text=expected).wait_for(timeout=60_000)
        if expected.startswith("Added"):
            assert page.locator("#add-text textarea").input_value() == ""
    assert "ingested" not in page.locator("#library-notice").inner_text()


def test_a_feed_is_followed_and_fetched_from_the_library(page):
    from tests.news_site import NewsSite, Page, article_html, rss

    site = NewsSite()
    try:
        marker = uuid.uuid4().hex[:6]
        site.pages["/story"] = Page(article_html(
            f"تقرير {marker}", f"أعلنت هيئة الطيران المدني عن رحلات جديدة إلى أبها {marker}."
        ))  # fmt: skip
        site.pages["/feed.xml"] = Page(rss([{"title": f"تقرير {marker}", "url": site.url("/story")}],
                                           title=f"خلاصة {marker}"), "application/rss+xml")  # fmt: skip
        page.get_by_role("tab", name="Library").click()
        page.locator("#feed-url textarea, #feed-url input").first.fill(site.url("/feed.xml"))
        page.locator("#feed-add").click()
        page.locator("#feeds-notice").filter(has_text=f"Following خلاصة {marker}").wait_for(
            timeout=60_000
        )
        page.locator("#feed-poll").click()  # the server's own watcher may fetch it first
        page.locator("#feeds-notice").filter(has_text="Fetched").wait_for(timeout=60_000)
        page.locator("#feeds").filter(has_text=site.url("/feed.xml")).wait_for()
        assert "ok" in page.locator("#feeds").inner_text()
        page.locator("#library-stats").filter(has_text=f"خلاصة {marker}").wait_for()
        screenshot(page, "library-feeds.png")
        page.locator("#feed-add").click()  # the same feed again: said plainly
        page.locator("#feeds-notice").filter(has_text="already followed").wait_for()
        page.locator("#feed-remove").click()
        page.locator("#feeds-notice").filter(has_text="No longer following").wait_for()
    finally:
        site.stop()


def test_enter_sends_and_shift_enter_starts_a_new_line(page):
    box = page.locator("#question textarea")
    box.fill("first line")
    box.press("Shift+Enter")
    box.type("second line")
    assert box.input_value() == "first line\nsecond line"
    assert page.locator("#chat .message").count() == 0  # nothing was sent
    box.fill(QUESTION_EN)
    box.press("Enter")
    page.locator("#sources mark.quote").filter(has_text=ENRICHMENT_SENTENCE).first.wait_for()


def test_markers_of_an_earlier_answer_open_that_answers_own_quote(page):
    ask(page, QUESTION_EN)
    ask(page, "Who is Vladimir Putin meeting?")
    first = page.locator('#chat [data-testid="bot"]').first
    marker = first.locator("a.marker").first
    assert marker.get_attribute("href") == "#a1-src-1"
    card = first.locator(".card").first
    hover_for_card(marker, card)  # a card: the source at a glance
    assert ENRICHMENT_SENTENCE in card.inner_text() and "خامنئي" in card.inner_text()
    screenshot(page, "chat-marker-card.png")
    marker.click()
    source = first.locator("#a1-src-1")  # inside the first answer, not the newest one's panel
    source.wait_for(state="visible")
    assert "emphasised" in source.get_attribute("class")
    assert source.locator("mark.quote").filter(has_text=ENRICHMENT_SENTENCE).count() == 1
    assert page.locator('#chat [data-testid="bot"]').last.locator("#a1-src-1").count() == 0
    screenshot(page, "chat-earlier-source.png")


def test_copy_gives_plain_text_and_messages_have_plain_accessible_names(browser, live_server):
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    page = context.new_page()
    try:
        log_in(page, live_server.url, ADMIN_KEY)
        page.locator("#question textarea").wait_for()
        ask(page, QUESTION_EN)
        page.locator("#chat .message-buttons").last.get_by_role(
            "button", name="Copy message"
        ).click()
        page.wait_for_function("navigator.clipboard.readText().then(t => t.includes('Sources:'))")
        copied = page.evaluate("navigator.clipboard.readText()")
        assert "<" not in copied and "class=" not in copied
        assert copied.startswith("Quoted from the indexed articles")
        assert re.search(r"^\[1\] .*خامنئي", copied, re.M) and ENRICHMENT_SENTENCE in copied
        answer_name = page.locator('#chat [data-testid="bot"]').last.get_attribute("aria-label")
        assert answer_name.startswith("Answer: Quoted from") and "<" not in answer_name
        question_name = page.locator('#chat [data-testid="user"]').last.get_attribute("aria-label")
        assert question_name == f"Question: {QUESTION_EN}"
    finally:
        context.close()


COUNT_NEW_ANSWERS = """() => {
    window.newAnswers = 0;
    new MutationObserver(records => records.forEach(r => r.addedNodes.forEach(n => {
        if (n.matches && (n.matches('.answer') || n.querySelector('.answer'))) window.newAnswers += 1;
    }))).observe(document.querySelector('#chat'), {subtree: true, childList: true});
}"""


def test_the_last_answer_is_regenerated_and_an_edited_question_asked_again(page):
    ask(page, QUESTION_EN)
    page.locator("#chat .answer").wait_for()
    page.wait_for_function("!document.querySelector('#send').disabled")
    page.evaluate(COUNT_NEW_ANSWERS)
    page.get_by_role("button", name="Retry").click()
    page.wait_for_function("window.newAnswers >= 1 && !document.querySelector('#send').disabled")
    page.locator("#chat .answer").wait_for()
    assert page.locator("#chat .answer").count() == 1  # replaced, not added
    assert page.locator("#question textarea").input_value() == ""
    # a quoted answer regenerated is the same: it says why, and what would differ (#35)
    page.locator("#chat .note").filter(has_text="the same question gets the same quotes").wait_for()
    page.get_by_role("button", name="Edit").first.click()
    page.locator("#chat textarea").fill(QUESTION_AR)
    page.get_by_role("button", name="Submit").click()
    page.locator('#chat [data-testid="user"]').filter(has_text=QUESTION_AR).wait_for()
    page.locator("#chat .answer").filter(has_text="مقتطفات").wait_for()  # answered in Arabic
    assert page.locator('#chat [data-testid="user"]').count() == 1
    assert page.locator("#chat .answer").count() == 1
    assert "the same quotes" not in page.locator("#chat").inner_text()  # an edit is no retry
    screenshot(page, "chat-edited.png")


def _history_labels(page) -> list[str]:
    if page.locator("#history-bar.open").count() == 0:  # the sidebar starts folded
        page.get_by_role("button", name="Toggle Sidebar").click()
    page.locator("#history-bar.open #history").wait_for()
    return page.locator("#history label").all_inner_texts()


def test_past_conversations_come_back_after_a_reload_per_browser_and_are_deleted(
    browser, live_server
):
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    question = f"{QUESTION_EN} ({uuid.uuid4().hex[:6]})"
    try:
        log_in(page, live_server.url, ADMIN_KEY)
        page.locator("#question textarea").wait_for()
        ask(page, question)
        shown = page.locator("#chat .answer").first.inner_text()
        panel = page.locator("#sources").inner_text()
        _history_labels(page)
        page.locator("#history label").filter(has_text=question).wait_for()
        page.locator("#new-chat").click()
        page.locator("#chat .answer").wait_for(state="detached")
        page.reload()
        page.locator("#question textarea").wait_for()
        _history_labels(page)
        page.locator("#history label").filter(has_text=question).click()
        page.locator('#chat [data-testid="user"]').filter(has_text=question).wait_for()
        page.locator("#chat .answer").first.wait_for()
        assert page.locator("#chat .answer").first.inner_text() == shown  # the same answer
        page.wait_for_function("panel => document.querySelector('#sources').innerText === panel",
                               arg=panel)  # fmt: skip
        screenshot(page, "chat-history.png")
        with sqlite3.connect(live_server.index_dir / "index.sqlite") as db:
            (stored,) = db.execute(
                "SELECT COUNT(*) FROM conversations WHERE title = ?", (question,)
            ).fetchone()
        assert stored == 1

        other = browser.new_context().new_page()  # another browser: its own history only
        log_in(other, live_server.url, ADMIN_KEY)
        other.locator("#question textarea").wait_for()
        ask(other, QUESTION_AR)
        _history_labels(other)
        other.locator("#history label").filter(has_text=QUESTION_AR).wait_for()
        assert not any(question in label for label in _history_labels(other))
        other.context.close()

        page.locator("#delete-conversation").click()
        page.locator("#history-notice").filter(has_text="deleted").wait_for()
        assert not any(question in label for label in _history_labels(page))
        assert page.locator("#chat .answer").count() == 0  # the one on screen went too
    finally:
        context.close()


def test_on_a_phone_in_arabic_and_dark_the_page_reads_right_to_left(browser, live_server):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                                  has_touch=True, color_scheme="dark")  # fmt: skip
    page = context.new_page()
    try:
        log_in(page, live_server.url, ADMIN_KEY)
        page.goto(f"{live_server.url}/?__theme=dark")
        page.locator("#question textarea").wait_for()
        page.locator("#ui-language label").filter(has_text="العربية").tap()
        page.get_by_text("سؤالك").first.wait_for()
        assert page.evaluate("document.documentElement.dir") == "rtl"
        for element in ("#question textarea", "#send"):
            box = page.locator(element).bounding_box()
            assert box["y"] >= 0 and box["y"] + box["height"] <= 844, (element, box)
        page.locator("#question textarea").fill(QUESTION_AR)
        page.locator("#send").tap()
        page.locator("#chat .answer a.marker").first.tap()
        quote = page.locator("#a1-src-1 mark.quote").filter(has_text=ENRICHMENT_SENTENCE)
        quote.wait_for(state="visible")
        assert quote.evaluate(CONTRAST) >= 4.5
        assert quote.evaluate("e => getComputedStyle(e).direction") == "rtl"
        summary = page.locator("#chat details.answer-sources summary").first
        assert summary.inner_text().startswith("المصادر")
        screenshot(page, "chat-phone-ar-dark.png")
    finally:
        context.close()


def test_what_happened_on_a_day_is_a_list_of_its_stories_in_the_chat(page):
    """#33 in the browser: a day's digest, each story with its marker and source card."""
    ask(page, "What happened on April 17, 2025?")
    answer = page.locator("#chat .answer").last
    assert answer.inner_text().startswith("The main stories of 2025-04-17")
    entries = answer.locator("div").filter(has_text="«")
    assert entries.count() >= 1 and entries.first.inner_text().startswith("1. ")
    assert answer.locator("a.marker").count() >= 1  # each story cites its article
    assert page.locator("#sources .source").count() >= 1
    screenshot(page, "chat-digest.png")


def test_the_latest_news_after_a_day_without_articles_is_not_refused_in_the_chat(page):
    """#33: "What is the latest news?" right after "What happened yesterday?" (a day without
    articles) was refused in the chat, its note blaming the earlier "yesterday"; the
    follow-up carries no earlier time, and is answered with the newest day's stories."""
    ask(page, "What happened yesterday?")
    empty = page.locator("#chat .answer").last
    assert "no indexed article is dated" in empty.inner_text().lower()
    ask(page, "What is the latest news?")
    latest = page.locator("#chat .answer").last
    assert latest.inner_text().startswith("The main stories of")
    assert latest.locator("a.marker").count() >= 1
    assert "yesterday" not in latest.inner_text().lower()
