"""The Library tab's handlers: what is indexed, adding pasted text or a file, and feeds;
and the page's labels in the chosen language (``relabel``)."""

from __future__ import annotations

import logging
from html import escape
from pathlib import Path

import gradio as gr
from gradio.utils import get_upload_folder

from rag.errors import RagError
from rag.service import Service
from rag.text.counting import counted
from rag.web import requests
from rag.web.labels import LABELS
from rag.web.rendering import (
    escape as plain_escape,
)
from rag.web.rendering import (
    feeds_html,
    stats_html,
    totals_text,
)

log = logging.getLogger(__name__)


def sources_line(names: list[str], limit: int) -> str:
    """The first ``limit`` names (HTML-escaped), and how many more, each in its own
    direction: an Arabic name (a first-strong isolate, U+2068 ... U+2069) does not pull
    "+2" to its left ("2+ الرياض"), nor does a Latin one reorder an Arabic line."""
    isolated = [f"\u2068{plain_escape(name)}\u2069" for name in names[:limit]]
    more = f" \u2066+{len(names) - limit}\u2069" if len(names) > limit else ""
    return ", ".join(isolated) + more


def indexed(stats: dict, lang: str) -> str:
    """One line under the title: how many articles and passages, from when to when, and
    from which newspapers."""
    t = LABELS[lang]
    line = escape(t["indexed"].format(totals=totals_text(stats, t)))
    # a date isolated left-to-right (U+2066 ... U+2069) is never broken across two lines
    kept_whole = line.replace("\u2066", '<span class="date">\u2066')
    kept_whole = kept_whole.replace("\u2069", "\u2069</span>")
    named = [source for source in stats["sources"] if source != "(none)"]
    if named:
        sources = t["indexed_sources"].format(sources="{sources}")
        kept_whole += " · " + escape(sources).format(sources=sources_line(named, 3))
    return f'<p dir="auto">{kept_whole}</p>'


def add_pasted(service, request, title, text, source, date, url, lang):
    """The notice, then the five form fields (emptied if added). What is indexed is drawn
    again after it (``page._wire_library``)."""
    t = LABELS[lang]
    if not (text or "").strip():
        return t["empty_text"], *[gr.update()] * 5
    record = {"title": title, "content": text, "source": source, "date": date, "url": url}
    notice, added = write(
        service, request, lang, lambda caller: service.add_records(caller, [record], "web")
    )
    return notice, *([""] * 5 if added else [gr.update()] * 5)


def add_uploaded(service, request, path, lang) -> str:
    """The notice of an uploaded file's addition."""
    t = LABELS[lang]
    if not path:
        return t["no_file"]
    if not is_upload(path):  # a path named by a client calling Gradio's API directly
        log.warning("refused to add a file outside the upload folder")
        return t["not_an_upload"]
    return write(service, request, lang, lambda caller: service.add_file(caller, path))[0]


def is_upload(path) -> bool:
    """Whether ``path`` is a file Gradio received in its own upload folder."""
    folder = Path(get_upload_folder()).resolve()
    return Path(path).resolve().is_relative_to(folder)


def write(service, request, lang, add) -> tuple[str, bool]:
    """An addition through the same door as /v1: an admin key (or the local user), the
    rate limit, and the index's write lock. The notice, and whether an article went in; a
    refusal is one line in the notice."""
    try:
        report = add(requests.caller_of(service, request))
    except RagError as err:  # no permission, over the limit, read-only, another writer
        return str(err), False
    return library_message(report, LABELS[lang]), report.ingested + report.updated > 0


def feeds_view(service, request, lang) -> str:
    """The feeds table for an admin (or the local user); a line saying so for others."""
    t = LABELS[lang]
    try:
        followed = service.feed_statuses(requests.caller_of(service, request))
    except RagError:
        return f"<p>{t['feeds_admin_only']}</p>"
    return feeds_html(followed, t)


def feeds_action(service, request, action: str, url: str, lang: str):
    """Follow, fetch or stop following, through the same door as /v1/feeds: the notice and
    the feeds table (what is indexed is drawn again after it)."""
    t = LABELS[lang]
    url = (url or "").strip()
    if action != "poll" and not url:
        return t["no_feed_url"], gr.update()
    try:
        caller = requests.caller_of(service, request)
        if action == "add":
            feed = service.follow_feed(caller, url)
            notice = t["feed_added"].format(title=feed.title or feed.url, kind=feed.kind)
        elif action == "remove":
            service.unfollow_feed(caller, url)
            notice = t["feed_removed"].format(url=url)
        else:
            polled = service.poll_feeds(caller, every=True)
            notice = t["feed_polled"].format(feeds=counted(len(polled), t["n_feeds"]),
                                             new=sum(f.new for f in polled),
                                             updated=sum(f.updated for f in polled))  # fmt: skip
        followed = service.feed_statuses(caller)
    except RagError as err:  # no permission, not a feed, not followed, read-only
        return str(err), gr.update()
    return notice, feeds_html(followed, t)


def library_message(report, t: dict[str, str]) -> str:
    """What an addition did, in words: added, already there, or not added and why."""
    added = report.ingested + report.updated
    parts = []
    if added:
        articles, passages = (
            counted(added, t["n_articles"]),
            counted(report.chunks, t["n_passages"]),
        )
        parts.append(t["added"].format(articles=articles, passages=passages))
    if report.unchanged or report.skipped:
        parts.append(t["already_there"].format(n=report.unchanged + report.skipped))
    if report.failures:
        parts.append(t["add_failed"].format(reasons="; ".join(f.reason for f in report.failures)))
    return " ".join(parts)


def relabel(service: Service, lang: str) -> list:
    t, stats = LABELS[lang], service.stats()
    return [
        f"## {t['title']}",
        gr.update(label=t["ui_language"]),
        gr.update(label=t["chat_tab"]),
        gr.update(label=t["library_tab"]),
        gr.update(label=t["question"], placeholder=t["placeholder"], rtl=lang == "ar"),
        gr.update(value=t["send"]),
        gr.update(value=t["stop"]),
        gr.update(value=t["new_chat"]),
        gr.update(label=t["history"]),
        gr.update(value=t["delete_conversation"]),
        gr.update(value=t["undo_delete"]),
        gr.update(label=t["filters"]),
        gr.update(label=t["source_filter"]),
        gr.update(label=t["date_from"]),
        gr.update(label=t["date_to"]),
        gr.update(label=t["add_title"]),
        gr.update(label=t["add_text"]),
        gr.update(label=t["add_source"]),
        gr.update(label=t["add_date"]),
        gr.update(label=t["add_url"]),
        gr.update(value=t["add_button"]),
        gr.update(label=t["upload"]),
        gr.update(value=t["upload_button"]),
        stats_html(stats, t),
        f"### {t['feeds']}",
        gr.update(label=t["feed_url"]),
        gr.update(value=t["feed_add"]),
        gr.update(value=t["feed_poll"]),
        gr.update(value=t["feed_remove"]),
        indexed(stats, lang),
        gr.update(label=t["examples"]),
    ]
