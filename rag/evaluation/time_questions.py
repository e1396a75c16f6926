"""Questions about time (news-time-dev): asked as of their day, after their earlier turns,
and judged by kind as ``../shared/data/README.md`` describes.

- ``digest``: answered; at least 3 articles cited, all of the day, no two of one story
  (their headlines share more than half of their words), every quote at least 6 words.
- ``topic_day``: answered; every article of the day; at least half of the citations on the
  topic (one of ``expect.terms`` in the headline or the quote).
- ``latest``: answered; nothing after ``as_of``; the first citation on the topic and dated
  no earlier than the day before ``expect.newest``.
- ``empty_day``: no citation at all.
- ``followup_latest``: answered; the newest article cited dated no earlier than the day
  before ``expect.newest``.

Each question gets ``{kind}_pass`` (1 or 0), so the summary shows each kind per language,
and ``time_pass`` for all of them; the row says which checks failed.
"""

from __future__ import annotations

from datetime import date, timedelta

from rag.evaluation.datasets import EvalQuestion
from rag.text.arabic import normalize, word_set
from rag.types import Answer, Citation

MIN_DIGEST_ARTICLES = 3
MIN_QUOTE_WORDS = 6


def judge(q: EvalQuestion, answer: Answer) -> tuple[dict[str, float], list[str]]:
    """The metrics of ``answer`` to the time question ``q``, and the checks it failed."""
    cited = _one_per_article(answer.citations)
    failed = [name for name, ok in _checks(q, answer, cited) if not ok]
    passed = float(not failed)
    return {f"{q.kind}_pass": passed, "time_pass": passed}, failed


def _checks(q: EvalQuestion, answer: Answer, cited: list[Citation]):
    expect, answered = q.expect, not answer.abstained and bool(cited)
    if q.kind == "empty_day":
        return [("no citation", not answer.citations)]
    if q.kind == "digest":
        return [
            ("answered", answered),
            (f"{MIN_DIGEST_ARTICLES}+ articles", len(cited) >= MIN_DIGEST_ARTICLES),
            ("all of the day", all(_day(c) == expect["day"] for c in cited)),
            ("one story each", not _same_story(cited)),
            (f"quotes of {MIN_QUOTE_WORDS}+ words",
             all(len(c.quote.split()) >= MIN_QUOTE_WORDS for c in answer.citations)),
        ]  # fmt: skip
    if q.kind == "topic_day":
        on_topic = [_on_topic(c, expect["terms"]) for c in answer.citations]
        return [
            ("answered", answered),
            ("all of the day", all(_day(c) == expect["day"] for c in cited)),
            ("half on the topic", bool(on_topic) and sum(on_topic) * 2 >= len(on_topic)),
        ]
    newest_allowed = _day_before(expect["newest"])
    if q.kind == "latest":
        first = answer.citations[0] if answer.citations else None
        return [
            ("answered", answered),
            ("nothing after as_of", all(_day(c) <= (q.as_of or "9999") for c in cited)),
            ("first is recent", first is not None and _day(first) >= newest_allowed),
            ("first on the topic", first is not None and _on_topic(first, expect["terms"])),
        ]
    return [  # followup_latest
        ("answered", answered),
        ("newest is recent", max((_day(c) for c in cited), default="") >= newest_allowed),
    ]


def _one_per_article(citations: list[Citation]) -> list[Citation]:
    seen, kept = set(), []
    for citation in citations:
        if citation.article_id not in seen:
            seen.add(citation.article_id)
            kept.append(citation)
    return kept


def _day(citation: Citation) -> str:
    return citation.date[:10]


def _day_before(day: str) -> str:
    return (date.fromisoformat(day) - timedelta(days=1)).isoformat()


def _on_topic(citation: Citation, terms: list[str]) -> bool:
    text = normalize(f"{citation.title} {citation.quote}")
    return any(normalize(term) in text for term in terms)


def _same_story(cited: list[Citation]) -> bool:
    """Two cited articles whose headlines share more than half of their words."""
    headlines = [word_set(c.title) for c in cited]
    for i, first in enumerate(headlines):
        for second in headlines[i + 1 :]:
            smaller = min(len(first), len(second))
            if smaller and len(first & second) * 2 > smaller:
                return True
    return False
