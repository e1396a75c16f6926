"""The interface language in a real browser (#35): kept per browser, Gradio's own words
follow it, and switching keeps the chat where the reader was."""

from __future__ import annotations

import pytest

from tests.browser import QUESTION_AR, QUESTION_EN, ask, chat_page, log_in
from tests.live_server import ADMIN_KEY

DESKTOP = {"width": 1366, "height": 900}


@pytest.fixture
def page(browser, live_server):
    with chat_page(browser, live_server.url, DESKTOP) as page:
        yield page


def _to_arabic(page) -> None:
    page.locator("#ui-language label").filter(has_text="العربية").click()
    page.get_by_text("سؤالك").first.wait_for()


def test_the_interface_language_is_kept_per_browser_across_a_reload(browser, page, live_server):
    """The interface language went back to English on every reload."""
    _to_arabic(page)
    page.reload()
    page.get_by_text("سؤالك").first.wait_for()  # opened in Arabic, not English
    page.wait_for_function("document.documentElement.dir === 'rtl'")
    assert page.locator("#ui-language input[value='ar']").is_checked()
    other = browser.new_context(viewport=DESKTOP)
    try:  # another browser keeps its own choice
        fresh = other.new_page()
        log_in(fresh, live_server.url, ADMIN_KEY)
        fresh.locator("#question textarea").wait_for()
        fresh.wait_for_timeout(1000)
        assert fresh.evaluate("document.documentElement.dir") != "rtl"
    finally:
        other.close()


def test_the_upload_box_speaks_the_interface_language(page):
    """The upload box said "Drop File Here / Click to Upload" in the Arabic interface (its
    words are Gradio's, in the browser's language)."""
    upload = page.locator("#upload")
    _to_arabic(page)
    page.get_by_role("tab", name="المكتبة").click()
    upload.filter(has_text="أفلت الملف هنا").wait_for()
    assert "Drop File Here" not in upload.inner_text()
    assert upload.locator("button").get_attribute("aria-label") == "انقر لاختيار ملف أو أفلته هنا"
    page.locator("#ui-language label").filter(has_text="English").click()
    upload.filter(has_text="Drop File Here").wait_for()
    assert "أفلت" not in upload.inner_text()


def test_switching_language_keeps_the_opened_sources_and_the_place_in_the_chat(page):
    """The answers are re-rendered with the new labels: the source opened under one of them
    closed, and the chat showed another place."""
    for question in (QUESTION_EN, QUESTION_AR, QUESTION_EN):
        ask(page, question)
    page.locator("#chat .answer").nth(1).locator("a.marker").first.click()
    page.locator("#a2-src-1").wait_for(state="visible")
    page.wait_for_timeout(800)  # the smooth scroll to the quote
    view = "() => [document.querySelector('#chat .bubble-wrap').scrollTop, [...document" \
           ".querySelectorAll('#chat details.answer-sources')].map(d => d.open)]"  # fmt: skip
    before = page.evaluate(view)
    assert before[1] == [False, True, False] and before[0] > 0
    _to_arabic(page)
    page.locator("#chat details.answer-sources summary").filter(has_text="المصادر").first.wait_for()
    page.wait_for_function(f"before => JSON.stringify(({view})()) === JSON.stringify(before)",
                           arg=before, timeout=5000)  # fmt: skip
    assert page.locator("#a2-src-1").is_visible()
