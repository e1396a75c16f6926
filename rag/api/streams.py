"""Answers as they are written: the API's server-sent events (``/v1/ask`` with ``stream``)
and OpenAI's chat completion chunks (``/v1/chat/completions``), and the plain-text form of
an answer with its footnotes."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict
from typing import Any

from fastapi.responses import StreamingResponse

from rag.errors import RagError
from rag.types import Answer

log = logging.getLogger(__name__)


def _sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def event_stream(pieces: Iterator[str | Answer], metrics) -> StreamingResponse:
    """Events: ``token`` {text} as written, then ``answer`` (the answer as the service
    finished it, which is what to show: it may differ from the tokens after a fallback or
    a corrected draft), or ``error``; then ``done``."""

    def events() -> Iterator[str]:
        try:
            for piece in pieces:
                if isinstance(piece, Answer):
                    metrics.observe_answer(piece)
                    yield _sse("answer", asdict(piece))
                else:
                    yield _sse("token", {"text": piece})
        except (RagError, ValueError) as err:
            yield _sse("error", {"code": "request_failed", "message": str(err)})
        except Exception as err:
            log.error("answer stream failed: %r", err)
            yield _sse("error", {"code": "internal_error", "message": "the answer failed"})
        finally:
            pieces.close()  # a client gone: the answer slot is given back
        yield _sse("done", {})

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache"})  # fmt: skip


def footnotes(answer: Answer) -> str:
    """The citations as numbered footnotes under an answer, for plain-text clients."""
    lines = []
    for c in answer.citations:
        where = ", ".join(part for part in (c.source, c.date) if part)
        head = f"[{c.marker}] {c.title}" + (f" ({where})" if where else "")
        quoted = "".join(f"\n    “{q.quote}”" for q in c.quotes())
        lines.append(head + (f" {c.url}" if c.url else "") + quoted)
    return "\n".join(lines)


def completion_text(answer: Answer) -> str:
    """What a plain-text client shows: the answer, its notes, then the footnotes."""
    notes = "".join(f"\n\n({note})" for note in answer.notes)
    return answer.text + notes + ("\n\n" + footnotes(answer) if answer.citations else "")


def completion(answer: Answer) -> dict:
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": "rag",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": completion_text(answer)},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
        "citations": [asdict(c) for c in answer.citations],
        "abstained": answer.abstained,
        "mode": answer.mode,
    }


def completion_stream(pieces: Iterator[str | Answer]) -> StreamingResponse:
    """OpenAI's streaming format: content deltas as written, then what completes them into
    the finished answer with its footnotes, then ``[DONE]``.

    When the finished answer does not continue what was streamed (every model failed and the
    extractive answer stands in, or a draft was corrected), the last delta says so and
    carries the whole finished answer; the final chunk holds it too, as ``answer``.
    """
    identity = {"id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion.chunk",
                "created": int(time.time()), "model": "rag"}  # fmt: skip

    def chunk(delta: dict, finish: str | None = None, **extra) -> str:
        body = {**identity, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
        return f"data: {json.dumps({**body, **extra}, ensure_ascii=False)}\n\n"

    def events() -> Iterator[str]:
        yield chunk({"role": "assistant", "content": ""})
        streamed = ""
        try:
            for piece in pieces:
                if isinstance(piece, Answer):
                    yield chunk({"content": _rest_of(streamed, completion_text(piece))})
                    yield chunk({}, "stop", citations=[asdict(c) for c in piece.citations],
                                answer=asdict(piece))  # fmt: skip
                else:
                    streamed += piece
                    yield chunk({"content": piece})
        except Exception as err:
            log.error("chat completion stream failed: %r", err)
            yield chunk({"content": "\n\n(the answer failed; please retry)"}, "stop")
        finally:
            pieces.close()
        yield "data: [DONE]\n\n"

    return StreamingResponse(events(), media_type="text/event-stream")


REPLACED = "(The text above was not kept; the answer is:)"


def _rest_of(streamed: str, final: str) -> str:
    """What to send after ``streamed`` so the client ends up with ``final``."""
    if final.startswith(streamed):
        return final[len(streamed) :]
    return f"\n\n{REPLACED}\n\n{final}"
