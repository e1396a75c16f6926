"""The routes of the API (``/v1``), health and metrics, as module-level functions: the
``Service`` and the metrics come from the app (``install``), the caller from the bearer key
(FastAPI dependencies). Every route calls the service's door; refusals become errors in
``rag.api.errors``."""

from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request, Security
from fastapi.responses import PlainTextResponse
from fastapi.security import HTTPBearer
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)

from rag.access import AccessError, Caller, bearer_key
from rag.api.bodies import (
    ArticleIn,
    ArticlesIn,
    AskIn,
    ChatCompletionIn,
    ChatMessage,
    FeedIn,
    SearchIn,
)
from rag.api.contract import ADMIN, ANSWER, READ, WRITE, documented
from rag.api.errors import ACCESS_STATUS, ApiError, day_or_error
from rag.api.streams import completion, completion_stream, event_stream
from rag.service import Service
from rag.text.question import MAX_QUESTION_CHARS, validate_question
from rag.types import Answer, Hit

log = logging.getLogger(__name__)

router = APIRouter()


# declares the bearer key in the OpenAPI document; the key itself is read by Access
BEARER = HTTPBearer(auto_error=False, description="A reader key, or an admin key to write.")


def caller_of(service: Service, request: Request) -> Caller:
    """Who sends ``request``: its bearer key (``AccessError`` 401 if keys are required)."""
    address = request.client.host if request.client else None
    return service.identify("api", key=bearer_key(request.headers), address=address)


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

    def count(self, endpoint: str, status: int = 200) -> None:
        self.requests.labels(endpoint, str(status)).inc()

    @contextmanager
    def refusals_counted(self, endpoint: str):
        """Count a request the door refuses, with the status it is answered with."""
        try:
            yield
        except AccessError as err:
            self.count(endpoint, ACCESS_STATUS[err.kind])
            raise

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


def _ask_options(history, k, filters, language, as_of=None) -> dict:
    return {
        "history": [turn.model_dump() for turn in history],
        "k": k,
        "filters": filters.to_filters() if filters else None,
        "language": language,
        "as_of": day_or_error(as_of),
    }


def hit_dict(hit: Hit, rank: int) -> dict:
    """A hit of ``/v1/search``: ``rank`` is its place in the search's order, which weighs
    the fused ``score`` and the best sentence's together."""
    data = {"rank": rank, **asdict(hit)}
    data["chunk"].pop("sentences", None)
    return data


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


def install(app: FastAPI, service: Service) -> None:
    """Serve the routes of this module on ``app`` for ``service``."""
    app.state.service = service
    app.state.metrics = Metrics()
    app.include_router(router)


def _service(request: Request) -> Service:
    return request.app.state.service


def _metrics(request: Request) -> Metrics:
    return request.app.state.metrics


def _identified(request: Request, _: object = Security(BEARER)) -> Caller:
    return caller_of(_service(request), request)


def _writer(request: Request, caller: Caller = Depends(_identified)) -> Caller:
    _service(request).require_writer(caller)  # before the body is read; the service counts it
    return caller


TheService = Annotated[Service, Depends(_service)]
TheMetrics = Annotated[Metrics, Depends(_metrics)]
Identified = Annotated[Caller, Depends(_identified)]
Writer = Annotated[Caller, Depends(_writer)]


# ----- health ----------------------------------------------------------------------------


@router.get("/healthz", tags=["health"])
def healthz():
    return {"status": "ok"}


@router.get("/readyz", tags=["health"], responses=documented(503))
def readyz(service: TheService):
    """Ready once the model is loaded and the index open (the server warms up first)."""
    stats = service.stats()
    pending = stats["articles_without_sentence_vectors"]  # searchable; their sentences to come
    return {"status": "ready", "articles": stats["articles"], "chunks": stats["chunks"],
            "vectors": stats["vectors"], "writable": service.writable,
            "articles_without_sentence_vectors": pending}  # fmt: skip


@router.get("/metrics", tags=["health"], response_class=PlainTextResponse,
            responses=documented(503))  # fmt: skip
def metrics_endpoint(service: TheService, metrics: TheMetrics):
    return PlainTextResponse(metrics.render(service), media_type=CONTENT_TYPE_LATEST)


# ----- answers and search ------------------------------------------------------------------


@router.post("/v1/ask", tags=["answers"], responses=documented(
    *ANSWER, stream="The answer (JSON), or with `stream` server-sent events: `token`, "
    "then `answer` (the answer as finished) or `error`, then `done`."))  # fmt: skip
def ask(body: AskIn, service: TheService, metrics: TheMetrics, caller: Identified):
    """Answer a question with citations; ``stream`` sends server-sent events."""
    validate_question(body.question)  # refused with 422 before a stream begins
    options = _ask_options(body.history, body.k, body.filters, body.language, body.as_of)
    started = time.perf_counter()
    with metrics.refusals_counted("ask"):
        if body.stream:
            return event_stream(service.ask_streaming(caller, body.question, **options), metrics)
        answer = service.ask(caller, body.question, **options)
    metrics.observe_answer(answer)
    metrics.request_seconds.labels("ask").observe(time.perf_counter() - started)
    metrics.count("ask")
    return asdict(answer)


