"""A fake news site on 127.0.0.1 for the feed tests: feeds in every format and encoding,
article pages with boilerplate, and the failures a real site has (304, 500, timeouts,
redirect loops, huge bodies, malformed XML, a feed that disappears)."""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import dataclass, field

from tests.loopback import LoopbackServer, QuietHandler


@dataclass
class Page:
    body: bytes
    content_type: str = "text/html"
    status: int = 200
    headers: dict = field(default_factory=dict)
    delay: float = 0.0


def article_html(title: str, text: str, charset: str = "utf-8", date: str = "2026-12-01") -> bytes:
    """A news page: navigation, a sidebar and a footer around the article."""
    paragraphs = "".join(f"<p>{p}</p>" for p in text.split("\n"))
    page = f"""<!DOCTYPE html><html lang="ar" dir="rtl"><head>
<meta charset="{charset}"><title>{title} | صحيفة الاختبار</title>
<meta property="article:published_time" content="{date}T08:00:00+03:00">
<meta name="author" content="مراسل الصحيفة"></head><body>
<nav><a href="/">الرئيسية</a> | <a href="/sport">رياضة</a> | <a href="/economy">اقتصاد</a></nav>
<aside><h3>الأكثر قراءة</h3><ul><li>خبر عن الطقس</li><li>خبر عن الرياضة</li></ul></aside>
<article><h1>{title}</h1>{paragraphs}</article>
<footer>جميع الحقوق محفوظة لصحيفة الاختبار 2026 - سياسة الخصوصية - اتصل بنا</footer>
</body></html>"""
    return page.encode(charset)


def rss(items: list[dict], title: str = "أخبار الاختبار", encoding: str = "utf-8") -> bytes:
    entries = "".join(
        f"<item><title>{i['title']}</title><link>{i['url']}</link><guid>{i['url']}</guid>"
        f"<pubDate>{i.get('pubDate', 'Tue, 01 Dec 2026 08:00:00 +0300')}</pubDate>"
        f"<description>{i.get('summary', '')}</description></item>"
        for i in items
    )
    text = (f'<?xml version="1.0" encoding="{encoding}"?><rss version="2.0"><channel>'
            f"<title>{title}</title><link>http://example/</link>{entries}</channel></rss>")  # fmt: skip
    return text.encode(encoding)


def atom(items: list[dict], title: str = "Test wire") -> bytes:
    entries = "".join(
        f'<entry><id>{i["url"]}</id><title>{i["title"]}</title><link href="{i["url"]}"/>'
        f"<published>2026-12-01T09:00:00Z</published><updated>{i.get('updated', '2026-12-01T09:00:00Z')}</updated>"
        f"<author><name>Wire</name></author><summary>{i.get('summary', '')}</summary></entry>"
        for i in items
    )
    return (f'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
            f"<title>{title}</title>{entries}</feed>").encode()  # fmt: skip


def json_feed(items: list[dict], title: str = "JSON news") -> bytes:
    return json.dumps({
        "version": "https://jsonfeed.org/version/1.1", "title": title,
        "items": [{"id": i["url"], "url": i["url"], "title": i["title"],
                   "content_text": i.get("summary", ""), "date_published": "2026-12-01T10:00:00Z"}
                  for i in items],
    }, ensure_ascii=False).encode()  # fmt: skip


def news_sitemap(items: list[dict]) -> bytes:
    urls = "".join(
        f"<url><loc>{i['url']}</loc><news:news><news:publication><news:name>Site</news:name>"
        f"<news:language>ar</news:language></news:publication>"
        f"<news:publication_date>2026-12-01</news:publication_date>"
        f"<news:title>{i['title']}</news:title></news:news></url>"
        for i in items
    )
    return ('<?xml version="1.0" encoding="UTF-8"?>'
            '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
            'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">'
            f"{urls}</urlset>").encode()  # fmt: skip


class NewsSite:
    """Serves ``pages`` (path -> Page), changeable while it runs; counts requests."""

    def __init__(self):
        self.pages: dict[str, Page] = {}
        self.requests: list[tuple[str, dict]] = []
        site = self

        class Handler(QuietHandler):
            def do_GET(self):
                site.requests.append((self.path, dict(self.headers)))
                page = site.pages.get(self.path)
                if page is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if page.delay:
                    time.sleep(page.delay)
                etag = page.headers.get("ETag")
                if etag and self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.end_headers()
                    return
                self.send_response(page.status)
                self.send_header("Content-Type", page.content_type)
                for name, value in page.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(page.body)))
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(page.body)

        self._server = LoopbackServer(Handler)
        self.root = self._server.root

    def url(self, path: str) -> str:
        return self.root + path

    def requested(self, path: str) -> int:
        return sum(1 for p, _ in self.requests if p == path)

    def stop(self) -> None:
        self._server.stop()
