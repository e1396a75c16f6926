"""A small OpenAI-compatible chat server on 127.0.0.1, real HTTP and SSE, for tests.

Each request is answered by ``server.reply(request_body) -> Reply``; every request body is
kept in ``server.requests``.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass

from tests.loopback import LoopbackServer, QuietHandler


@dataclass
class Reply:
    text: str = ""
    status: int = 200
    delay: float = 0.0  # seconds before answering
    garbage: bool = False  # a body that is not JSON
    drop_after: int | None = None  # close the stream after this many tokens
    token_delay: float = 0.0  # seconds between streamed tokens (a model that writes visibly)


class FakeLLM(LoopbackServer):
    def __init__(self):
        self.requests: list[dict] = []
        self.reply = lambda body: Reply("ok")
        super().__init__(self._handler())

    @property
    def api_base(self) -> str:
        return f"{self.root}/v1"

    def start(self):
        return self  # serving since construction; kept for the fixtures' readability

    def _handler(self):
        fake = self

        class Handler(QuietHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append(body)
                reply = fake.reply(body)
                time.sleep(reply.delay)
                if reply.status != 200:
                    self._send(reply.status, {"error": {"message": "boom", "type": "server_error"}})
                elif reply.garbage:
                    self._raw(200, b"this is not json", "application/json")
                elif body.get("stream"):
                    self._stream(body, reply)
                else:
                    self._send(200, _completion(body["model"], reply.text))

            def _send(self, status, payload):
                self._raw(status, json.dumps(payload).encode(), "application/json")

            def _raw(self, status, data, content_type):
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _stream(self, body, reply):
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                tokens = _tokens(reply.text)
                for i, token in enumerate(tokens):
                    if reply.drop_after is not None and i == reply.drop_after:
                        self.wfile.flush()
                        self.connection.close()
                        return
                    chunk = {
                        "id": "c1",
                        "object": "chat.completion.chunk",
                        "created": 0,
                        "model": body["model"],
                        "choices": [
                            {"index": 0, "delta": {"content": token}, "finish_reason": None}
                        ],
                    }
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                    self.wfile.flush()
                    time.sleep(reply.token_delay)
                end = {
                    "id": "c1",
                    "object": "chat.completion.chunk",
                    "created": 0,
                    "model": body["model"],
                    "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                }
                self.wfile.write(f"data: {json.dumps(end)}\n\ndata: [DONE]\n\n".encode())
                self.wfile.flush()

        return Handler


def _tokens(text: str) -> list[str]:
    words = text.split(" ")
    return [w + (" " if i < len(words) - 1 else "") for i, w in enumerate(words)]


def _completion(model: str, text: str) -> dict:
    return {
        "id": "c1",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


# what the tests' model says, and where it finds its sources in a prompt
CLAIM = "Araghchi said that Iran's right to enrich uranium is not negotiable"


def source_number(prompt: str, needle: str) -> int:
    """The n of the <source n> block of the prompt that contains ``needle``."""
    for number, block in re.findall(r"<source (\d+)>(.*?)</source \1>", prompt, re.S):
        if needle in block:
            return int(number)
    raise AssertionError(f"{needle!r} is in no source of the prompt")


def user_prompt(body: dict) -> str:
    return next(m["content"] for m in body["messages"] if m["role"] == "user")
