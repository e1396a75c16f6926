"""``rag serve`` run for real, in its own process, on a free port of 127.0.0.1."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

READ_KEY = "read-key-for-tests"
ADMIN_KEY = "admin-key-for-tests"
LIMITED_KEY = "rate-limited-key-for-tests"
SHARED_LIMIT_KEY = "key-whose-limit-the-web-and-api-share"
SAVING_KEY = "key-of-a-script-saving-conversations"
SLACK_SECRET = "slack-signing-secret-for-tests"
RATE_LIMIT = 40
MAX_BODY = 300_000


@dataclass
class LiveServer:
    url: str
    index_dir: Path
    process: subprocess.Popen
    log: Path

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def read_only_mount(folder: Path) -> list[str]:
    """A command prefix that runs the command with ``folder`` mounted read-only (a private
    mount namespace: a real read-only file system, even for root)."""
    script = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && exec "$@"'
    return ["unshare", "-m", "--propagation", "private", "sh", "-c", script, str(folder)]


def start_server(
    index_dir: Path,
    seeds: Path,
    log: Path,
    *,
    preexec=None,
    wrap: list[str] = (),
    **settings: str,
) -> LiveServer:
    """Start ``rag serve`` (it builds the index from ``seeds``) and wait until it is ready;
    ``wrap`` is a command prefix (e.g. ``read_only_mount``)."""
    port = free_port()
    env = {
        **os.environ,
        "RAG_API_KEYS": f"{READ_KEY},{LIMITED_KEY},{SHARED_LIMIT_KEY},{SAVING_KEY}",
        "RAG_ADMIN_KEYS": ADMIN_KEY,
        "RAG_RATE_LIMIT_PER_MINUTE": str(RATE_LIMIT),
        "RAG_MAX_BODY_BYTES": str(MAX_BODY),
        **{f"RAG_{name.upper()}": value for name, value in settings.items()},
    }
    command = [*wrap, sys.executable, "-m", "rag.cli", "serve", "--index-dir", str(index_dir),
               "--port", str(port), "--seeds", str(seeds)]  # fmt: skip
    handle = open(log, "w")  # noqa: SIM115 - the process writes to it until stopped
    process = subprocess.Popen(
        command, env=env, stdout=handle, stderr=subprocess.STDOUT, preexec_fn=preexec
    )
    server = LiveServer(f"http://127.0.0.1:{port}", index_dir, process, log)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"rag serve exited: {log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{server.url}/readyz", timeout=2).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    server.stop()
    raise RuntimeError(f"rag serve was not ready in time: {log.read_text()[-3000:]}")


def sse_events(lines) -> list[tuple[str, dict]]:
    """(event, data) of each server-sent event in ``lines``."""
    events, name = [], None
    for line in lines:
        if line.startswith("event: "):
            name = line[len("event: ") :]
        elif line.startswith("data: "):
            events.append((name, json.loads(line[len("data: ") :])))
    return events
