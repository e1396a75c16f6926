"""Every error as JSON, ``{"error": {"code": "...", "message": "..."}}`` with a stable code:
the domain's errors, refusals of the door (``rag.access``), bad requests and bodies over the
limit. No traceback and no server path reaches a client."""

from __future__ import annotations

import logging
import re
import sqlite3
from datetime import date

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from rag.access import AccessError
from rag.errors import (
    ArticleNotFoundError,
    IndexBusyError,
    IndexDamagedError,
    IndexWriteError,
    RagError,
)
from rag.news.feeds import FeedError
from rag.settings import Settings
from rag.store import database
from rag.text.dates import parse_day
from rag.text.question import MAX_QUESTION_CHARS

log = logging.getLogger(__name__)


class ApiError(Exception):
    """An error with an HTTP status, a stable code and a message for people."""

    def __init__(self, status: int, code: str, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers


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


# the HTTP answer to each kind of refusal (rag.access, rag.news.feeds: the core speaks no HTTP)
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


def day_or_error(value: str | None) -> date | None:
    """An ``as_of`` field: ``None``, or a day (422 ``invalid_as_of`` otherwise)."""
    try:
        return parse_day(value)
    except ValueError as err:
        raise ApiError(422, "invalid_as_of", str(err)) from None
