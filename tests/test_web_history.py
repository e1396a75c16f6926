"""Past conversations in the sidebar, in a real browser (#35): a deletion can be undone,
and an Arabic title is one line, read right to left."""

from __future__ import annotations

import sqlite3

import pytest

from tests.browser import QUESTION_EN, ask, chat_page, screenshot

LONG_ARABIC_QUESTION = (
    "ماذا قال وزير الخارجية الإيراني عباس عراقجي عن حق إيران في تخصيب اليورانيوم؟"
)


@pytest.fixture
def page(browser, live_server):
    with chat_page(browser, live_server.url) as page:
        yield page


def _open_history(page):
    page.get_by_role("button", name="Toggle Sidebar").click()
    page.locator("#history-bar.open #history").wait_for()


def _updated(live_server, title: str) -> list[str]:
    with sqlite3.connect(live_server.index_dir / "index.sqlite") as db:
        rows = db.execute("SELECT updated FROM conversations WHERE title = ?", (title,))
        return [updated for (updated,) in rows]


def test_a_deleted_conversation_comes_back_with_undo(page, live_server):
    """ "Delete this conversation" had no confirmation and no undo."""
    question = f"{QUESTION_EN} (undo)"
    ask(page, question)
    answer = page.locator("#chat .answer").first.inner_text()
    _open_history(page)
    label = page.locator("#history label").filter(has_text=question)
    label.wait_for()
    saved = _updated(live_server, question)
    assert len(saved) == 1
    undo = page.locator("#undo-delete")
    assert undo.is_hidden()
    page.locator("#delete-conversation").click()
    page.locator("#history-notice").filter(has_text="deleted").wait_for()
    label.wait_for(state="detached")
    assert page.locator("#chat .answer").count() == 0 and _updated(live_server, question) == []
    undo.click()
    page.locator("#history-notice").filter(has_text="back").wait_for()
    label.wait_for()  # in the list, where it was
    page.locator("#chat .answer").first.wait_for()  # and on screen again
    assert page.locator("#chat .answer").first.inner_text() == answer
    assert _updated(live_server, question) == saved and undo.is_hidden()
    ask(page, "Who is Vladimir Putin meeting?")  # the same conversation goes on
    page.wait_for_function("() => document.querySelectorAll('#chat .answer').length === 2")
    assert len(_updated(live_server, question)) == 1


def test_an_arabic_title_is_one_line_read_right_to_left(page):
    """An Arabic conversation's title wrapped oddly in the sidebar of the English page."""
    ask(page, LONG_ARABIC_QUESTION)
    _open_history(page)
    text = page.locator("#history label > span").filter(has_text="عراقجي").first
    text.wait_for()
    line = float(text.evaluate("e => parseFloat(getComputedStyle(e).lineHeight)"))
    assert text.bounding_box()["height"] < 1.5 * line  # one line
    assert text.evaluate("e => e.scrollWidth > e.clientWidth")  # cut, not wrapped
    # the date stands to the right of the title: the line reads right to left
    date_x, title_x = text.evaluate("""e => {
        const node = e.firstChild, text = node.textContent, range = document.createRange();
        const x = i => { range.setStart(node, i); range.setEnd(node, i + 1);
                         return range.getBoundingClientRect().x; };
        return [x(text.indexOf('2')), x(text.indexOf('م'))];
    }""")
    assert date_x > title_x
    screenshot(page, "chat-history-arabic.png")
