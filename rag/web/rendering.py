"""HTML for answers and their sources: every piece of article or answer text is escaped.

Articles come from the open web, so nothing from them is ever inserted as markup; links
are kept only for http(s) URLs. Each block of text carries ``dir="auto"`` so Arabic reads
right-to-left and English left-to-right, whatever the page's own direction.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from html import escape as _escape_html

from rag.text.counting import counted
from rag.types import Answer, Article, Citation

PASSAGE_CONTEXT_CHARS = 280  # shown either side of a quoted sentence
QUOTED_NEARBY_CHARS = 2000  # how far from the quote another quoted sentence is looked for
_MARKER = re.compile(r"\[(\d{1,3})\]")
# bidi embeddings, overrides and isolates from a web page could make text read as another
# text; the page shows it without them (the stored article keeps them).
_BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")


def escape(text: str, quote: bool = True) -> str:
    return _escape_html(_BIDI_CONTROLS.sub("", text), quote=quote)


def answer_html(
    answer: Answer, articles: dict[str, Article], labels: dict[str, str], number: int = 1
) -> str:
    """One chat message: the answer with each marker opening a card of its source, unsupported
    claims marked, and the answer's own sources folded under it; ``number`` (the answer's
    place in the conversation) keeps its anchors apart from those of earlier answers. A
    hidden plain-text copy serves the copy button and the message's accessible name."""
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
    cards = {c.marker: _card_html(c, number) for c in answer.citations}
    text = _MARKER.sub(lambda m: cards.get(int(m.group(1)), m.group(0)), text)
    lines = "".join(f'<div dir="auto">{line}</div>' for line in text.split("\n") if line.strip())
    notes = "".join(
        f'<p class="note" dir="auto">ⓘ {_dates_left_to_right(escape(note))}</p>'
        for note in answer.notes
    )
    made_by = ""
    if answer.mode == "generated":  # a quoted answer's first line already says how it was made
        model = " · " + escape(answer.model) if answer.model else ""
        made_by = f'<p class="mode">{escape(labels["mode_generated"])}{model}</p>'
    plain = escape(answer_text(answer, labels), quote=False)
    message = (
        f'<div class="answer">{lines}</div>{notes}{made_by}'
        f"{_fold_html(answer, articles, labels, number)}"
        f'<pre class="plain-text" hidden>{plain}</pre>'
    )
    # the chat reads its messages as Markdown: a line break in an article's passage would
    # end the HTML there, so the message is one line (the browser reads &#10; as a break)
    return message.replace("\n", "&#10;")


def answer_text(answer: Answer, labels: dict[str, str]) -> str:
    """The answer as plain text, with its numbered sources and their links: what Copy gives."""
    lines = [line for line in answer.text.split("\n") if line.strip()]
    lines += [f"ⓘ {note}" for note in answer.notes]
    if answer.citations and not answer.abstained:
        lines += ["", labels["sources"] + ":"]
        for c in answer.citations:
            meta = " · ".join(part for part in (c.source, c.date[:10]) if part)
            head = " — ".join(part for part in (c.title or c.article_id, meta) if part)
            lines.append(f"[{c.marker}] {head}")
            if c.url.startswith(("https://", "http://")):
                lines.append(f"    {c.url}")
            lines.extend(f"    «{q.quote}»" for q in c.quotes())
    return "\n".join(lines)


def _card_html(citation: Citation, number: int) -> str:
    """A marker linked to its source under the answer, with a card on hover or focus."""
    meta = _meta_html(citation)
    return (
        f'<span class="cite"><a class="marker" href="#a{number}-src-{citation.marker}">'
        f"[{citation.marker}]</a>"
        f'<span class="card" role="tooltip" dir="auto"><strong>{_title_html(citation)}</strong>'
        + (f'<span class="meta">{meta}</span>' if meta else "")
        + f'<span class="card-quote">{escape(citation.quote)}</span></span></span>'
    )


def _fold_html(answer, articles, labels, number: int) -> str:
    if answer.abstained or not answer.citations:
        return ""
    quoted = _quoted_by_marker(answer)
    cited = "".join(
        _source_html(c, articles.get(c.article_id), quoted.get(c.marker, ()), f"a{number}-")
        for c in answer.citations
    )
    summary = escape(f"{labels['sources']} ({len(answer.citations)})")
    return f'<details class="answer-sources"><summary>{summary}</summary>{cited}</details>'


def _quoted_by_marker(answer: Answer) -> dict[int, list[str]]:
    """Every sentence a quoted answer takes from each source (several may share a marker);
    a generated answer's sentences are its own words, so only the citation's quote counts."""
    if answer.mode == "generated":
        return {}
    quoted: dict[int, list[str]] = {}
    for claim in answer.claims:
        sentence = _MARKER.sub("", claim.text).strip()
        for marker in claim.markers:
            quoted.setdefault(marker, []).append(sentence)
    return quoted


