"""The Slack app: signed requests to the real server; replies go to a fake Slack Web API."""

from __future__ import annotations

import json
import time
import uuid
from urllib.parse import urlencode

import httpx
import pytest

from rag.slack import SECTION_LIMIT, answer_messages
from rag.types import Answer, Citation
from tests.conftest import ENRICHMENT_SENTENCE
from tests.fake_slack import mention, signed, text_of


def _post(live_server, body: str, headers: dict) -> httpx.Response:
    return httpx.post(f"{live_server.url}/slack/events", content=body, headers=headers, timeout=30)


def _answered_after(live_server, fake_slack) -> None:
    """A barrier for checks that something did not happen: a fresh mention sent now, and
    its answer. Events are taken in the order they arrive, so whatever was sent before it
    has been answered (or refused) by the time this one is."""
    body, _, ts = mention("What did Araghchi say about enrichment?")
    assert _post(live_server, body, signed(body)).status_code == 200
    fake_slack.wait_for(lambda m: m.get("thread_ts") == ts)


def test_a_mention_is_answered_in_its_thread_with_citations(live_server, fake_slack):
    body, _, ts = mention("What did Araghchi say about enrichment?")
    started = time.monotonic()
    response = _post(live_server, body, signed(body))
    assert response.status_code == 200
    assert time.monotonic() - started < 3  # acknowledged within Slack's limit
    reply = fake_slack.wait_for(lambda m: m.get("thread_ts") == ts)[0]
    assert reply["channel"] == "C1"
    text = text_of(reply)
    assert "*[1]*" in text and ENRICHMENT_SENTENCE in text
    buttons = (
        json.loads(reply["blocks"])[-1] if isinstance(reply["blocks"], str) else reply["blocks"][-1]
    )
    assert [e["action_id"] for e in buttons["elements"]] == ["feedback_up", "feedback_down"]


def test_a_retried_event_is_answered_once(live_server, fake_slack):
    body, _, ts = mention("What did Araghchi say about enrichment?")
    assert _post(live_server, body, signed(body)).status_code == 200
    fake_slack.wait_for(lambda m: m.get("thread_ts") == ts)
    retry = signed(body, **{"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"})
    assert _post(live_server, body, retry).status_code == 200
    _answered_after(live_server, fake_slack)  # the retry, had it been taken, went first
    assert len([m for m in fake_slack.posted() if m.get("thread_ts") == ts]) == 1


@pytest.mark.parametrize(
    "headers",
    [
        {"secret": "not-the-secret"},
        {"age": 6 * 60},  # older than five minutes: a replay
    ],
    ids=["bad-signature", "stale-timestamp"],
)
def test_forged_or_replayed_requests_get_401(live_server, fake_slack, headers):
    body, _, ts = mention("What did Araghchi say about enrichment?")
    response = _post(live_server, body, signed(body, **headers))
    assert response.status_code == 401
    _answered_after(live_server, fake_slack)
    assert not [m for m in fake_slack.posted() if m.get("thread_ts") == ts]


def test_a_follow_up_in_a_thread_reads_the_thread(live_server, fake_slack):
    first = f"{time.time() - 60:.6f}"
    fake_slack.thread = [
        {"user": "U1", "text": "<@UBOT> What did Araghchi say about enrichment?", "ts": first},
        {
            "bot_id": "BBOT",
            "text": "Araghchi said Iran's right to enrichment is not negotiable.",
            "ts": f"{time.time() - 50:.6f}",
        },  # fmt: skip
        {"user": "U1", "text": "<@UBOT> and what about Rome?", "ts": f"{time.time():.6f}"},
    ]
    body, _, _ = mention("and what about Rome?", thread_ts=first)
    assert _post(live_server, body, signed(body)).status_code == 200
    fake_slack.wait_for(lambda m: m.get("thread_ts") == first)
    assert any(
        name == "conversations.replies" and params.get("ts") == first
        for name, params in fake_slack.calls
    )


