"""The versioned JSON API (``/v1``), health, metrics, and an OpenAI-compatible chat endpoint.

Every error is JSON: ``{"error": {"code": "...", "message": "..."}}`` with a stable code;
no traceback and no server path reaches a client. Who may call what, and how often, is
decided by the service's ``Access`` (``rag.access``), the same door the web chat and Slack
go through. Keys come from settings and are never logged.
"""

from __future__ import annotations

import json
import logging
import re
import sqlite3
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import date
from typing import Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Request, Security
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, StreamingResponse
from fastapi.security import HTTPBearer
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from rag import database
from rag.access import AccessError, Caller, bearer_key
from rag.api_contract import ADMIN, ANSWER, READ, WRITE, documented
from rag.dates import parse_day
from rag.errors import (
    ArticleNotFoundError,
    IndexBusyError,
    IndexDamagedError,
    IndexWriteError,
    RagError,
)
from rag.feeds import FeedError
from rag.question import MAX_QUESTION_CHARS, validate_question
from rag.retrieval import Filters
from rag.service import Service
from rag.settings import Settings
from rag.types import Answer, Hit

log = logging.getLogger(__name__)

# declares the bearer key in the OpenAPI document; the key itself is read by Access
BEARER = HTTPBearer(auto_error=False, description="A reader key, or an admin key to write.")


class ApiError(Exception):
    """An error with an HTTP status, a stable code and a message for people."""

    def __init__(self, status: int, code: str, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers


# ----- request bodies ------------------------------------------------------------------

DAY = r"^\d{4}-\d{2}-\d{2}$"
AS_OF = "the day 'yesterday' counts from (an ISO date from 1000-01-01 to 9998-12-31)"


class FiltersIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sources: list[str] = Field(default_factory=list, max_length=100)
    date_from: str | None = Field(None, description="ISO date, inclusive", pattern=DAY)
    date_to: str | None = Field(None, description="ISO date, inclusive", pattern=DAY)

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
    as_of: str | None = Field(None, description=AS_OF, pattern=DAY)
    stream: bool = False


class SearchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    query: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS)
    k: int | None = Field(None, ge=1, le=50)
    filters: FiltersIn | None = None
    as_of: str | None = Field(None, description=AS_OF, pattern=DAY)


class ArticleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str = Field("", max_length=2_000)
    content: str = Field(min_length=1)
    url: str = Field("", max_length=4_000)
    source: str = Field("", max_length=200)
    date: str = Field("", max_length=40)
    author: str = Field("", max_length=500)


class FeedIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(min_length=1, max_length=4_000)
    interval: int | None = Field(None, ge=10, le=7 * 24 * 3600)


class ArticlesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    articles: list[ArticleIn] = Field(min_length=1, max_length=1_000)


class ContentPart(BaseModel):
    """An OpenAI content part; only ``text`` parts are read (images and the like ignored)."""

    model_config = ConfigDict(extra="allow")
    type: str = Field(max_length=50)
    text: str | None = Field(None, max_length=20_000)


class ChatMessage(BaseModel):
    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: str | list[ContentPart] | None = Field(None, max_length=100)

    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(p.text or "" for p in self.content if p.type == "text")
        return self.content or ""


class ChatCompletionIn(BaseModel):
    model: str = "rag"
    messages: list[ChatMessage] = Field(min_length=1, max_length=100)
    stream: bool = False
    model_config = ConfigDict(extra="allow")  # temperature etc. are accepted and ignored


# ----- limits: keys, rate and concurrency (rag.access), body size --------------------


def caller_of(service: Service, request: Request) -> Caller:
    """Who sends ``request``: its bearer key (``AccessError`` 401 if keys are required)."""
    address = request.client.host if request.client else None
    return service.identify("api", key=bearer_key(request.headers), address=address)


def install_limits(app: FastAPI, settings: Settings) -> None:
    """Refuse bodies over ``max_body_bytes`` with 413: by their declared length before they
    are read, and a body sent without one (chunked) as soon as it passes the limit."""
    limit = settings.max_body_bytes

    class BodyLimit:
        def __init__(self, inner):
            self.inner = inner

        async def __call__(self, scope, receive, send):
            if scope["type"] != "http":
                return await self.inner(scope, receive, send)
            declared = dict(scope["headers"]).get(b"content-length")
            if declared is not None and declared.isdigit():
                if int(declared) > limit:
                    return await _too_large(limit)(scope, receive, send)
                return await self.inner(scope, receive, send)
            if scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE"):
                return await self.inner(scope, receive, send)
            messages, received = [], 0
            while True:  # no declared length: read it here, up to the limit
                message = await receive()
                messages.append(message)
                received += len(message.get("body", b""))
                if received > limit:
                    return await _too_large(limit)(scope, receive, send)
                if message["type"] != "http.request" or not message.get("more_body"):
                    break
            replay = iter(messages)

            async def replayed():
                return next(replay, None) or await receive()

            return await self.inner(scope, replayed, send)

    app.add_middleware(BodyLimit)