def sources_html(answer: Answer, articles: dict[str, Article], labels: dict[str, str]) -> str:
    """The newest answer's sources (its quotes highlighted), then the uncited ones folded."""
    if answer.abstained:  # passages that do not answer are no sources
        return f'<div class="sources"><p>{escape(labels["none_answers"])}</p></div>'
    if not answer.citations and not answer.uncited:
        return f'<div class="sources"><p>{escape(labels["no_sources"])}</p></div>'
    quoted = _quoted_by_marker(answer)
    cited = "".join(
        _source_html(c, articles.get(c.article_id), quoted.get(c.marker, ()), "")
        for c in answer.citations
    )
    parts = [f'<div class="sources"><h3>{escape(labels["sources"])}</h3>{cited}']
    if answer.uncited:
        folded = "".join(_source_html(c, articles.get(c.article_id)) for c in answer.uncited)
        summary = escape(labels["also_retrieved"].format(n=len(answer.uncited)))
        parts.append(f'<details class="uncited"><summary>{summary}</summary>{folded}</details>')
    parts.append("</div>")
    return "".join(parts)


def _meta_html(citation: Citation) -> str:
    """Newspaper · date; the date isolated left-to-right, or an Arabic newspaper's name
    before it would make 2025-04-17 read 17-04-2025."""
    date = f'<bdi dir="ltr">{escape(citation.date[:10])}</bdi>' if citation.date else ""
    return " · ".join(part for part in (escape(citation.source), date) if part)


def _title_html(citation: Citation) -> str:
    title = escape(citation.title or citation.article_id)
    if not citation.url.startswith(("https://", "http://")):
        return title
    return (
        f'<a href="{escape(citation.url, quote=True)}" target="_blank" '
        f'rel="noopener noreferrer nofollow">{title}</a>'
    )


def _source_html(
    citation: Citation,
    article: Article | None,
    quoted: Sequence[str] = (),
    anchor: str | None = None,
) -> str:
    """One source: title, newspaper and date, and its passage with every quoted sentence
    highlighted; ``anchor`` (a prefix) gives it the id its markers link to."""
    identifier = f' id="{anchor}src-{citation.marker}"' if anchor is not None else ""
    meta = _meta_html(citation)
    return (
        f'<article class="source"{identifier} data-article="{escape(citation.article_id)}">'
        f'<header dir="auto"><span class="marker">[{citation.marker}]</span> '
        f"{_title_html(citation)}</header>"
        f'<div class="meta" dir="auto">{meta}</div>'
        f'<p class="passage" dir="auto">{_passage_html(citation, article, quoted)}</p></article>'
    )


def _passage_html(citation: Citation, article: Article | None, quoted: Sequence[str]) -> str:
    if article is None:
        return _mark(citation.quote)
    text = article.text
    spans = _quoted_spans(citation, text, quoted)
    start = max(0, spans[0][0] - PASSAGE_CONTEXT_CHARS)
    end = min(len(text), spans[-1][1] + PASSAGE_CONTEXT_CHARS)
    parts = ["… " if start else ""]
    position = start
    for span_start, span_end in spans:
        parts += [escape(text[position:span_start]), _mark(text[span_start:span_end])]
        position = span_end
    parts += [escape(text[position:end]), " …" if end < len(text) else ""]
    return "".join(parts)


def _quoted_spans(citation: Citation, text: str, quoted: Sequence[str]) -> list[tuple[int, int]]:
    """Where the citation's quotes and the answer's other sentences from it stand in the
    article: those found near the quote (the same passage), in order, without overlaps."""
    spans = {(q.start, q.end) for q in citation.quotes()}
    for sentence in quoted:
        found = text.find(sentence, max(0, citation.start - QUOTED_NEARBY_CHARS))
        if sentence and 0 <= found <= citation.end + QUOTED_NEARBY_CHARS:
            spans.add((found, found + len(sentence)))
    kept: list[tuple[int, int]] = []
    for span in sorted(spans):
        if not kept or span[0] >= kept[-1][1]:
            kept.append(span)
    return kept


def _mark(quote: str) -> str:
    return f'<mark class="quote" dir="auto">{escape(quote)}</mark>'


def totals_text(stats: dict, labels: dict[str, str]) -> str:
    """How many articles and passages, from when to when."""
    return labels["totals" if stats["first_date"] else "totals_undated"].format(
        articles=counted(stats["articles"], labels["n_articles"]),
        chunks=counted(stats["chunks"], labels["n_passages"]),
        first_date=_left_to_right(stats["first_date"] or ""),
        last_date=_left_to_right(stats["last_date"] or ""),
    )


_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _dates_left_to_right(text: str) -> str:
    """Every ISO day of ``text`` isolated left-to-right, as ``_left_to_right`` does."""
    return _ISO_DAY.sub(lambda day: _left_to_right(day.group()), text)


def _left_to_right(date: str) -> str:
    """A date isolated left-to-right (U+2066 ... U+2069): in an Arabic line 2025-04-17 would
    otherwise read 17-04-2025."""
    return f"\u2066{date[:10]}\u2069"


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


def empty_answer() -> Answer:
    return Answer("", "", [], [], [], "", "", False, "extractive")