def test_feedback_button_is_stored(live_server, fake_slack):
    import sqlite3

    body, _, ts = mention("What did Araghchi say about enrichment?")
    _post(live_server, body, signed(body))
    reply = fake_slack.wait_for(lambda m: m.get("thread_ts") == ts)[0]
    blocks = json.loads(reply["blocks"]) if isinstance(reply["blocks"], str) else reply["blocks"]
    key = blocks[-1]["elements"][0]["value"]
    payload = {
        "type": "block_actions",
        "user": {"id": "U1"},
        "team": {"id": "T1"},
        "channel": {"id": "C1"},
        "api_app_id": "A1",
        "actions": [
            {
                "action_id": "feedback_up",
                "value": key,
                "type": "button",
                "block_id": "b1",
                "action_ts": f"{time.time():.6f}",
            }
        ],  # fmt: skip
        "trigger_id": "t1",
    }
    form = urlencode({"payload": json.dumps(payload)})
    headers = signed(form)
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    assert _post(live_server, form, headers).status_code == 200
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with sqlite3.connect(live_server.index_dir / "feedback.sqlite3") as db:
            rows = db.execute(
                "SELECT rating, channel FROM feedback WHERE channel = 'slack'"
            ).fetchall()
        if rows:
            break
        time.sleep(0.3)
    assert rows == [(1, "slack")]


def test_long_answers_are_split_within_slack_limits():
    citation = Citation(1, "a1", "a1:0", "T", "wire", "2025-01-01", "https://x.org/a",
                        "quote", 0, 5)  # fmt: skip
    long_text = ("word " * 4000).strip()
    answer = Answer("q", long_text, [citation], [], [], "en", "en", False, "extractive")
    messages = answer_messages(answer, "key")
    sections = [b for m in messages for b in m if b["type"] == "section"]
    assert all(len(b["text"]["text"]) <= SECTION_LIMIT for b in sections)
    assert all(len(m) <= 50 for m in messages)
    joined = " ".join(b["text"]["text"] for b in sections[:-1])
    assert joined.split() == long_text.split()
    assert "<https://x.org/a|T>" in sections[-1]["text"]["text"]


def test_the_ask_slash_command_answers_in_a_thread(live_server, fake_slack):
    channel = f"C{uuid.uuid4().hex[:8].upper()}"
    form = urlencode({
        "command": "/ask", "text": "What did Araghchi say about enrichment?",
        "channel_id": channel, "user_id": "U1", "team_id": "T1",
        "response_url": "http://127.0.0.1:9/unused", "trigger_id": "t1",
    })  # fmt: skip
    headers = signed(form)
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    started = time.monotonic()
    assert _post(live_server, form, headers).status_code == 200
    assert time.monotonic() - started < 3
    posts = fake_slack.wait_for(lambda m: m.get("channel") == channel and m.get("thread_ts"))
    assert ENRICHMENT_SENTENCE in text_of(posts[0])
    heading = [
        m for m in fake_slack.posted() if m.get("channel") == channel and not m.get("thread_ts")
    ]
    assert "asked: What did Araghchi say about enrichment?" in heading[0]["text"]


def test_a_direct_message_is_answered_and_bot_messages_are_not(live_server, fake_slack):
    def message(text: str, **extra) -> tuple[str, str]:
        ts = f"{time.time():.6f}"
        event = {"type": "message", "channel_type": "im", "channel": "D1", "user": "U1",
                 "text": text, "ts": ts, **extra}  # fmt: skip
        body = {"team_id": "T1", "api_app_id": "A1", "type": "event_callback", "event": event,
                "event_id": f"Ev{uuid.uuid4().hex[:10]}", "event_time": int(time.time()),
                "authorizations": [{"team_id": "T1", "user_id": "UBOT", "is_bot": True}]}  # fmt: skip
        return json.dumps(body), ts

    body, ts = message("What did Araghchi say about enrichment?")
    assert _post(live_server, body, signed(body)).status_code == 200
    assert ENRICHMENT_SENTENCE in text_of(
        fake_slack.wait_for(lambda m: m.get("thread_ts") == ts)[0]
    )
    own, own_ts = message("an answer the bot posted", bot_id="BBOT")
    assert _post(live_server, own, signed(own)).status_code == 200
    _answered_after(live_server, fake_slack)
    assert not [m for m in fake_slack.posted() if m.get("thread_ts") == own_ts]


def test_what_happened_on_a_day_is_answered_with_its_stories_in_slack(live_server, fake_slack):
    """#33 in Slack: the same digest as the chat and the API, in the thread."""
    body, _, ts = mention("What happened on April 17, 2025?")
    assert _post(live_server, body, signed(body)).status_code == 200
    text = text_of(fake_slack.wait_for(lambda m: m.get("thread_ts") == ts)[0])
    assert "The main stories of 2025-04-17" in text and "*[1]*" in text
