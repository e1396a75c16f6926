"""Feeds read into items: RSS 2.0 (and 1.0), Atom 1.0, JSON Feed 1.x, news sitemaps.

The XML parser never resolves entities nor touches the network. Text is decoded first
(``rag.news.fetching.decode``), so a feed in windows-1256 or ISO-8859-6 reads like UTF-8."""

from __future__ import annotations

import hashlib
import html
import json
import re
from dataclasses import dataclass
from datetime import timezone
from email.utils import parsedate_to_datetime

from rag.errors import RagError
from rag.news.documents import normalize_date


class FeedFormatError(RagError):
    """Not a feed this reader knows, or a malformed one."""


@dataclass(frozen=True)
class FeedItem:
    guid: str
    url: str
    title: str = ""
    date: str = ""  # ISO date, or ""
    author: str = ""
    content: str = ""  # the feed's own text of the item (plain), used when the page fails
    updated: str = ""  # what tells a changed item: its update time, else a digest of its text


@dataclass(frozen=True)
class ParsedFeed:
    kind: str  # "rss", "atom", "json", "sitemap"
    title: str
    items: list[FeedItem]


_TAGS = re.compile(r"<[^>]+>")
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")


def parse_feed(text: str) -> ParsedFeed:
    stripped = text.lstrip("\ufeff \t\r\n")
    if stripped.startswith("{"):
        return _json_feed(stripped)
    return _xml_feed(stripped)


def _xml_feed(text: str) -> ParsedFeed:
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    try:
        root = etree.fromstring(_XML_DECLARATION.sub("", text, count=1).encode("utf-8"), parser)
    except etree.XMLSyntaxError as err:
        raise FeedFormatError(f"malformed XML: {err}") from None
    kind = etree.QName(root).localname.lower()
    if kind == "rss" or kind == "rdf":
        return _rss(root)
    if kind == "feed":
        return _atom(root)
    if kind == "urlset":
        return _sitemap(root)
    if kind == "sitemapindex":
        raise FeedFormatError("a sitemap index: add the sitemaps it lists instead")
    raise FeedFormatError(f"not a feed: the document is <{kind}>, not RSS, Atom or a sitemap")


def _children(node, name: str):
    return [c for c in node if isinstance(c.tag, str) and _local(c) == name]


def _first(node, *names: str) -> str:
    for name in names:
        for child in _children(node, name):
            text = "".join(child.itertext()).strip()
            if text:
                return text
    return ""


def _local(node) -> str:
    from lxml import etree

    return etree.QName(node).localname


def _rss(root) -> ParsedFeed:
    channel = next(iter(_children(root, "channel")), root)
    items = [node for node in root.iter() if isinstance(node.tag, str) and _local(node) == "item"]
    found = []
    for node in items:
        url = _first(node, "link")
        content = _first(node, "encoded", "description")
        guid = _first(node, "guid") or url
        found.append(_item(guid, url, _first(node, "title"), _first(node, "pubDate", "date"),
                           _first(node, "creator", "author"), content, ""))  # fmt: skip
    return ParsedFeed("rss", _first(channel, "title"), found)


def _atom(root) -> ParsedFeed:
    found = []
    for node in _children(root, "entry"):
        url = ""
        for link in _children(node, "link"):
            if link.get("rel", "alternate") == "alternate" and link.get("href"):
                url = link.get("href")
                break
        author = next((_first(a, "name") for a in _children(node, "author")), "")
        updated = _first(node, "updated")
        found.append(_item(_first(node, "id") or url, url, _first(node, "title"),
                           _first(node, "published", "updated"), author,
                           _first(node, "content", "summary"), updated))  # fmt: skip
    return ParsedFeed("atom", _first(root, "title"), found)


def _sitemap(root) -> ParsedFeed:
    found = []
    for node in _children(root, "url"):
        url = _first(node, "loc")
        news = next(iter(_children(node, "news")), None)
        title = _first(news, "title") if news is not None else ""
        date = _first(news, "publication_date") if news is not None else ""
        found.append(_item(url, url, title, date or _first(node, "lastmod"), "", "",
                           _first(node, "lastmod")))  # fmt: skip
    return ParsedFeed("sitemap", "", found)


def _json_feed(text: str) -> ParsedFeed:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise FeedFormatError(f"malformed JSON: {err}") from None
    if not isinstance(data, dict) or "jsonfeed.org" not in str(data.get("version", "")):
        raise FeedFormatError("not a feed: JSON without a jsonfeed.org version")
    found = []
    for entry in data.get("items") or []:
        if not isinstance(entry, dict):
            continue
        url = str(entry.get("url") or entry.get("external_url") or "")
        authors = entry.get("authors") or ([entry["author"]] if entry.get("author") else [])
        author = next((str(a.get("name", "")) for a in authors if isinstance(a, dict)), "")
        content = str(entry.get("content_text") or entry.get("content_html") or "")
        found.append(_item(str(entry.get("id") or url), url, str(entry.get("title") or ""),
                           str(entry.get("date_published") or ""), author, content,
                           str(entry.get("date_modified") or "")))  # fmt: skip
    return ParsedFeed("json", str(data.get("title") or ""), found)


def _item(guid, url, title, date, author, content, updated) -> FeedItem:
    plain = _plain(content)
    return FeedItem(
        guid=guid.strip(),
        url=url.strip(),
        title=_plain(title),
        date=_iso_date(date),
        author=_plain(author),
        content=plain,
        updated=updated.strip() or _digest(title, date, plain),
    )


def _digest(*parts: str) -> str:
    """What tells a changed item in a feed that gives no update time."""
    return hashlib.sha1("\n".join(parts).encode("utf-8")).hexdigest()[:16]


def _plain(text: str) -> str:
    """Text of an HTML fragment (feeds carry escaped HTML in descriptions)."""
    text = re.sub(r"(?i)<\s*(br|/p|/div|/li|/h\d)\s*/?>", "\n", text)
    text = html.unescape(_TAGS.sub(" ", text))
    lines = (" ".join(line.split()) for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def _iso_date(raw: str) -> str:
    raw = raw.strip()
    if not raw:
        return ""
    try:
        moment = parsedate_to_datetime(raw)  # RFC 822, as RSS has it
        if moment.tzinfo is not None:
            moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
        return moment.isoformat(timespec="seconds")
    except (TypeError, ValueError, IndexError):
        pass
    try:
        return normalize_date(raw)
    except RagError:
        return ""
