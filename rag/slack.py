"""The Slack app (slack-bolt): answers mentions, direct messages and ``/ask`` in threads.

Served by the main server at ``/slack/events`` (Events API over HTTP; Bolt verifies the
signing secret and refuses requests older than five minutes) or by ``rag slack --socket``
(Socket Mode). Bolt acknowledges each event at once and answers in a worker thread, so
Slack's three-second limit holds however long the answer takes.
"""

from __future__ import annotations

import logging
import re
import threading
import uuid
from collections import OrderedDict

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from slack_bolt import App
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from slack_sdk import WebClient
from starlette.concurrency import run_in_threadpool

from rag.access import Access
from rag.errors import RagError
from rag.service import Service
from rag.types import Answer

log = logging.getLogger(__name__)

SECTION_LIMIT = 2900  # Slack allows 3,000 characters in a section block
BLOCKS_PER_MESSAGE = 45  # of Slack's 50
EXAMPLE_QUESTION = "What did Araghchi say about enrichment?"
_MENTION = re.compile(r"<@[A-Z0-9]+>")


class _Recent:
    """The last ``size`` keys seen: to answer an event once, however often Slack retries."""

    def __init__(self, size: int = 2000):
        self.size = size
        self._keys: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def first_time(self, key: str) -> bool:
        with self._lock:
            if key in self._keys:
                return False
            self._keys[key] = None
            while len(self._keys) > self.size:
                self._keys.popitem(last=False)
            return True


class _Answers:
    """Answers shown in Slack, by id, so a 👍/👎 click can store what it rates."""

    def __init__(self, size: int = 2000):
        self.size = size
        self._answers: OrderedDict[str, Answer] = OrderedDict()
        self._lock = threading.Lock()

    def keep(self, answer: Answer) -> str:
        key = uuid.uuid4().hex
        with self._lock:
            self._answers[key] = answer
            while len(self._answers) > self.size:
                self._answers.popitem(last=False)
        return key

    def get(self, key: str) -> Answer | None:
        with self._lock:
            return self._answers.get(key)


def build_slack_app(service: Service) -> App:
    """The Bolt app: each kind of event goes to a method of ``SlackDesk``."""
    settings = service.settings
    client = WebClient(
        token=settings.slack_bot_token,
        **({"base_url": settings.slack_api_url} if settings.slack_api_url else {}),
    )
    app = App(
        token=settings.slack_bot_token,
        signing_secret=settings.slack_signing_secret,
        client=client,
        token_verification_enabled=False,  # checked on the first event, not at start-up
    )
    desk = SlackDesk(service, client)
    app.event("app_mention")(desk.on_mention)
    app.event("message")(desk.on_message)
    app.command("/ask")(desk.on_ask)
    app.action(re.compile(r"^feedback_(up|down)$"))(desk.on_feedback)
    return app


class SlackDesk:
    """Answers Slack's events through the service's door, each in its thread, once however
    often Slack retries; keeps the answers shown so a 👍/👎 click rates the right one."""

    def __init__(self, service: Service, client: WebClient):
        self.service, self.client = service, client
        self.seen, self.shown = _Recent(), _Answers()

    def on_mention(self, body, event):
        if not self.seen.first_time(body.get("event_id") or event.get("ts", "")):
            return
        question = _MENTION.sub("", event.get("text", "")).strip()
        thread = event.get("thread_ts")
        self.answer_in_thread(
            question, event.get("user", ""), event["channel"], thread or event["ts"], thread
        )

    def on_message(self, body, event):
        direct = event.get("channel_type") == "im"
        if not direct or event.get("subtype") or event.get("bot_id"):
            return
        if not self.seen.first_time(body.get("event_id") or event.get("ts", "")):
            return
        thread = event.get("thread_ts")
        self.answer_in_thread(event.get("text", "").strip(), event.get("user", ""),
                              event["channel"], thread or event["ts"], thread)  # fmt: skip

    def on_ask(self, ack, command):
        question = (command.get("text") or "").strip()
        if not question:
            ack(f"Ask a question after /ask, for example: /ask {EXAMPLE_QUESTION}")
            return
        ack()
        posted = self.client.chat_postMessage(
            channel=command["channel_id"],
            text=f"<@{command['user_id']}> asked: {_escape(question)}",
        )
        self.answer_in_thread(
            question, command["user_id"], command["channel_id"], posted["ts"], None
        )

    def on_feedback(self, ack, body, action):
        ack()
        answer = self.shown.get(action.get("value", ""))
        if answer is None:
            return
        rating = 1 if action["action_id"] == "feedback_up" else -1
        channel = (body.get("channel") or {}).get("id")
        user = (body.get("user") or {}).get("id")
        try:
            self.service.rate(Access.slack_user(user or ""), answer, rating)
            reply = "Thanks for the feedback."
        except RagError as err:  # over the limit, or a read-only index folder
            reply = f"⚠️ {err}"
        if channel and user:
            self.client.chat_postEphemeral(channel=channel, user=user, text=reply)

    def answer_in_thread(
        self, question: str, user: str, channel: str, thread_ts: str, history_from: str | None
    ):
        client = self.client
        history = _thread_history(client, channel, history_from) if history_from else []
        try:
            answer = self.service.ask(Access.slack_user(user), question, history=history)
        except (RagError, ValueError) as err:  # AccessError too: over the limit, busy
            client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=f"⚠️ {err}")
            return
        key = self.shown.keep(answer)
        for blocks in answer_messages(answer, key):
            client.chat_postMessage(
                channel=channel, thread_ts=thread_ts, blocks=blocks, text=_fallback(answer),
                unfurl_links=False, unfurl_media=False,
            )  # fmt: skip


