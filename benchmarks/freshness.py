"""From a feed's new item to a search hit, with `rag serve` watching its feeds.

    python benchmarks/freshness.py --rounds 5 --interval 30 --out docs/benchmarks/freshness.json

Starts a news site on 127.0.0.1 (an Arabic RSS feed and article pages) and `rag serve` over
a new index of the bundled seeds with ``feeds_watch`` on, follows the feed through
``POST /v1/feeds``, then, at a random moment of each round, publishes a new article and
times until ``/v1/search`` returns it. Target: under one poll interval plus 5 s.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import emit  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


class Site:
    """An RSS feed and its pages, changeable while served."""

    def __init__(self):
        self.pages: dict[str, tuple[str, bytes]] = {}
        self.items: list[tuple[str, str]] = []
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                path = unquote(self.path)
                kind, body = site.pages.get(path, ("text/plain", b""))
                self.send_response(200 if path in site.pages else 404)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.root = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._write_feed()

    def publish(self, word: str) -> None:
        path = f"/news/{word}"
        text = (f"أعلنت وزارة النقل افتتاح محطة {word} الجديدة للقطار السريع، وقالت إنها "
                "ستخدم عشرين ألف مسافر يومياً بدءاً من الأسبوع المقبل.")  # fmt: skip
        page = (f'<html><head><meta charset="windows-1256"><title>محطة {word}</title></head>'
                f"<body><nav>الرئيسية</nav><article><h1>محطة {word}</h1><p>{text}</p>"
                "</article><footer>حقوق النشر</footer></body></html>")  # fmt: skip
        self.pages[path] = ("text/html; charset=windows-1256", page.encode("windows-1256"))
        self.items.append((f"محطة {word}", self.root + path))
        self._write_feed()

    def _write_feed(self) -> None:
        items = "".join(f"<item><title>{t}</title><link>{u}</link><guid>{u}</guid></item>"
                        for t, u in self.items)  # fmt: skip
        feed = ('<?xml version="1.0" encoding="windows-1256"?><rss version="2.0"><channel>'
                f"<title>أخبار محلية</title>{items}</channel></rss>")  # fmt: skip
        self.pages["/feed.xml"] = ("application/rss+xml", feed.encode("windows-1256"))


def start_server(folder: Path, port: int) -> subprocess.Popen:
    env = {**os.environ, "RAG_FEEDS_WATCH": "1", "RAG_FEEDS_ALLOW_PRIVATE": "1",
           "RAG_FEEDS_TICK": "1",
           "RAG_RATE_LIMIT_PER_MINUTE": "100000"}  # this client polls 4 times a second  # fmt: skip
    command = [sys.executable, "-m", "rag.cli", "serve", "--index-dir", str(folder / "index"),
               "--seeds", str(ROOT / "seeds"), "--port", str(port)]  # fmt: skip
    log = open(folder / "server.log", "w")  # noqa: SIM115 - written until the server stops
    return subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)


def wait_ready(url: str) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError("rag serve did not become ready")


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--interval", type=int, default=30)
    parser.add_argument("--port", type=int, default=7871)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    site = Site()
    folder = Path(tempfile.mkdtemp(prefix="freshness-"))
    server = start_server(folder, args.port)
    url = f"http://127.0.0.1:{args.port}"
    delays = []
    try:
        wait_ready(url)
        feed = {"url": site.root + "/feed.xml", "interval": args.interval}
        added = httpx.post(url + "/v1/feeds", json=feed, timeout=30)
        added.raise_for_status()
        for _ in range(args.rounds):
            time.sleep(random.uniform(0, args.interval))
            word = "ق" + uuid.uuid4().hex[:8]
            site.publish(word)
            published = time.monotonic()
            while time.monotonic() - published < 3 * args.interval:
                found = httpx.post(url + "/v1/search", json={"query": f"محطة {word}"}, timeout=30)
                found.raise_for_status()
                if any(word in hit["chunk"]["text"] for hit in found.json()["hits"]):
                    break
                time.sleep(0.25)
            delays.append(time.monotonic() - published)
            print(f"found after {delays[-1]:.1f} s", file=sys.stderr)
    finally:
        server.terminate()
        server.wait()
        site.server.shutdown()
    emit({"interval_s": args.interval, "delays_s": delays, "median_s": statistics.median(delays),
          "max_s": max(delays), "target_s": args.interval + 5}, args.out)  # fmt: skip


if __name__ == "__main__":
    main()
