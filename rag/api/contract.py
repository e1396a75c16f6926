"""What the OpenAPI document says of each route: every status it can answer, in the error
shape, with the content types it really sends; and 405 for a method a documented path does
not take. Bot builders generate clients from ``/openapi.json``: it must say what happens.
"""

from __future__ import annotations

import re

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.routing import compile_path


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorOut(BaseModel):
    """Every error: a stable code and one line for people."""

    error: ErrorDetail


_WHY = {
    400: "The body is not JSON, or not UTF-8 (`invalid_body`).",
    401: "Keys are configured and the request has none, or an unknown one (`missing_key`, "
    "`invalid_key`).",
    403: "Writing needs an admin key (`admin_required`, `writes_disabled`).",
    404: "No such article or feed (`article_not_found`, `feed_not_found`).",
    413: "The body is over `max_body_bytes` (`body_too_large`), or the question over 2,000 "
    "characters (`question_too_long`).",
    422: "A field is missing or out of its bounds (`invalid_request`, `invalid_as_of`, "
    "`invalid_filters`, `invalid_value`); for articles and feeds, none could be stored or "
    "followed (`article_unusable`, `feed_unusable`), with the reason.",
    429: "Over the rate limit of this key or address (`rate_limited`); retry after "
    "`Retry-After` seconds.",
    503: "Busy or unavailable, with `Retry-After`: as many answers in progress as the server "
    "takes (`overloaded`), another process writing (`index_busy`), a folder that cannot be "
    "written (`index_unwritable`), or a damaged database (`index_damaged`).",
}

# what each kind of route can answer besides success
READ = (401, 429, 503)
ANSWER = (400, 401, 413, 422, 429, 503)
WRITE = (400, 401, 403, 413, 422, 429, 503)
ADMIN = (401, 403, 429, 503)


# one server-sent event, as a client's parser hands it over
_EVENT = {
    "type": "object",
    "properties": {"event": {"type": "string"}, "data": {"type": "string"}},
    "required": ["data"],
}


def documented(*statuses: int, stream: str | None = None) -> dict:
    """``responses=`` for a route answering ``statuses`` in the error shape; ``stream``
    describes a 200 that is JSON or, when asked, server-sent events."""
    responses: dict = {status: {"model": ErrorOut, "description": _WHY[status]}
                       for status in sorted(set(statuses))}  # fmt: skip
    if stream:
        responses[200] = {
            "description": stream,
            "content": {
                "application/json": {},
                "text/event-stream": {"schema": _EVENT},
            },
        }
    return responses


def install_method_check(app: FastAPI) -> None:
    """A method a documented path does not take gets 405 in the error shape, naming those it
    does (the web chat mounted at ``/`` would otherwise answer 404). The paths and methods
    are read from the app's own OpenAPI document: what it lists is what is allowed."""
    documented_paths: list[tuple[re.Pattern, set[str]]] = []

    @app.middleware("http")
    async def allowed_methods(request: Request, call_next):
        if not documented_paths:
            documented_paths.extend(_paths(app.openapi()))
        allowed = {m for pattern, methods in documented_paths
                   if pattern.match(request.url.path) for m in methods}  # fmt: skip
        if allowed and request.method not in allowed:
            listed = ", ".join(sorted(allowed))
            return JSONResponse(
                {"error": {"code": "method_not_allowed",
                           "message": f"{request.method} is not allowed here; use {listed}"}},
                status_code=405, headers={"Allow": listed},
            )  # fmt: skip
        return await call_next(request)


def _paths(spec: dict) -> list[tuple[re.Pattern, set[str]]]:
    return [(compile_path(path)[0], {method.upper() for method in operations})
            for path, operations in spec.get("paths", {}).items()]  # fmt: skip
