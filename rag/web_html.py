"""HTML for answers and their sources: every piece of article or answer text is escaped.

Articles come from the open web, so nothing from them is ever inserted as markup; links
are kept only for http(s) URLs. Each block of text carries ``dir="auto"`` so Arabic reads
right-to-left and English left-to-right, whatever the page's own direction.
"""

from __future__ import annotations

import re
from html import escape as _escape_html

from rag.types import Answer, Article, Citation

PASSAGE_CONTEXT_CHARS = 280  # shown either side of a quoted sentence
_MARKER = re.compile(r"\[(\d{1,3})\]")
# bidi embeddings, overrides and isolates from a web page could make text read as another
# text; the page shows it without them (the stored article keeps them).
_BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")


def escape(text: str, quote: bool = True) -> str:
    return _escape_html(_BIDI_CONTROLS.sub("", text), quote=quote)


def answer_html(answer: Answer, labels: dict[str, str]) -> str:
    """The answer with markers linked to the sources panel and unsupported claims marked."""
    text = escape(answer.text)
    for claim in answer.claims:
        if not claim.supported:
            escaped = escape(claim.text)
            text = text.replace(
                escaped,
                f'<mark class="unsupported" title="{escape(labels["unsupported"])}">'
                f"{escaped} ⚠</mark>",
                1,
            )
    known = {c.marker for c in answer.citations}
    text = _MARKER.sub(lambda m: _marker_link(int(m.group(1)), known), text)
    lines = "".join(f'<div dir="auto">{line}</div>' for line in text.split("\n") if line.strip())
    notes = "".join(f'<p class="note" dir="auto">ⓘ {escape(note)}</p>' for note in answer.notes)
    if answer.mode != "generated":  # a quoted answer's first line already says how it was made
        return f'<div class="answer">{lines}</div>{notes}'
    made_by = escape(labels["mode_generated"]) + (
        " · " + escape(answer.model) if answer.model else ""
    )
    return f'<div class="answer">{lines}</div>{notes}<p class="mode">{made_by}</p>'


def _marker_link(marker: int, known: set[int]) -> str:
    if marker not in known:
        return f"[{marker}]"
    return f'<a class="marker" href="#src-{marker}">[{marker}]</a>'


def sources_html(answer: Answer, articles: dict[str, Article], labels: dict[str, str]) -> str:
    """The cited sources (quote highlighted in its passage), then the uncited ones folded."""
    if answer.abstained:  # passages that do not answer are no sources
        return f'<div class="sources"><p>{escape(labels["none_answers"])}</p></div>'
    if not answer.citations and not answer.uncited:
        return f'<div class="sources"><p>{escape(labels["no_sources"])}</p></div>'
    cited = "".join(
        _source_html(c, articles.get(c.article_id), anchor=True) for c in answer.citations
    )
    parts = [f'<div class="sources"><h3>{escape(labels["sources"])}</h3>{cited}']
    if answer.uncited:
        folded = "".join(_source_html(c, articles.get(c.article_id)) for c in answer.uncited)
        summary = escape(labels["also_retrieved"].format(n=len(answer.uncited)))
        parts.append(f'<details class="uncited"><summary>{summary}</summary>{folded}</details>')
    parts.append("</div>")
    return "".join(parts)


def _source_html(citation: Citation, article: Article | None, *, anchor: bool = False) -> str:
    identifier = f' id="src-{citation.marker}"' if anchor else ""
    title = escape(citation.title or citation.article_id)
    if citation.url.startswith(("https://", "http://")):
        title = (
            f'<a href="{escape(citation.url, quote=True)}" target="_blank" '
            f'rel="noopener noreferrer nofollow">{title}</a>'
        )
    meta = " · ".join(escape(part) for part in (citation.source, citation.date) if part)
    return (
        f'<article class="source"{identifier} data-article="{escape(citation.article_id)}">'
        f'<header dir="auto"><span class="marker">[{citation.marker}]</span> {title}</header>'
        f'<div class="meta" dir="auto">{meta}</div>'
        f'<p class="passage" dir="auto">{_passage_html(citation, article)}</p></article>'
    )


def _passage_html(citation: Citation, article: Article | None) -> str:
    quote = f'<mark class="quote" dir="auto">{escape(citation.quote)}</mark>'
    if article is None:
        return quote
    start = max(0, citation.start - PASSAGE_CONTEXT_CHARS)
    end = min(len(article.text), citation.end + PASSAGE_CONTEXT_CHARS)
    before = ("… " if start else "") + article.text[start : citation.start]
    after = article.text[citation.end : end] + (" …" if end < len(article.text) else "")
    return f"{escape(before)}{quote}{escape(after)}"


def totals_text(stats: dict, labels: dict[str, str]) -> str:
    """How many articles and passages, from when to when."""
    return labels["totals" if stats["first_date"] else "totals_undated"].format(**stats)


def stats_html(stats: dict, labels: dict[str, str]) -> str:
    """What is indexed: totals, then counts by source and by month."""
    by_source = "".join(
        f'<tr><td dir="auto">{escape(source)}</td><td>{n}</td></tr>'
        for source, n in stats["sources"].items()
    )
    by_month = "".join(
        f"<tr><td>{escape(month)}</td><td>{n}</td></tr>" for month, n in stats["months"].items()
    )
    totals = totals_text(stats, labels)
    months = (
        f"<table><thead><tr><th>{escape(labels['month'])}</th><th>#</th></tr></thead>"
        f"<tbody>{by_month}</tbody></table>"
        if by_month
        else ""
    )
    return (
        f'<div class="library-stats"><p>{escape(totals)}</p>'
        f"<table><thead><tr><th>{escape(labels['source'])}</th><th>#</th></tr></thead>"
        f"<tbody>{by_source}</tbody></table>{months}</div>"
    )


def feeds_html(feeds, labels: dict[str, str]) -> str:
    """The feeds followed and how their last fetch went."""
    if not feeds:
        return f"<p>{escape(labels['no_feeds'])}</p>"
    head = "".join(f"<th>{escape(name)}</th>" for name in labels["feed_columns"].split("|"))
    rows = "".join(
        f'<tr><td dir="ltr"><span dir="auto">{escape(f.title or "")}</span><br>'
        f"<code>{escape(f.url)}</code></td><td>{escape(f.status)}</td>"
        f'<td dir="ltr">{escape(f.last_fetch or "-")}</td><td>{f.new}</td><td>{f.updated}</td>'
        f'<td>{f.failed}</td><td dir="auto">{escape(f.last_error)}</td></tr>'
        for f in feeds
    )
    return f'<table class="feeds"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'
