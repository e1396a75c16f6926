"""The versioned JSON API (``/v1``), health, metrics, and an OpenAI-compatible chat endpoint.

Every error is JSON: ``{"error": {"code": "...", "message": "..."}}`` with a stable code;
no traceback reaches a client. Keys come from settings and are never logged.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections import defaultdict, deque
from collections.abc import Iterator
from dataclasses import asdict
from typing import Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, StreamingResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from rag.answering import MAX_QUESTION_CHARS
from rag.errors import ArticleNotFoundError, IndexWriteError, RagError
from rag.retrieval import Filters
from rag.service import Service
from rag.settings import Settings
from rag.types import Answer, Hit

log = logging.getLogger(__name__)


class ApiError(Exception):
    """An error with an HTTP status, a stable code and a message for people."""

    def __init__(self, status: int, code: str, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers


# ----- request bodies ------------------------------------------------------------------


class FiltersIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sources: list[str] = Field(default_factory=list, max_length=100)
    date_from: str | None = Field(None, description="ISO date, inclusive", max_length=32)
    date_to: str | None = Field(None, description="ISO date, inclusive", max_length=32)

    def to_filters(self) -> Filters:
        try:
            return Filters(tuple(self.sources), self.date_from, self.date_to)
        except ValueError as err:
            raise ApiError(422, "invalid_filters", str(err)) from None


class Turn(BaseModel):
    role: Literal["user", "assistant"]
    content: str = Field(max_length=20_000)


class AskIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    question: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS)
    history: list[Turn] = Field(default_factory=list, max_length=50)
    k: int | None = Field(None, ge=1, le=50)
    filters: FiltersIn | None = None
    language: Literal["ar", "en"] | None = None
    stream: bool = False


class SearchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    query: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS)
    k: int | None = Field(None, ge=1, le=50)
    filters: FiltersIn | None = None


class ArticleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str = Field("", max_length=2_000)
    content: str = Field(min_length=1)
    url: str = Field("", max_length=4_000)
    source: str = Field("", max_length=200)
    date: str = Field("", max_length=40)
    author: str = Field("", max_length=500)


class ArticlesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    articles: list[ArticleIn] = Field(min_length=1, max_length=1_000)


class ChatMessage(BaseModel):
    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):  # OpenAI content parts: keep the text ones
            return "".join(p.get("text", "") for p in self.content if p.get("type") == "text")
        return self.content or ""


class ChatCompletionIn(BaseModel):
    model: str = "rag"
    messages: list[ChatMessage] = Field(min_length=1, max_length=100)
    stream: bool = False
    model_config = ConfigDict(extra="allow")  # temperature etc. are accepted and ignored


# ----- limits: keys, rate, body size, concurrency --------------------------------------


class RateLimiter:
    """At most ``per_minute`` requests per client in any sliding minute."""

    def __init__(self, per_minute: int):
        self.per_minute = per_minute
        self._seen: dict[str, deque] = defaultdict(deque)
        self._lock = threading.Lock()

    def check(self, client: str) -> None:
        now = time.monotonic()
        with self._lock:
            seen = self._seen[client]
            while seen and now - seen[0] >= 60:
                seen.popleft()
            if len(seen) >= self.per_minute:
                wait = max(1, int(60 - (now - seen[0])) + 1)
                raise ApiError(
                    429, "rate_limited",
                    f"more than {self.per_minute} requests a minute; retry in {wait} s",
                    {"Retry-After": str(wait)},
                )  # fmt: skip
            seen.append(now)


class Access:
    """Who may do what: read keys, admin keys (read and write), and the rate limit."""

    def __init__(self, settings: Settings):
        self.read_keys = set(settings.key_list("api_keys"))
        self.admin_keys = set(settings.key_list("admin_keys"))
        self.limiter = RateLimiter(settings.rate_limit_per_minute)

    def reader(self, request: Request) -> str:
        key = _bearer(request)
        if self.read_keys or self.admin_keys:
            if key is None:
                raise ApiError(401, "missing_key", "send an API key: Authorization: Bearer KEY",
                               {"WWW-Authenticate": "Bearer"})  # fmt: skip
            if key not in self.read_keys | self.admin_keys:
                raise ApiError(401, "invalid_key", "the API key is not valid",
                               {"WWW-Authenticate": "Bearer"})  # fmt: skip
        client = (
            f"key:{hash(key)}" if key else f"ip:{request.client.host if request.client else ''}"
        )
        self.limiter.check(client)
        return client

    def admin(self, request: Request) -> str:
        client = self.reader(request)
        if not self.admin_keys:
            message = "writing through the API needs an admin key; set admin_keys"
            raise ApiError(403, "writes_disabled", message)
        if _bearer(request) not in self.admin_keys:
            raise ApiError(403, "admin_required", "this endpoint needs an admin key")
        return client


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, key = header.partition(" ")
    return key.strip() if scheme.lower() == "bearer" and key.strip() else None


def install_limits(app: FastAPI, settings: Settings) -> None:
    """Refuse bodies over ``max_body_bytes`` with 413, before they are read whole."""
    limit = settings.max_body_bytes

    class BodyLimit:
        def __init__(self, inner):
            self.inner = inner

        async def __call__(self, scope, receive, send):
            if scope["type"] != "http":
                return await self.inner(scope, receive, send)
            declared = dict(scope["headers"]).get(b"content-length")
            if declared is not None and declared.isdigit() and int(declared) > limit:
                return await _too_large(limit)(scope, receive, send)
            received = 0

            async def counting_receive():
                nonlocal received
                message = await receive()
                received += len(message.get("body", b""))
                if received > limit:
                    raise ApiError(413, "body_too_large", f"the body is over {limit} bytes")
                return message

            return await self.inner(scope, counting_receive, send)

    app.add_middleware(BodyLimit)


def _too_large(limit: int) -> JSONResponse:
    return _error_response(413, "body_too_large", f"the body is over {limit} bytes")


def _error_response(status: int, code: str, message: str, headers=None) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": code, "message": message}}, status_code=status, headers=headers
    )


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request, err: ApiError):
        return _error_response(err.status, err.code, err.message, err.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request, err: RequestValidationError):
        problems = "; ".join(_describe_problem(p) for p in err.errors()[:5])
        return _error_response(422, "invalid_request", problems or "the request is not valid")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request, err: StarletteHTTPException):
        code = {400: "invalid_body", 404: "not_found", 405: "method_not_allowed"}.get(
            err.status_code, "http_error"
        )
        return _error_response(err.status_code, code, str(err.detail), err.headers)

    @app.exception_handler(ArticleNotFoundError)
    async def not_found(request, err):
        return _error_response(404, "article_not_found", str(err))

    @app.exception_handler(IndexWriteError)
    async def unwritable(request, err):
        return _error_response(503, "index_unwritable", str(err), {"Retry-After": "60"})

    @app.exception_handler(RagError)
    async def rag_error(request, err):
        return _error_response(400, "request_failed", str(err))

    @app.exception_handler(ValueError)
    async def value_error(request, err):
        return _error_response(422, "invalid_value", str(err))

    @app.exception_handler(Exception)
    async def unexpected(request, err):
        log.error("unexpected error on %s %s: %r", request.method, request.url.path, err)
        return _error_response(500, "internal_error", "the server failed; it has been logged")


def _describe_problem(problem: dict) -> str:
    where = ".".join(str(part) for part in problem.get("loc", ()) if part != "body")
    return f"{where or 'body'}: {problem.get('msg', 'invalid')}"


# ----- metrics -------------------------------------------------------------------------


class Metrics:
    def __init__(self):
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "rag_requests", "API requests", ["endpoint", "status"], registry=self.registry
        )
        self.stage_seconds = Histogram(
            "rag_stage_seconds", "Time per answering stage", ["stage"], registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )  # fmt: skip
        self.request_seconds = Histogram(
            "rag_request_seconds", "Time per API request", ["endpoint"], registry=self.registry
        )

    def observe_answer(self, answer: Answer) -> None:
        for stage, seconds in answer.timings.items():
            self.stage_seconds.labels(stage).observe(seconds)

    def render(self, service: Service) -> bytes:
        stats = service.stats()
        index = (
            "# HELP rag_index_articles Articles in the index\n# TYPE rag_index_articles gauge\n"
            f"rag_index_articles {stats['articles']}\n"
            "# HELP rag_index_chunks Chunks in the index\n# TYPE rag_index_chunks gauge\n"
            f"rag_index_chunks {stats['chunks']}\n"
        )
        return generate_latest(self.registry) + index.encode()


# ----- routes --------------------------------------------------------------------------


def api_router(service: Service) -> APIRouter:
    settings = service.settings
    access = Access(settings)
    metrics = Metrics()
    answering = threading.BoundedSemaphore(settings.max_concurrent_answers)
    writing = threading.BoundedSemaphore(4)  # writes are serialised: a short queue, then 503
    router = APIRouter()

    def count(endpoint: str, status: int = 200) -> None:
        metrics.requests.labels(endpoint, str(status)).inc()

    def slot(semaphore, endpoint: str):
        if not semaphore.acquire(blocking=False):
            count(endpoint, 503)
            raise ApiError(503, "overloaded", f"too many {endpoint} requests in progress; "
                           "retry shortly", {"Retry-After": "1"})  # fmt: skip
        return semaphore

    def answer_slot():
        return slot(answering, "ask")

    @router.get("/healthz", tags=["health"])
    def healthz():
        return {"status": "ok"}

    @router.get("/readyz", tags=["health"])
    def readyz():
        stats = service.stats()
        return {"status": "ready", "articles": stats["articles"], "chunks": stats["chunks"],
                "vectors": stats["vectors"]}  # fmt: skip

    @router.get("/metrics", tags=["health"], response_class=PlainTextResponse)
    def metrics_endpoint():
        return PlainTextResponse(metrics.render(service), media_type=CONTENT_TYPE_LATEST)

    @router.post("/v1/ask", tags=["answers"])
    def ask(body: AskIn, _: str = Depends(access.reader)):
        """Answer a question with citations; ``stream`` sends server-sent events."""
        options = _ask_options(body.history, body.k, body.filters, body.language)
        slot = answer_slot()
        started = time.perf_counter()
        if body.stream:
            return _event_stream(service, body.question, options, slot, metrics)
        try:
            answer = service.ask(body.question, **options)
        finally:
            slot.release()
        metrics.observe_answer(answer)
        metrics.request_seconds.labels("ask").observe(time.perf_counter() - started)
        count("ask")
        return asdict(answer)

    @router.post("/v1/search", tags=["search"])
    def search(body: SearchIn, _: str = Depends(access.reader)):
        filters = body.filters.to_filters() if body.filters else None
        held = slot(answering, "search")
        try:
            result = service.search(body.query, k=body.k, filters=filters)
        finally:
            held.release()
        count("search")
        return {"hits": [hit_dict(hit) for hit in result.hits], "timings": result.timings}

    @router.get("/v1/articles/{article_id}", tags=["articles"])
    def get_article(article_id: str, _: str = Depends(access.reader)):
        count("article")
        return asdict(service.article(article_id))

    @router.post("/v1/articles", tags=["articles"], status_code=201)
    def add_articles(body: ArticleIn | ArticlesIn, _: str = Depends(access.admin)):
        """Ingest one article, or ``{"articles": [...]}``; searchable when this returns."""
        items = body.articles if isinstance(body, ArticlesIn) else [body]
        held = slot(writing, "ingest")
        try:
            report = service.add_records([item.model_dump() for item in items], origin="api")
        finally:
            held.release()
        count("ingest", 201)
        return report.as_dict()

    @router.delete("/v1/articles/{article_id}", tags=["articles"])
    def delete_article(article_id: str, _: str = Depends(access.admin)):
        removed = service.delete(article_id)
        count("delete")
        return {"deleted": article_id, "chunks": removed}

    @router.post("/v1/chat/completions", tags=["openai"])
    def chat_completions(body: ChatCompletionIn, _: str = Depends(access.reader)):
        """OpenAI-compatible chat (model ``rag``); citations as footnotes and as a field."""
        question, history = _question_and_history(body.messages)
        slot = answer_slot()
        if body.stream:
            return _completion_stream(service, question, history, slot)
        try:
            answer = service.ask(question, history=history)
        finally:
            slot.release()
        count("chat_completions")
        return _completion(answer)

    return router


def _ask_options(history, k, filters, language) -> dict:
    return {
        "history": [turn.model_dump() for turn in history],
        "k": k,
        "filters": filters.to_filters() if filters else None,
        "language": language,
    }


def hit_dict(hit: Hit) -> dict:
    data = asdict(hit)
    data["chunk"].pop("sentences", None)
    return data


def _sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def _event_stream(service, question, options, slot, metrics) -> StreamingResponse:
    """Events: ``token`` {text} as written, then ``answer`` (the whole answer), or ``error``."""

    def events() -> Iterator[str]:
        try:
            for piece in service.ask_streaming(question, **options):
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
            slot.release()
        yield _sse("done", {})

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache"})  # fmt: skip


def _question_and_history(messages: list[ChatMessage]) -> tuple[str, list[dict]]:
    turns = [m for m in messages if m.role in ("user", "assistant")]
    if not turns or turns[-1].role != "user" or not turns[-1].text().strip():
        raise ApiError(422, "invalid_request", "the last message must be a non-empty user message")
    question = turns[-1].text()
    if len(question) > MAX_QUESTION_CHARS:
        raise ApiError(422, "invalid_request",
                       f"the question is over {MAX_QUESTION_CHARS} characters")  # fmt: skip
    history = [{"role": m.role, "content": m.text()} for m in turns[:-1]]
    return question, history


def footnotes(answer: Answer) -> str:
    """The citations as numbered footnotes under an answer, for plain-text clients."""
    lines = []
    for c in answer.citations:
        where = ", ".join(part for part in (c.source, c.date) if part)
        head = f"[{c.marker}] {c.title}" + (f" ({where})" if where else "")
        lines.append(head + (f" {c.url}" if c.url else "") + f"\n    “{c.quote}”")
    return "\n".join(lines)


def _completion_text(answer: Answer) -> str:
    notes = "".join(f"\n\n({note})" for note in answer.notes)
    return answer.text + notes + ("\n\n" + footnotes(answer) if answer.citations else "")


def _completion(answer: Answer) -> dict:
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": "rag",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": _completion_text(answer)},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
        "citations": [asdict(c) for c in answer.citations],
        "abstained": answer.abstained,
        "mode": answer.mode,
    }


def _completion_stream(service, question, history, slot) -> StreamingResponse:
    """OpenAI's streaming format: content deltas, the footnotes, then ``[DONE]``."""
    identity = {"id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion.chunk",
                "created": int(time.time()), "model": "rag"}  # fmt: skip

    def chunk(delta: dict, finish: str | None = None, **extra) -> str:
        body = {**identity, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
        return f"data: {json.dumps({**body, **extra}, ensure_ascii=False)}\n\n"

    def events() -> Iterator[str]:
        yield chunk({"role": "assistant", "content": ""})
        streamed = False
        try:
            for piece in service.ask_streaming(question, history=history):
                if isinstance(piece, Answer):
                    text = _completion_text(piece)
                    rest = text[len(piece.text) :] if streamed else text
                    yield chunk({"content": rest})
                    yield chunk({}, "stop", citations=[asdict(c) for c in piece.citations])
                else:
                    streamed = True
                    yield chunk({"content": piece})
        except Exception as err:
            log.error("chat completion stream failed: %r", err)
            yield chunk({"content": "\n\n(the answer failed; please retry)"}, "stop")
        finally:
            slot.release()
        yield "data: [DONE]\n\n"

    return StreamingResponse(events(), media_type="text/event-stream")
