"""The web chat on a phone (390x844, touch) and the marker cards on a desktop, in a real
browser: the conversation owns the screen, as on ChatGPT's mobile page (#35)."""

from __future__ import annotations

import pytest

from tests.browser import QUESTION_AR, QUESTION_EN, ask, chat_page, hover_for_card, screenshot
from tests.conftest import ENRICHMENT_SENTENCE

PHONE = {"width": 390, "height": 844}
IN_CHAT_VIEW = """e => {
    const chat = document.querySelector('#chat .bubble-wrap').getBoundingClientRect();
    const r = e.getBoundingClientRect();
    return r.top >= chat.top && r.bottom <= chat.bottom && r.bottom <= innerHeight;
}"""


@pytest.fixture
def phone(browser, live_server):
    with chat_page(browser, live_server.url, PHONE, is_mobile=True, has_touch=True) as page:
        yield page


def _box(page, selector: str) -> dict:
    return page.locator(selector).first.bounding_box()


def _overlap(a: dict, b: dict) -> bool:
    return not (a["x"] + a["width"] <= b["x"] or b["x"] + b["width"] <= a["x"]
                or a["y"] + a["height"] <= b["y"] or b["y"] + b["height"] <= a["y"])  # fmt: skip


@pytest.mark.parametrize("language", ["en", "ar"])
def test_on_a_phone_the_conversation_owns_the_screen(phone, language):
    """The header (title, language, what is indexed) took ~60 % of the first screen and left
    the chat ~320 px; now it is a title line and one line of what is indexed."""
    if language == "ar":
        phone.locator("#ui-language label").filter(has_text="العربية").tap()
        phone.get_by_text("سؤالك").first.wait_for()
        phone.wait_for_function("document.documentElement.dir === 'rtl'")
    title, choice = _box(phone, "#title h2"), _box(phone, "#ui-language")
    assert not _overlap(title, choice), (title, choice)  # side by side, on one line
    assert (
        choice["y"] < title["y"] + title["height"] and choice["y"] + choice["height"] > title["y"]
    )
    assert _box(phone, "#indexed p")["height"] <= 24  # one line; the Library has it whole
    chat = _box(phone, "#chat")
    assert chat["y"] <= 200 and chat["height"] >= 0.5 * PHONE["height"], chat
    for element in ("#question textarea", "#send", "#new-chat"):
        box = _box(phone, element)
        assert box["y"] >= chat["y"] + chat["height"] and box["y"] + box["height"] <= 844, element
    screenshot(phone, f"chat-phone-{language}.png")


def test_on_a_phone_a_tapped_marker_opens_its_quote_in_view(phone):
    ask(phone, QUESTION_EN)  # quoted in Arabic, with a note why it is not translated
    note = phone.locator("#chat .note").first
    assert "not translated" in note.inner_text()
    line = float(note.evaluate("e => parseFloat(getComputedStyle(e).lineHeight)"))
    assert note.bounding_box()["height"] <= 4.5 * line  # it was ten lines, a whole answer
    ask(phone, QUESTION_AR)
    marker = phone.locator("#chat .answer a.marker").last
    marker.tap()
    quote = phone.locator("#a2-src-1 mark.quote").filter(has_text=ENRICHMENT_SENTENCE).first
    quote.wait_for(state="visible")
    # the source opens under its answer, taller than the chat: its quote is scrolled to
    phone.wait_for_function(f"({IN_CHAT_VIEW})(document.querySelector('#a2-src-1 mark.quote'))")
    assert phone.locator("#sources").is_hidden()  # no second copy of the sources below
    assert phone.locator("#chat .card:visible").count() == 0  # the source, not a card over it
    screenshot(phone, "chat-phone-source.png")


def test_a_markers_card_shows_on_hover_and_closes_once_clicked(browser, live_server):
    """The card stayed open after a click, over the answer, while the pointer rested."""
    with chat_page(browser, live_server.url) as page:
        ask(page, QUESTION_AR)
        marker = page.locator("#chat .answer a.marker").first
        card = marker.locator("xpath=..").locator(".card")
        hover_for_card(marker, card)
        marker.click()
        page.locator("#a1-src-1").wait_for(state="visible")
        card.wait_for(state="hidden")  # the pointer still on the marker
        page.mouse.move(5, 5)
        hover_for_card(marker, card)  # and back on the next hover
