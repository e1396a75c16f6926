"""A small fake of Slack's Web API on 127.0.0.1 (real HTTP), for the Slack app's tests.

``slack_sdk`` is pointed at it with ``base_url``; every call is kept in ``calls`` as
(method, parameters). ``thread`` is what ``conversations.replies`` returns.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import uuid
from urllib.parse import parse_qsl

from tests.live_server import SLACK_SECRET
from tests.loopback import LoopbackServer, QuietHandler


class FakeSlack(LoopbackServer):
    def __init__(self):
        self.calls: list[tuple[str, dict]] = []
        self.thread: list[dict] = []
        self._lock = threading.Lock()
        super().__init__(self._handler())

    @property
    def base_url(self) -> str:
        return f"{self.root}/api/"

    def posted(self, method: str = "chat.postMessage") -> list[dict]:
        with self._lock:
            return [params for name, params in self.calls if name == method]

    def wait_for(self, predicate, timeout: float = 90.0) -> list[dict]:
        """The posted messages matching ``predicate``, once there is at least one."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [m for m in self.posted() if predicate(m)]
            if found:
                return found
            time.sleep(0.2)
        raise AssertionError(f"no matching chat.postMessage within {timeout} s: {self.calls}")

    def _handler(self):
        fake = self

        class Handler(QuietHandler):
            def do_POST(self):
                method = self.path.rsplit("/", 1)[-1]
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                if "json" in (self.headers.get("Content-Type") or ""):
                    params = json.loads(raw or "{}")
                else:
                    params = dict(parse_qsl(raw))
                with fake._lock:
                    fake.calls.append((method, params))
                payload = {"ok": True}
                if method == "auth.test":
                    payload.update(user_id="UBOT", bot_id="BBOT", team_id="T1", user="rag")
                elif method == "chat.postMessage":
                    payload.update(channel=params.get("channel"), ts=f"{time.time():.6f}")
                elif method == "conversations.replies":
                    payload.update(messages=fake.thread)
                data = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler


def signed(body: str, *, secret: str = SLACK_SECRET, age: float = 0.0, **headers) -> dict:
    timestamp = str(int(time.time() - age))
    base = f"v0:{timestamp}:{body}".encode()
    signature = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": signature,
        "Content-Type": "application/json",
        **headers,
    }


def mention(text: str, *, thread_ts: str | None = None) -> tuple[str, str, str]:
    """(body, event id, ts) of an app_mention event."""
    event_id = f"Ev{uuid.uuid4().hex[:10]}"
    ts = f"{time.time():.6f}"
    event = {"type": "app_mention", "user": "U1", "text": f"<@UBOT> {text}", "ts": ts,
             "channel": "C1", "event_ts": ts}  # fmt: skip
    if thread_ts:
        event["thread_ts"] = thread_ts
    body = {
        "token": "legacy",
        "team_id": "T1",
        "api_app_id": "A1",
        "event": event,
        "type": "event_callback",
        "event_id": event_id,
        "event_time": int(time.time()),
        "authorizations": [{"team_id": "T1", "user_id": "UBOT", "is_bot": True}],
    }
    return json.dumps(body), event_id, ts


def text_of(message: dict) -> str:
    blocks = message.get("blocks")
    if isinstance(blocks, str):
        blocks = json.loads(blocks)
    return "\n".join(b["text"]["text"] for b in blocks or [] if b.get("type") == "section")