def _too_large(limit: int) -> JSONResponse:
    return _error_response(413, "body_too_large", f"the body is over {limit} bytes")


# the HTTP answer to each kind of refusal (rag.access, rag.feeds: the core speaks no HTTP)
ACCESS_STATUS = {"unidentified": 401, "forbidden": 403, "too_many": 429, "busy": 503}
FEED_STATUS = {"unusable": 422, "exists": 409, "not_found": 404}


def refusal_response(err: AccessError) -> JSONResponse:
    """A refused caller's answer: its status, the error shape, and the headers that say how
    to get in (``WWW-Authenticate``) or when to come back (``Retry-After``)."""
    if err.kind == "unidentified":
        headers = {"WWW-Authenticate": "Bearer"}
    else:
        headers = {"Retry-After": str(err.retry_after)} if err.retry_after else None
    return _error_response(ACCESS_STATUS[err.kind], err.code, err.message, headers)


def _error_response(status: int, code: str, message: str, headers=None) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": code, "message": message}}, status_code=status, headers=headers
    )


# domain errors that always answer the same way: status, code, Retry-After (seconds)
_DOMAIN_ERRORS = {
    IndexBusyError: (503, "index_busy", "5"),
    IndexWriteError: (503, "index_unwritable", "60"),
    ArticleNotFoundError: (404, "article_not_found", None),
    RagError: (400, "request_failed", None),
    ValueError: (422, "invalid_value", None),
}


def install_error_handlers(app: FastAPI, index_dir) -> None:
    """Every error as ``{"error": {code, message}}``; messages never show the index's path.
    (Starlette picks the handler of the most specific class an error is an instance of.)"""
    hide = _path_hider(index_dir)
    for kind, (status, code, retry_after) in _DOMAIN_ERRORS.items():
        app.add_exception_handler(kind, _answer_with(hide, status, code, retry_after))

    @app.exception_handler(ApiError)
    async def api_error(request, err: ApiError):
        return _error_response(err.status, err.code, err.message, err.headers)

    @app.exception_handler(AccessError)
    async def refused(request, err: AccessError):
        return refusal_response(err)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request, err: RequestValidationError):
        problems = err.errors()
        if any(_is_too_long_question(p) for p in problems):
            message = f"the question is over {MAX_QUESTION_CHARS} characters"
            return _error_response(413, "question_too_long", message)
        described = "; ".join(_describe_problem(p) for p in problems[:5])
        return _error_response(422, "invalid_request", described or "the request is not valid")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request, err: StarletteHTTPException):
        code = {400: "invalid_body", 404: "not_found", 405: "method_not_allowed"}.get(
            err.status_code, "http_error"
        )
        return _error_response(err.status_code, code, str(err.detail), err.headers)

    @app.exception_handler(FeedError)
    async def feed_error(request, err: FeedError):
        return _error_response(FEED_STATUS[err.kind], err.code, hide(str(err)))

    @app.exception_handler(IndexDamagedError)
    async def damaged(request, err):
        log.error("%s", err)
        return _error_response(503, "index_damaged", hide(str(err)))

    @app.exception_handler(sqlite3.DatabaseError)
    async def database_error(request, err: sqlite3.DatabaseError):
        if database.is_damage(err):
            return await damaged(request, database.damaged(index_dir / database.DATABASE, err))
        return await unexpected(request, err)

    @app.exception_handler(Exception)
    async def unexpected(request, err):
        log.error("unexpected error on %s %s: %r", request.method, request.url.path, err)
        return _error_response(500, "internal_error", "the server failed; it has been logged")


def _answer_with(hide, status: int, code: str, retry_after: str | None):
    async def handler(request, err):
        headers = {"Retry-After": retry_after} if retry_after else None
        return _error_response(status, code, hide(str(err)), headers)

    return handler


def _path_hider(index_dir):
    """Replaces the index folder's path (as given, and absolute) by "the index"."""
    spellings = sorted({str(index_dir), str(index_dir.resolve())}, key=len, reverse=True)
    pattern = re.compile("|".join(re.escape(p) for p in spellings if p not in ("", ".")))
    return lambda message: pattern.sub("the index", message)


