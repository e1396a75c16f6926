"""One server process: the HTTP API, the Slack app and the web chat on one FastAPI app.

``rag serve`` runs it with uvicorn on 127.0.0.1:7860 unless settings say otherwise.
"""

from __future__ import annotations

import logging
import os
from html import escape
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import fastapi_offline  # noqa: E402
import gradio as gr  # noqa: E402
import uvicorn  # noqa: E402
from fastapi import FastAPI, Request  # noqa: E402
from fastapi.middleware.cors import CORSMiddleware  # noqa: E402
from fastapi.openapi.docs import get_swagger_ui_html  # noqa: E402
from fastapi.responses import HTMLResponse, RedirectResponse  # noqa: E402
from fastapi.staticfiles import StaticFiles  # noqa: E402

from rag import __version__  # noqa: E402
from rag.access import SESSION_COOKIE, AccessError, bearer_key, is_loopback  # noqa: E402
from rag.api import (  # noqa: E402
    ACCESS_STATUS,
    install,
    install_error_handlers,
    install_limits,
    install_method_check,
    refusal_response,
)
from rag.service import Service  # noqa: E402
from rag.settings import Settings  # noqa: E402
from rag.text.counting import counted  # noqa: E402
from rag.web import CSS, PAGE_SCRIPT, THEME, build_web  # noqa: E402

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
        docs_url=None,
        redoc_url=None,
    )
    install_limits(app, settings)
    install_error_handlers(app, settings.index_dir)
    _install_web_door(app, service)
    _install_security_headers(app)
    _install_docs(app)
    origins = settings.key_list("cors_origins")
    if origins:
        app.add_middleware(
            CORSMiddleware, allow_origins=list(origins), allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
        )  # fmt: skip
    install(app, service)
    install_method_check(app)
    if settings.slack_bot_token and settings.slack_signing_secret:
        from rag.slack import slack_router

        app.include_router(slack_router(service))
    web = build_web(service)
    # Gradio accepts a file named by a client only from its upload folder, but checks that
    # only for an app it launched itself: a mounted one must say it has been launched too
    web.has_launched = True
    return gr.mount_gradio_app(
        app,
        web,
        path="",
        theme=THEME,
        css=CSS,
        js=PAGE_SCRIPT,
        footer_links=[],
        ssr_mode=False,
        max_file_size=settings.max_body_bytes,
        show_error=False,
    )


# paths with a door of their own (keys, Slack's signature) or nothing to hide
_OWN_DOOR = ("/v1/", "/slack/", "/healthz", "/readyz", "/metrics", "/docs", "/openapi.json",
             "/login", "/logout")  # fmt: skip


def _install_web_door(app: FastAPI, service: Service) -> None:
    """With keys configured, the web chat and Gradio's own API need one too: a session
    cookie from the key page (/login), or an ``Authorization: Bearer`` header."""

    @app.middleware("http")
    async def web_door(request: Request, call_next):
        if not service.keys_required or request.url.path.startswith(_OWN_DOOR):
            return await call_next(request)
        try:
            service.identify(
                "web",
                key=bearer_key(request.headers),
                session=request.cookies.get(SESSION_COOKIE),
                address=request.client.host if request.client else None,
            )
        except AccessError as err:
            if request.method == "GET" and "text/html" in request.headers.get("accept", ""):
                return RedirectResponse("/login", status_code=303)
            return refusal_response(err)
        return await call_next(request)

    @app.get("/login", include_in_schema=False)
    def login_page():
        return HTMLResponse(_login_html(""))

    @app.post("/login", include_in_schema=False)
    async def login(request: Request):
        key = str((await request.form()).get("key", "")).strip()
        address = request.client.host if request.client else None
        try:
            token = service.session_for(key, address)
        except AccessError as err:
            return HTMLResponse(_login_html(err.message), status_code=ACCESS_STATUS[err.kind])
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(SESSION_COOKIE, token, max_age=30 * 86400, httponly=True,
                            samesite="strict", secure=request.url.scheme == "https")  # fmt: skip
        return response

    @app.get("/logout", include_in_schema=False)
    def logout():
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE)
        return response


def _login_html(problem: str) -> str:
    notice = f'<p class="problem" role="alert">{escape(problem)}</p>' if problem else ""
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>rag-news: key</title>
<style>body{{font-family:system-ui,"Noto Sans","Noto Naskh Arabic",sans-serif;max-width:26em;
margin:4em auto;padding:0 1em}} input,button{{font-size:1em;padding:.5em;width:100%;
box-sizing:border-box;margin:.3em 0}} .problem{{color:#b00020}}</style></head><body>
<h1>News Q&amp;A</h1><p>This server needs a key. <span dir="rtl" lang="ar">هذا الخادم يحتاج إلى
مفتاح.</span></p>{notice}<form method="post" action="/login">
<label for="key">Key / المفتاح</label><input id="key" name="key" type="password"
autocomplete="current-password" required autofocus><button type="submit">Open the chat</button>
</form></body></html>"""


def _install_docs(app: FastAPI) -> None:
    """Swagger UI from files installed with the product (no CDN: the server may be offline,
    and the page's CSP allows only this server)."""
    assets = Path(fastapi_offline.__file__).parent / "static"
    app.mount("/docs-assets", StaticFiles(directory=assets), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def docs():
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="rag-news API",
            swagger_js_url="/docs-assets/swagger-ui-bundle.js",
            swagger_css_url="/docs-assets/swagger-ui.css",
            swagger_favicon_url="/docs-assets/favicon.png",
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
    if not is_loopback(settings.host) and not service.keys_required:
        log.warning(
            "listening on %s without keys: anyone who reaches it can read the index (writing "
            "stays off); set api_keys and admin_keys (RAG_API_KEYS, RAG_ADMIN_KEYS)",
            settings.host,
        )
    if settings.feeds_watch and (followed := service.watch_feeds()):
        _say(f"following {counted(followed, '{n} feed|{n} feeds')}")
    if service.fill_sentences_in_background():
        lacking = counted(service.lacking_sentences(), "{n} article|{n} articles")
        _say(f"making the sentence vectors of {lacking} in the background (searchable already)")
    app = create_app(service)
    url = f"http://{settings.host}:{settings.port}"
    app.router.on_startup.append(lambda: _say(f"the chat is ready at {url} (Ctrl-C stops)"))
    try:
        uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning")
    finally:
        service.close()


def _say(line: str) -> None:
    """Normal progress, for the person who started the server: a line on standard output,
    not a log record at WARNING (standard error is for what went wrong)."""
    print(line, flush=True)
