"""Who sent a request to the page: the caller the service's door knows (``Service.identify``)
and the page session Gradio names."""

from __future__ import annotations

import gradio as gr

from rag.access import SESSION_COOKIE, Caller, bearer_key
from rag.service import Service


def caller_of(service: Service, request: gr.Request | None) -> Caller:
    """The same door as /v1: the key page's session cookie or a bearer header, and the
    client's address (``AccessError`` when keys are required and none is valid)."""
    headers = dict(getattr(request, "headers", None) or {})
    cookies = dict(getattr(request, "cookies", None) or {})
    client = getattr(request, "client", None)
    return service.identify(
        "web",
        key=bearer_key(headers),
        session=cookies.get(SESSION_COOKIE),
        address=getattr(client, "host", None),
    )


def session_of(request: gr.Request | None) -> str | None:
    return getattr(request, "session_hash", None)
