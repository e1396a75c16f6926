"""The browser tests' shared parts: Debian's Chromium, the key page, screenshots."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
QUESTION_EN = "What did Araghchi say about enrichment?"
QUESTION_AR = "ماذا قال عراقجي عن التخصيب؟"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def log_in(page, url: str, key: str) -> None:
    """The server has keys: the chat opens after the key page."""
    page.goto(url + "/")
    page.locator("#key").fill(key)
    page.get_by_role("button", name="Open the chat").click()


def screenshot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def ask(page, question: str) -> None:
    """Ask, and wait for the answer (a new one in the chat, Ask usable again)."""
    answers = page.locator("#chat .answer").count()
    page.locator("#question textarea").fill(question)
    page.locator("#send").click()
    page.wait_for_function(
        "n => document.querySelectorAll('#chat .answer').length > n"
        " && !document.querySelector('#send').disabled",
        arg=answers,
        timeout=120_000,
    )


def hover_for_card(marker, card, tries: int = 5) -> None:
    """Hover ``marker`` until its ``card`` shows: the chat may still be scrolling to a new
    answer, moving the marker from under the pointer."""
    for attempt in range(tries):
        marker.hover()
        try:
            card.wait_for(state="visible", timeout=2_000)
            return
        except Exception:  # playwright's TimeoutError
            if attempt == tries - 1:
                raise


@contextmanager
def chat_page(browser, url: str, viewport: dict | None = None, **options) -> Iterator:
    """The chat opened in a fresh browser context (its own storage), logged in with the
    admin key, ready for a question; the context is closed after."""
    from tests.live_server import ADMIN_KEY

    context = browser.new_context(viewport=viewport or {"width": 1366, "height": 900}, **options)
    try:
        page = context.new_page()
        log_in(page, url, ADMIN_KEY)
        page.locator("#question textarea").wait_for()
        yield page
    finally:
        context.close()
