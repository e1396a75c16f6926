"""Gradio's own HTTP API (``/gradio_api/call/NAME``), called as a script would call it."""

from __future__ import annotations

import json
from typing import Any

import httpx


def gradio_call(url: str, name: str, data: list, key: str | None = None) -> tuple[str, Any]:
    """(event, payload) of calling the web chat's function ``name`` with ``data``: the last
    ``complete`` or ``error`` event, or ("refused", the HTTP response) when the call is
    refused before it starts."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    started = httpx.post(
        f"{url}/gradio_api/call/{name}", json={"data": data}, headers=headers, timeout=30
    )
    if started.status_code != 200:
        return "refused", started
    event_id = started.json()["event_id"]
    event = None
    with httpx.stream(
        "GET", f"{url}/gradio_api/call/{name}/{event_id}", headers=headers, timeout=120
    ) as response:
        for line in response.iter_lines():
            if line.startswith("event: "):
                event = line[len("event: ") :]
            elif line.startswith("data: ") and event in ("complete", "error"):
                return event, json.loads(line[len("data: ") :])
    raise AssertionError(f"no result from {name}")


def ask_in_web(url: str, question: str, key: str | None = None) -> tuple[str, Any]:
    """The chat's ``respond``: its final (question box, chat, answers, sources, notice)."""
    return gradio_call(url, "respond", [question, [], [], [], "", "", "en"], key)
