"""One server process: the HTTP API, the Slack app and the web chat on one FastAPI app.

``rag serve`` runs it with uvicorn on 127.0.0.1:7860 unless settings say otherwise.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402
import uvicorn  # noqa: E402
from fastapi import FastAPI, Request  # noqa: E402
from fastapi.middleware.cors import CORSMiddleware  # noqa: E402

from rag import __version__  # noqa: E402
from rag.api import api_router, install_error_handlers, install_limits  # noqa: E402
from rag.service import Service  # noqa: E402
from rag.settings import Settings  # noqa: E402
from rag.web import CSS, THEME, build_web  # noqa: E402

log = logging.getLogger(__name__)

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    # Gradio's page needs inline scripts and styles; everything else comes from this server
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; "
        "style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; font-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
    ),
}


def create_app(service: Service) -> FastAPI:
    """The API under /v1, health and metrics, Slack (if configured) and the chat at /."""
    settings = service.settings
    app = FastAPI(
        title="rag-news",
        version=__version__,
        description="Answers about news articles with citations to the exact source sentences.",
    )
    install_limits(app, settings)
    install_error_handlers(app)
    _install_security_headers(app)
    origins = settings.key_list("cors_origins")
    if origins:
        app.add_middleware(
            CORSMiddleware, allow_origins=list(origins), allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
        )  # fmt: skip
    app.include_router(api_router(service))
    if settings.slack_bot_token and settings.slack_signing_secret:
        from rag.slack import slack_router

        app.include_router(slack_router(service))
    return gr.mount_gradio_app(
        app,
        build_web(service),
        path="",
        theme=THEME,
        css=CSS,
        footer_links=[],
        ssr_mode=False,
        max_file_size=settings.max_body_bytes,
        show_error=False,
    )


def _install_security_headers(app: FastAPI) -> None:
    @app.middleware("http")
    async def security_headers(request: Request, call_next):
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response


def serve(settings: Settings, *, seeds: Path | None = None) -> None:
    """Open (or build from ``seeds``) the index and serve until interrupted."""
    service = Service.start(settings, seeds=seeds)
    log.warning("serving on http://%s:%d", settings.host, settings.port)
    uvicorn.run(create_app(service), host=settings.host, port=settings.port, log_level="warning")