def slack_router(service: Service) -> APIRouter:
    """``POST /slack/events``: events, slash commands and button clicks from Slack."""
    bolt = build_slack_app(service)
    router = APIRouter()

    @router.post("/slack/events", include_in_schema=False)
    async def events(request: Request):
        stamp = request.headers.get("x-slack-request-timestamp", "")
        if not stamp.isascii() or not stamp.isdigit():  # Bolt would fail on it with a 500
            problem = {"code": "invalid_signature", "message": "missing or bad Slack timestamp"}
            return JSONResponse({"error": problem}, status_code=401)
        body = await request.body()
        response = await run_in_threadpool(bolt.dispatch, to_bolt_request(request, body))
        return to_starlette_response(response)

    return router


def run_socket_mode(service: Service) -> None:
    """Connect to Slack over Socket Mode (no public URL needed) until interrupted."""
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    if not service.settings.slack_app_token:
        raise RagError("Socket Mode needs slack_app_token (RAG_SLACK_APP_TOKEN, xapp-...)")
    SocketModeHandler(build_slack_app(service), service.settings.slack_app_token).start()


def _thread_history(client: WebClient, channel: str, thread_ts: str) -> list[dict]:
    """The thread so far as chat history (the bot's messages as the assistant's turns)."""
    try:
        replies = client.conversations_replies(channel=channel, ts=thread_ts, limit=50)
    except Exception as err:  # history is a help, not a must: answer without it
        log.warning("could not read the Slack thread: %r", err)
        return []
    turns = []
    for message in replies.get("messages", [])[:-1]:  # the last one is the new question
        role = "assistant" if message.get("bot_id") else "user"
        text = _MENTION.sub("", message.get("text", "")).strip()
        if text:
            turns.append({"role": role, "content": text})
    return turns


# ----- formatting ----------------------------------------------------------------------


def _escape(text: str) -> str:
    """Slack's three control characters; everything else is shown as written."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def answer_mrkdwn(answer: Answer) -> list[str]:
    """The answer, then one paragraph per cited source with its quote, in Slack mrkdwn."""
    parts = [_escape(answer.text)]
    parts += [f"_{_escape(note)}_" for note in answer.notes]
    for claim in answer.claims:
        if not claim.supported:
            parts.append(f"⚠️ _not supported by the cited source:_ {_escape(claim.text)}")
    for c in answer.citations:
        title = _escape(c.title or c.article_id)
        if c.url.startswith(("https://", "http://")):
            title = f"<{c.url.replace('|', '%7C').replace('>', '%3E')}|{title}>"
        where = " · ".join(_escape(part) for part in (c.source, c.date) if part)
        quoted = "".join(f"\n> {_escape(q.quote)}" for q in c.quotes())
        parts.append(f"*[{c.marker}]* {title}" + (f" — {where}" if where else "") + quoted)
    return parts


def answer_messages(answer: Answer, key: str) -> list[list[dict]]:
    """Block Kit messages within Slack's limits; 👍/👎 buttons under the last one."""
    sections = [
        {"type": "section", "text": {"type": "mrkdwn", "text": piece}}
        for part in answer_mrkdwn(answer)
        for piece in _split(part, SECTION_LIMIT)
    ]
    sections.append(
        {
            "type": "actions",
            "elements": [
                {"type": "button", "action_id": "feedback_up", "value": key,
                 "text": {"type": "plain_text", "text": "👍"}},
                {"type": "button", "action_id": "feedback_down", "value": key,
                 "text": {"type": "plain_text", "text": "👎"}},
            ],
        }
    )  # fmt: skip
    return [
        sections[i : i + BLOCKS_PER_MESSAGE] for i in range(0, len(sections), BLOCKS_PER_MESSAGE)
    ]


def _split(text: str, limit: int) -> list[str]:
    """Pieces of at most ``limit`` characters, cut at line or word ends where possible."""
    pieces = []
    while len(text) > limit:
        cut = max(text.rfind("\n", 0, limit), text.rfind(" ", 0, limit))
        cut = cut if cut > limit // 2 else limit
        pieces.append(text[:cut])
        text = text[cut:].lstrip()
    return [*pieces, text] if text else pieces


def _fallback(answer: Answer) -> str:
    """The notification text (shown where blocks are not)."""
    return _escape(answer.text)[:SECTION_LIMIT]