def _is_too_long_question(problem: dict) -> bool:
    return problem.get("type") == "string_too_long" and tuple(problem.get("loc", ()))[-1:] in (
        ("question",), ("query",),
    )  # fmt: skip


def _describe_problem(problem: dict) -> str:
    where = ".".join(str(part) for part in problem.get("loc", ()) if part != "body")
    if problem.get("type") == "string_pattern_mismatch" and where.endswith(DATE_FIELDS):
        return f"{where} must be a date like 2015-07-21, got {str(problem.get('input'))[:40]!r}"
    return f"{where or 'body'}: {problem.get('msg', 'invalid')}"


DATE_FIELDS = ("as_of", "date_from", "date_to")


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
    metrics = Metrics()
    router = APIRouter()

    def count(endpoint: str, status: int = 200) -> None:
        metrics.requests.labels(endpoint, str(status)).inc()

    def identified(request: Request, _: object = Security(BEARER)) -> Caller:
        return caller_of(service, request)

    def writer(caller: Caller = Depends(identified)) -> Caller:
        service.require_writer(caller)  # before the body is read; the service counts it
        return caller

    @contextmanager
    def refusals_counted(endpoint: str):
        try:
            yield
        except AccessError as err:
            count(endpoint, ACCESS_STATUS[err.kind])
            raise

    @router.get("/healthz", tags=["health"])
    def healthz():
        return {"status": "ok"}

    @router.get("/readyz", tags=["health"], responses=documented(503))
    def readyz():
        """Ready once the model is loaded and the index open (the server warms up first)."""
        stats = service.stats()
        return {"status": "ready", "articles": stats["articles"], "chunks": stats["chunks"],
                "vectors": stats["vectors"], "writable": service.writable}  # fmt: skip

    @router.get("/metrics", tags=["health"], response_class=PlainTextResponse,
                responses=documented(503))  # fmt: skip
    def metrics_endpoint():
        return PlainTextResponse(metrics.render(service), media_type=CONTENT_TYPE_LATEST)

    @router.post("/v1/ask", tags=["answers"], responses=documented(
        *ANSWER, stream="The answer (JSON), or with `stream` server-sent events: `token`, "
        "then `answer` (the answer as finished) or `error`, then `done`."))  # fmt: skip
    def ask(body: AskIn, caller: Caller = Depends(identified)):
        """Answer a question with citations; ``stream`` sends server-sent events."""
        validate_question(body.question)  # refused with 422 before a stream begins
        options = _ask_options(body.history, body.k, body.filters, body.language, body.as_of)
        started = time.perf_counter()
        with refusals_counted("ask"):
            if body.stream:
                return _event_stream(service.ask_streaming(caller, body.question, **options),
                                     metrics)  # fmt: skip
            answer = service.ask(caller, body.question, **options)
        metrics.observe_answer(answer)
        metrics.request_seconds.labels("ask").observe(time.perf_counter() - started)
        count("ask")
        return asdict(answer)

    @router.post("/v1/search", tags=["search"], responses=documented(*ANSWER))
    def search(body: SearchIn, caller: Caller = Depends(identified)):
        query = validate_question(body.query)
        filters = body.filters.to_filters() if body.filters else None
        as_of = day_or_error(body.as_of)
        with refusals_counted("search"):
            result = service.search(caller, query, k=body.k, filters=filters, as_of=as_of)
        count("search")
        frame = asdict(result.time_frame) if result.time_frame else None
        return {"hits": [hit_dict(hit) for hit in result.hits], "timings": result.timings,
                "time_frame": frame}  # fmt: skip

    @router.get("/v1/articles/{article_id}", tags=["articles"], responses=documented(*READ, 404))
    def get_article(article_id: str, caller: Caller = Depends(identified)):
        article = service.article(caller, article_id)
        count("article")
        return asdict(article)

    @router.post("/v1/articles", tags=["articles"], status_code=201,
                 responses=documented(*WRITE))  # fmt: skip
    def add_articles(body: ArticleIn | ArticlesIn, caller: Caller = Depends(writer)):
        """Ingest one article, or ``{"articles": [...]}``; searchable when this returns.

        A batch reports each article it could not store; 422 ``article_unusable`` when it
        could store none (an article is at most 50,000 characters). 503 ``index_busy`` (with
        ``Retry-After``) when another process is writing."""
        items = body.articles if isinstance(body, ArticlesIn) else [body]
        with refusals_counted("ingest"):
            report = service.add_records(caller, [item.model_dump() for item in items], "api")
        if report.failed == len(items):  # nothing stored: not "created"
            count("ingest", 422)
            reasons = "; ".join(f.reason for f in report.failures[:3])
            raise ApiError(422, "article_unusable", f"no article could be stored: {reasons}")
        count("ingest", 201)
        return report.as_dict()

    @router.delete("/v1/articles/{article_id}", tags=["articles"],
                   responses=documented(*ADMIN, 404))  # fmt: skip
    def delete_article(article_id: str, caller: Caller = Depends(writer)):
        removed = service.delete(caller, article_id)
        count("delete")
        return {"deleted": article_id, "chunks": removed}

    @router.get("/v1/feeds", tags=["feeds"], responses=documented(*ADMIN))
    def list_feeds(caller: Caller = Depends(writer)):
        """The feeds followed, with how their last fetch went (admin)."""
        followed = service.feed_statuses(caller)
        count("feeds")
        return {"feeds": [feed.as_dict() for feed in followed]}

    @router.post("/v1/feeds", tags=["feeds"], status_code=201, responses=documented(*WRITE))
    def follow_feed(body: FeedIn, caller: Caller = Depends(writer)):
        """Follow a feed (RSS, Atom, JSON Feed, news sitemap); it is fetched once to check
        it. Its articles are indexed by the server's watcher or ``POST /v1/feeds/poll``."""
        followed = service.follow_feed(caller, body.url, body.interval)
        count("feeds", 201)
        return followed.as_dict()

    @router.delete("/v1/feeds", tags=["feeds"], responses=documented(*ADMIN, 404, 422))
    def unfollow_feed(url: str, caller: Caller = Depends(writer)):
        """Stop following the feed at ``url`` (its articles stay indexed)."""
        service.unfollow_feed(caller, url)
        count("feeds")
        return {"removed": url}

    @router.post("/v1/feeds/poll", tags=["feeds"], responses=documented(*ADMIN))
    def poll_feeds(caller: Caller = Depends(writer)):
        """Fetch every feed now and index what is new; the feeds' statuses after."""
        polled = service.poll_feeds(caller, every=True)
        count("feeds")
        return {"feeds": [feed.as_dict() for feed in polled]}

    @router.get("/v1/models", tags=["openai"], responses=documented(*READ))
    def models(caller: Caller = Depends(identified)):
        """OpenAI-compatible: the one model, ``rag``."""
        service.admit(caller)
        return {"object": "list", "data": [
            {"id": "rag", "object": "model", "created": 0, "owned_by": "rag-news"},
        ]}  # fmt: skip

    @router.post("/v1/chat/completions", tags=["openai"], responses=documented(
        *ANSWER, stream="An OpenAI chat completion, or with `stream` its chunks as "
        "server-sent events, ending with `[DONE]`."))  # fmt: skip
    def chat_completions(body: ChatCompletionIn, caller: Caller = Depends(identified)):
        """OpenAI-compatible chat (model ``rag``); citations as footnotes and as a field."""
        question, history = _question_and_history(body.messages)
        with refusals_counted("chat_completions"):
            if body.stream:
                return _completion_stream(service.ask_streaming(caller, question, history=history))
            answer = service.ask(caller, question, history=history)
        count("chat_completions")
        return _completion(answer)

    @router.api_route("/v1/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
                      include_in_schema=False)  # fmt: skip
    def unknown(rest: str):
        """Anything else under /v1 (a documented path's other methods: 405, api_contract)."""
        raise ApiError(404, "not_found", f"no endpoint /v1/{rest}; see /docs")

    return router


def _ask_options(history, k, filters, language, as_of=None) -> dict:
    return {
        "history": [turn.model_dump() for turn in history],
        "k": k,
        "filters": filters.to_filters() if filters else None,
        "language": language,
        "as_of": day_or_error(as_of),
    }


def day_or_error(value: str | None) -> date | None:
    """An ``as_of`` field: ``None``, or a day (422 ``invalid_as_of`` otherwise)."""
    try:
        return parse_day(value)
    except ValueError as err:
        raise ApiError(422, "invalid_as_of", str(err)) from None


def hit_dict(hit: Hit) -> dict:
    data = asdict(hit)
    data["chunk"].pop("sentences", None)
    return data


def _sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def _event_stream(pieces: Iterator[str | Answer], metrics) -> StreamingResponse:
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


def completion_text(answer: Answer) -> str:
    """What a plain-text client shows: the answer, its notes, then the footnotes."""
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
                "message": {"role": "assistant", "content": completion_text(answer)},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
        "citations": [asdict(c) for c in answer.citations],
        "abstained": answer.abstained,
        "mode": answer.mode,
    }


def _completion_stream(pieces: Iterator[str | Answer]) -> StreamingResponse:
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