@router.post("/v1/search", tags=["search"], responses=documented(*ANSWER))
def search(body: SearchIn, service: TheService, metrics: TheMetrics, caller: Identified):
    query = validate_question(body.query)
    filters = body.filters.to_filters() if body.filters else None
    as_of = day_or_error(body.as_of)
    with metrics.refusals_counted("search"):
        result = service.search(caller, query, k=body.k, filters=filters, as_of=as_of)
    metrics.count("search")
    frame = asdict(result.time_frame) if result.time_frame else None
    hits = [hit_dict(hit, rank) for rank, hit in enumerate(result.hits, start=1)]
    return {"hits": hits, "timings": result.timings,
            "time_frame": frame}  # fmt: skip


@router.post("/v1/chat/completions", tags=["openai"], responses=documented(
    *ANSWER, stream="An OpenAI chat completion, or with `stream` its chunks as "
    "server-sent events, ending with `[DONE]`."))  # fmt: skip
def chat_completions(
    body: ChatCompletionIn, service: TheService, metrics: TheMetrics, caller: Identified
):
    """OpenAI-compatible chat (model ``rag``); citations as footnotes and as a field."""
    question, history = _question_and_history(body.messages)
    with metrics.refusals_counted("chat_completions"):
        if body.stream:
            return completion_stream(service.ask_streaming(caller, question, history=history))
        answer = service.ask(caller, question, history=history)
    metrics.count("chat_completions")
    return completion(answer)


@router.get("/v1/models", tags=["openai"], responses=documented(*READ))
def models(service: TheService, caller: Identified):
    """OpenAI-compatible: the one model, ``rag``."""
    service.admit(caller)
    return {"object": "list", "data": [
        {"id": "rag", "object": "model", "created": 0, "owned_by": "rag-news"},
    ]}  # fmt: skip


# ----- articles ----------------------------------------------------------------------------


@router.get("/v1/articles/{article_id}", tags=["articles"], responses=documented(*READ, 404))
def get_article(article_id: str, service: TheService, metrics: TheMetrics, caller: Identified):
    article = service.article(caller, article_id)
    metrics.count("article")
    return asdict(article)


@router.post("/v1/articles", tags=["articles"], status_code=201,
             responses=documented(*WRITE))  # fmt: skip
def add_articles(
    body: ArticleIn | ArticlesIn, service: TheService, metrics: TheMetrics, caller: Writer
):
    """Ingest one article, or ``{"articles": [...]}``; searchable when this returns.

    A batch reports each article it could not store; 422 ``article_unusable`` when it
    could store none (an article is at most 50,000 characters). 503 ``index_busy`` (with
    ``Retry-After``) when another process is writing."""
    items = body.articles if isinstance(body, ArticlesIn) else [body]
    with metrics.refusals_counted("ingest"):
        report = service.add_records(caller, [item.model_dump() for item in items], "api")
    if report.failed == len(items):  # nothing stored: not "created"
        metrics.count("ingest", 422)
        reasons = "; ".join(f.reason for f in report.failures[:3])
        raise ApiError(422, "article_unusable", f"no article could be stored: {reasons}")
    metrics.count("ingest", 201)
    return report.as_dict()


@router.delete("/v1/articles/{article_id}", tags=["articles"],
               responses=documented(*ADMIN, 404))  # fmt: skip
def delete_article(article_id: str, service: TheService, metrics: TheMetrics, caller: Writer):
    removed = service.delete(caller, article_id)
    metrics.count("delete")
    return {"deleted": article_id, "chunks": removed}


# ----- feeds -------------------------------------------------------------------------------


@router.get("/v1/feeds", tags=["feeds"], responses=documented(*ADMIN))
def list_feeds(service: TheService, metrics: TheMetrics, caller: Writer):
    """The feeds followed, with how their last fetch went (admin)."""
    followed = service.feed_statuses(caller)
    metrics.count("feeds")
    return {"feeds": [feed.as_dict() for feed in followed]}


@router.post("/v1/feeds", tags=["feeds"], status_code=201, responses=documented(*WRITE))
def follow_feed(body: FeedIn, service: TheService, metrics: TheMetrics, caller: Writer):
    """Follow a feed (RSS, Atom, JSON Feed, news sitemap); it is fetched once to check
    it. Its articles are indexed by the server's watcher or ``POST /v1/feeds/poll``."""
    followed = service.follow_feed(caller, body.url, body.interval)
    metrics.count("feeds", 201)
    return followed.as_dict()


@router.delete("/v1/feeds", tags=["feeds"], responses=documented(*ADMIN, 404, 422))
def unfollow_feed(url: str, service: TheService, metrics: TheMetrics, caller: Writer):
    """Stop following the feed at ``url`` (its articles stay indexed)."""
    service.unfollow_feed(caller, url)
    metrics.count("feeds")
    return {"removed": url}


@router.post("/v1/feeds/poll", tags=["feeds"], responses=documented(*ADMIN))
def poll_feeds(service: TheService, metrics: TheMetrics, caller: Writer):
    """Fetch every feed now and index what is new; the feeds' statuses after."""
    polled = service.poll_feeds(caller, every=True)
    metrics.count("feeds")
    return {"feeds": [feed.as_dict() for feed in polled]}


# last: what no route above takes
@router.api_route("/v1/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
                  include_in_schema=False)  # fmt: skip
def unknown(rest: str):
    """Anything else under /v1 (a documented path's other methods: 405, rag.api.contract)."""
    raise ApiError(404, "not_found", f"no endpoint /v1/{rest}; see /docs")
