"""Past conversations (saved per browser) and ratings: the sidebar's handlers, and the save
allowance that lets the save after an answer through uncounted."""

from __future__ import annotations

import logging
import threading
import uuid
from collections import OrderedDict

import gradio as gr

from rag.access import AccessError, Caller
from rag.errors import RagError
from rag.service import Service
from rag.types import Answer
from rag.web import rendering, requests
from rag.web.labels import BROWSER_ID, LABELS
from rag.web.rendering import (
    sources_html,
)

log = logging.getLogger(__name__)


def start_history(service: Service, request, browser_id):
    """A browser's id (made on its first visit) and its past conversations."""
    if not isinstance(browser_id, str) or not BROWSER_ID.fullmatch(browser_id):
        browser_id = uuid.uuid4().hex
    try:
        choices = conversation_choices(service, requests.caller_of(service, request), browser_id)
    except RagError:
        choices = []
    return browser_id, gr.update(choices=choices, value=None)


def conversation_choices(
    service: Service, caller: Caller, browser_id: str
) -> list[tuple[str, str]]:
    try:
        listed = service.conversations(caller, browser_id)
    except RagError:
        return []
    # the date isolated left-to-right (U+2066 ... U+2069): an Arabic title must not reorder
    # it; the title sets the line's direction (style.py: one line, cut where the title ends)
    return [(f"\u2066{updated[:10]}\u2069 · {title}", cid) for cid, title, updated in listed]


def remember(service, request, saves, browser_id, conversation_id, chat, given):
    """Save the conversation on screen after each answer: (its id, the list, a notice).
    The save that follows an answer belongs to it, let through the door with the answer
    (the last answer a minute allows is saved too); any other save (a script calling
    Gradio's API for it alone) counts as a request of its own."""
    if not chat or not isinstance(browser_id, str):
        return conversation_id, gr.update(), ""
    conversation_id = conversation_id or uuid.uuid4().hex
    try:
        caller = requests.caller_of(service, request)  # the key, every time
        counted = not saves.take(requests.session_of(request))
        service.save_conversation(caller, browser_id, conversation_id, chat, given,
                                  counted=counted)  # fmt: skip
    except RagError as err:  # over the limit, or a read-only folder: the chat still works
        return conversation_id, gr.update(), str(err)
    choices = conversation_choices(service, caller, browser_id)
    return conversation_id, gr.update(choices=choices, value=conversation_id), ""


class SaveAllowance:
    """Which page sessions may save their conversation once without counting a request:
    those just given an answer. The oldest are forgotten beyond ``most`` sessions."""

    def __init__(self, most: int = 10_000):
        self._sessions: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()
        self._most = most

    def grant(self, session: str | None) -> None:
        if not session:
            return
        with self._lock:
            self._sessions[session] = None
            self._sessions.move_to_end(session)
            while len(self._sessions) > self._most:
                self._sessions.popitem(last=False)

    def take(self, session: str | None) -> bool:
        """Whether ``session`` had a save allowed (it is used up)."""
        with self._lock:
            if session not in self._sessions:
                return False
            del self._sessions[session]
            return True


def reopen(service, request, browser_id, conversation_id, lang):
    """A past conversation back on screen, with its newest answer's sources."""
    t = LABELS[lang]
    try:
        shown = service.conversation(
            requests.caller_of(service, request), browser_id, conversation_id
        )
    except RagError as err:
        return gr.update(), gr.update(), gr.update(), "", gr.update(), str(err)
    panel = _newest_sources(service, shown.answers, t)
    return shown.messages, shown.answers, panel, "", shown.id, ""


def _newest_sources(service: Service, answers: list[dict | None], t: dict[str, str]) -> str:
    """The sources panel of a conversation's newest answer."""
    answered = [a for a in answers if a]
    if not answered:
        return sources_html(rendering.empty_answer(), {}, t)
    newest = Answer.from_dict(answered[-1])
    return sources_html(newest, service.cited_articles(newest), t)


def forget(service, request, browser_id, chosen, shown, lang):
    """Delete the chosen conversation (the one on screen is cleared too), keeping it for an
    undo: (the list, a notice, the six parts of a fresh chat, what was deleted, Undo)."""
    t = LABELS[lang]
    unchanged = [gr.update()] * 6
    if not chosen:
        return gr.update(), t["choose_conversation"], *unchanged, gr.update(), gr.update()
    try:
        caller = requests.caller_of(service, request)
        deleted = service.forget_conversation(caller, browser_id, chosen)
    except RagError as err:
        return gr.update(), str(err), *unchanged, gr.update(), gr.update()
    choices = gr.update(choices=conversation_choices(service, caller, browser_id), value=None)
    undo = ((deleted, chosen == shown), gr.update(visible=True))
    if chosen != shown:
        return choices, t["conversation_deleted"], *unchanged, *undo
    empty = sources_html(rendering.empty_answer(), {}, t)
    fresh = [[], [], empty, "", None, gr.update(value=None)]
    return choices, t["conversation_deleted"], *fresh, *undo


def undo_forget(service, request, browser_id, deleted, on_screen, lang):
    """The conversation last deleted, back in the list, and back on screen if it was there
    and nothing has taken its place: (the list, a notice, the chat, its answers, the
    sources, the id on screen, what was deleted, Undo)."""
    t = LABELS[lang]
    if not deleted:
        return gr.update(), "", *[gr.update()] * 4, None, gr.update(visible=False)
    conversation, was_shown = deleted
    try:
        caller = requests.caller_of(service, request)
        service.restore_conversation(caller, browser_id, conversation)
    except RagError as err:
        return gr.update(), str(err), *[gr.update()] * 6
    back_on_screen = was_shown and on_screen is None
    choices = conversation_choices(service, caller, browser_id)
    listed = gr.update(choices=choices, value=conversation.id if back_on_screen else None)
    shown = [gr.update()] * 4
    if back_on_screen:
        shown = [conversation.messages, conversation.answers,
                 _newest_sources(service, conversation.answers, t), conversation.id]  # fmt: skip
    return listed, t["conversation_restored"], *shown, None, gr.update(visible=False)


def record_feedback(service: Service, request, given: list[dict], lang: str, data) -> str:
    index = data.index[0] if isinstance(data.index, (list, tuple)) else data.index
    position = int(index) // 2  # user, assistant, user, assistant, ...
    if data.liked not in (True, False) or not 0 <= position < len(given) or not given[position]:
        return ""
    try:
        rating = 1 if data.liked else -1
        service.rate(
            requests.caller_of(service, request), Answer.from_dict(given[position]), rating
        )
    except AccessError as err:
        return err.message
    except RagError as err:  # a read-only index folder
        return str(err)
    return LABELS[lang]["thanks"]
