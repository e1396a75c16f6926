"""The web chat with a language model configured (a real OpenAI-compatible server on
loopback that writes slowly): the answer streams visibly, and Stop stops it."""

from __future__ import annotations

import sqlite3

import pytest

from tests.browser import QUESTION_AR, QUESTION_EN, chat_page, screenshot
from tests.conftest import ENRICHMENT_SENTENCE, SEEDS
from tests.fake_llm import CLAIM, FakeLLM, Reply, source_number, user_prompt
from tests.live_server import start_server

TOKEN_DELAY = 0.15


@pytest.fixture(scope="module")
def llm():
    server = FakeLLM().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def generating_server(tmp_path_factory, llm):
    folder = tmp_path_factory.mktemp("generating")
    server = start_server(folder / "index", SEEDS, folder / "server.log",
                          llm_model="openai/fake-writer", llm_api_base=llm.api_base,
                          llm_api_key="not-needed", llm_timeout="60")  # fmt: skip
    yield server
    server.stop()


@pytest.fixture
def page(browser, generating_server):  # noqa: F811
    with chat_page(browser, generating_server.url) as page:
        yield page


def _cited_claim(body: dict, repeat: int = 1) -> Reply:
    marker = source_number(user_prompt(body), ENRICHMENT_SENTENCE)
    return Reply(" ".join([f"{CLAIM} [{marker}]."] * repeat), token_delay=TOKEN_DELAY)


RECORD_LENGTHS = """() => {
    window.lengths = [];
    setInterval(() => {
        const bots = document.querySelectorAll('#chat [data-testid="bot"]');
        const last = bots[bots.length - 1];
        const n = last ? last.innerText.length : 0;
        if (window.lengths[window.lengths.length - 1] !== n) window.lengths.push(n);
    }, 50);
}"""


def test_a_generated_answer_streams_visibly_then_shows_its_sources(page, llm):
    llm.reply = _cited_claim
    page.evaluate(RECORD_LENGTHS)
    page.locator("#question textarea").fill(QUESTION_EN)
    page.locator("#send").click()
    page.locator("#chat p.mode").wait_for(timeout=60_000)  # "Written by a language model"
    growing = [n for n in page.evaluate("window.lengths") if n > 3]
    assert len(growing) >= 5, growing  # the text grew in steps, not all at once
    answer = page.locator("#chat .answer").last
    assert CLAIM in answer.inner_text()
    assert answer.locator("a.marker").first.get_attribute("href").startswith("#a1-src-")
    page.locator("#sources mark.quote").filter(has_text=ENRICHMENT_SENTENCE).first.wait_for()
    screenshot(page, "chat-generated.png")


def test_stop_stops_the_answer_and_the_next_one_is_rated_right(page, llm, generating_server):
    llm.reply = lambda body: _cited_claim(body, repeat=8)  # ~20 s of writing
    page.locator("#question textarea").fill(QUESTION_EN)
    page.locator("#send").click()
    page.wait_for_function(
        "() => { const b = [...document.querySelectorAll('#chat [data-testid=\"bot\"]')].pop();"
        " return b && b.innerText.includes('Iran'); }"
    )
    assert page.locator("#send").is_disabled()  # Ask is off while an answer is written
    page.locator("#stop").click()
    page.locator("#stop").wait_for(state="hidden")
    assert page.locator("#send").is_enabled()
    stopped = page.locator('#chat [data-testid="bot"]').nth(
        page.locator('#chat [data-testid="bot"]').count() - 1
    )  # this message, not the last one once the next answer comes
    stopped_at = stopped.inner_text()
    assert stopped_at.count(CLAIM) < 8
    screenshot(page, "chat-stopped.png")

    llm.reply = _cited_claim
    page.locator("#question textarea").fill(QUESTION_AR)
    page.locator("#send").click()
    page.locator("#chat p.mode").last.wait_for(timeout=60_000)
    page.get_by_role("button", name="Like", exact=True).last.click()
    page.locator("#notice").filter(has_text="feedback was saved").wait_for()
    with sqlite3.connect(generating_server.index_dir / "feedback.sqlite3") as db:
        rated = db.execute("SELECT question FROM feedback ORDER BY id DESC LIMIT 1").fetchone()
    assert rated == (QUESTION_AR,)  # the answer rated is the one shown, not the stopped one
    assert stopped.inner_text() == stopped_at  # a whole answer later: the stopped one got no more
