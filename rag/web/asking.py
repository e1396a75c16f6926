"""The chat's handlers: asking (streamed, through the service's door), the reasons not to
answer, regenerate, edit, stop, and redrawing the answers in another language."""

from __future__ import annotations

import logging
from dataclasses import asdict
from html import escape, unescape

import gradio as gr

from rag.access import AccessError
from rag.answers.retrieval import Filters
from rag.errors import RagError
from rag.service import Service
from rag.text.question import MAX_QUESTION_CHARS
from rag.types import Answer, is_iso_date
from rag.web import rendering, requests
from rag.web.labels import LABELS
from rag.web.rendering import (
    answer_html,
    sources_html,
)

log = logging.getLogger(__name__)


def respond(service, request, saves, text, chat, given, sources, start, end, lang):
    """Yields (question box, chat, answers, sources panel, notice) as the answer streams;
    an answer let through the door allows its page one save of the conversation."""
    t = LABELS[lang]
    question = (text or "").strip()
    start, end = (start or "").strip() or None, (end or "").strip() or None
    try:
        refusal, filters = reason_not_to_answer(
            service, question, tuple(sources or ()), start, end, t
        )
        caller = None if refusal is not None else requests.caller_of(service, request)
    except AccessError as err:
        refusal = err.message
    if refusal is not None:  # "" for an empty question: ignored
        yield gr.update(), chat, given, gr.update(), refusal
        return
    given = in_step(chat, given)
    history = history_of(given)
    chat = [
        *chat,
        {"role": "user", "content": escape(question, quote=False)},  # as typed when edited
        {"role": "assistant", "content": "…"},
    ]
    yield "", chat, given, gr.update(), ""
    partial, pieces = "", None
    try:
        # the slot is taken and the answer started before the first yield below: a stopped
        # answer is abandoned at a yield, and closing ``pieces`` gives the slot back
        pieces = service.ask_streaming(caller, question, history=history, filters=filters)
        saves.grant(requests.session_of(request))
        for piece in pieces:
            if isinstance(piece, Answer):
                answer = piece
                break
            partial += piece
            chat[-1] = {"role": "assistant", "content": escape(partial)}
            yield "", chat, given, gr.update(), ""
    except (RagError, ValueError) as err:  # AccessError too: over the limit, or busy
        yield question, chat[:-2], given, gr.update(), str(err)
        return
    except Exception:  # the page must show a message, never hang or show a traceback
        log.exception("answering failed")
        yield question, chat[:-2], given, gr.update(), t["failed"]
        return
    finally:
        if pieces is not None:
            pieces.close()
    articles = service.cited_articles(answer)
    chat[-1] = {"role": "assistant", "content": answer_html(answer, articles, t, len(given) + 1)}
    yield "", chat, [*given, asdict(answer)], sources_html(answer, articles, t), ""


def reason_not_to_answer(service: Service, question: str, sources: tuple, start, end, t: dict):
    """Why the page will not answer ("" for an empty question: ignored; else a notice, or
    None when it will), and the filters when it will. Checked in this order: the question,
    the dates, whether any article is there."""
    if not question:
        return "", None
    if len(question) > MAX_QUESTION_CHARS:
        return t["too_long"].format(n=len(question), limit=MAX_QUESTION_CHARS), None
    for value in (start, end):
        if value and not is_iso_date(value):
            return t["bad_date"].format(value=value), None
    filters = Filters(sources, start, end)
    return (None if service.has_articles(filters) else t["empty_range"]), filters


def in_language(service: Service, chat: list[dict], given: list, lang: str):
    """The chat's answers and the sources panel drawn again with ``lang``'s labels."""
    t, chat, newest = LABELS[lang], [dict(message) for message in chat], None
    replies = [i for i, message in enumerate(chat) if message.get("role") == "assistant"]
    for number, (position, answer) in enumerate(zip(replies, given, strict=False), start=1):
        if answer:  # a stopped answer stays as it was
            newest = Answer.from_dict(answer)
            articles = service.cited_articles(newest)
            chat[position]["content"] = answer_html(newest, articles, t, number)
    if newest is None:
        return chat, sources_html(rendering.empty_answer(), {}, t)
    return chat, sources_html(newest, articles, t)


def history_of(given: list[dict | None]) -> list[dict]:
    history = []
    for answer in filter(None, given):  # a stopped answer is no part of it
        history.append({"role": "user", "content": answer["question"]})
        history.append({"role": "assistant", "content": answer["text"]})
    return history


def text_of(message: dict) -> str:
    """A message's text as typed (Gradio may hand content over as a list of parts)."""
    content = message.get("content")
    if isinstance(content, list):
        content = " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    return unescape(content or "")


def cut_at(chat: list[dict], given: list, position: int) -> tuple[list, list]:
    """The conversation before message ``position`` (a question): messages and answers."""
    return chat[:position], given[: position // 2]


def retry_last(chat, given):
    """Regenerate: the last question goes back in the box, its answer is cut away."""
    questions = [i for i, m in enumerate(chat) if m.get("role") == "user"]
    if not questions:
        return gr.update(), chat, given
    return text_of(chat[questions[-1]]), *cut_at(chat, given, questions[-1])


def note_regenerated(service: Service, chat: list[dict], given: list, lang: str):
    """After a regeneration: a quoted answer (no model) is the same as before, so it says
    why, and what would find other passages; the chat, or no change."""
    if not given or not given[-1] or given[-1].get("mode") != "extractive":
        return gr.update()
    t, answer = LABELS[lang], Answer.from_dict(given[-1])
    answer.notes = [*answer.notes, t["regenerated_quoted"]]
    html = answer_html(answer, service.cited_articles(answer), t, len(given))
    return [*chat[:-1], {"role": "assistant", "content": html}]


def edit_question(chat, given, edit: gr.EditData):
    """An edited question is asked again; what followed it is cut away."""
    position = edit.index[0] if isinstance(edit.index, (list, tuple)) else edit.index
    if not 0 <= position < len(chat) or chat[position].get("role") != "user":
        return gr.update(), chat, given
    return unescape(str(edit.value)), *cut_at(chat, given, position)


def stopped(chat, given):
    """Ask back, Stop hidden, and a stopped answer counted (as None) so that the answers
    stay in step with the chat's messages (ratings and history rely on it)."""
    return gr.update(interactive=True), gr.update(visible=False), in_step(chat, given)


def in_step(chat: list[dict], given: list) -> list:
    """``given`` with a None for each stopped answer it lacks: the stopped answer's last
    update can arrive after Stop's and take the None back, and the next answer was then
    rated in its place (a flaky browser test, about one run in six)."""
    missing = sum(m.get("role") == "assistant" for m in chat) - len(given)
    return list(given) + [None] * max(0, missing)
