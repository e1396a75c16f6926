"""What happened in a period: its main stories, one entry per story (#33).

A question that asks for the news of a period with no topic ("What happened yesterday?",
«ما أبرز الأخبار يوم 6 أغسطس؟», "What is the latest news?") is not answered by searching:
every article of the period is a candidate, and the answer is the period's main stories.

- **Stories.** The period's articles are grouped by their first passage: two articles tell
  one story when those passages' vectors are close (cosine at least ``same_story``) or their
  headlines share more than half of their words. Wire copies and other newspapers' articles
  on one event become one entry.
- **Order.** Stories carried by more newspapers come first, then those told by more
  articles. An opinion column, a poem or a single feature is carried by one newspaper and
  falls behind the day's events.
- **Each entry** quotes the lead of the story's most typical article (the first sentence of
  at least ``min_quote_words`` words, worth quoting: ``rag.text.quotes``), cites that
  article, and says how many newspapers carried the story.
- **"Latest"** with no day means the newest day with articles up to ``as_of``. A period
  without articles is said plainly, with the nearest days that have some.
- **With a topic** ("Any news on Yemen yesterday?") the period is searched for it, and the
  sentences that answer become the stories (``topic_digest``): one entry per story, the most
  relevant first, each quoting its best sentence.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from itertools import islice

import numpy as np

from rag.answers.prompts import Prompts
from rag.store import IndexStore
from rag.text.arabic import detect_language, jaccard, word_set
from rag.text.quotes import words, worth_quoting
from rag.types import Answer, Chunk, Citation, Claim, Filters, Hit, Sentence

MIN_SHARED = 3  # headline words two stories share at the least ("فرحة العيد" is no story)
WIRE_COPY = 0.6  # word overlap (Jaccard) of two quotes that makes them one story


@dataclass(frozen=True)
class Story:
    """One event of the period: the article quoted, its lead sentence, and every article
    and newspaper that told it."""

    lead: Chunk
    quote: Sentence
    articles: tuple[str, ...]
    sources: tuple[str, ...]


@dataclass
class Digest:
    """The main stories of ``date_from``..``date_to`` (``stories`` empty: no articles then;
    ``nearest``: the days with articles before and after)."""

    date_from: str
    date_to: str
    stories: list[Story] = field(default_factory=list)
    nearest: tuple[str, str] = ("", "")


@dataclass
class DigestMaker:
    store: IndexStore
    same_story: float = 0.92  # cosine of two leads' vectors that makes them one story
    most: int = 5  # stories in a digest
    min_quote_words: int = 8  # a lead shorter than this is too thin to tell a story
    common_title_word: int = 40  # a headline word in more titles than this pairs nothing

    def digest(self, date_from: str, date_to: str, filters: Filters | None = None) -> Digest:
        rows = self.store.lead_rows(date_from, date_to)
        chunks = self.store.chunks(rows)
        sources = set(filters.sources) if filters and filters.sources else None
        kept = [r for r in rows if r in chunks and (sources is None or chunks[r].source in sources)]
        if not kept:
            return Digest(date_from, date_to, nearest=self.store.days_around(date_from, date_to))
        vectors = self.store.vectors(kept)
        matrix = np.stack([vectors[r] for r in kept]).astype(np.float32)
        leads = [chunks[r] for r in kept]
        groups = sorted(self._groups(leads, matrix), key=lambda group: (
            -len({leads[i].source for i in group if leads[i].source}),
            -len({leads[i].article_id for i in group}),
        ))  # fmt: skip
        stories = (self._story(leads, matrix, group) for group in groups)
        return Digest(date_from, date_to, list(islice(filter(None, stories), self.most)))

    def _groups(self, leads: list[Chunk], matrix: np.ndarray) -> list[list[int]]:
        """The articles of each story, by union of close leads and shared headlines."""
        parent = list(range(len(leads)))

        def root(i: int) -> int:
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            return i

        first, second = np.nonzero(matrix @ matrix.T >= self.same_story)
        similar = [(i, j) for i, j in zip(first.tolist(), second.tolist(), strict=True) if i < j]
        for i, j in [*similar, *self._same_headlines(leads)]:
            parent[root(i)] = root(j)
        groups = defaultdict(list)
        for i in range(len(leads)):
            groups[root(i)].append(i)
        return list(groups.values())

    def _same_headlines(self, leads: list[Chunk]) -> list[tuple[int, int]]:
        """Pairs of headlines of one story (``_headlines_alike``)."""
        titles = [word_set(lead.title) for lead in leads]
        holders = defaultdict(list)
        for i, title in enumerate(titles):
            for word in title:
                holders[word].append(i)
        pairs = set()
        for members in holders.values():
            if len(members) > self.common_title_word:
                continue
            for a, i in enumerate(members):
                for j in members[a + 1 :]:
                    if (i, j) not in pairs and _headlines_alike(titles[i], titles[j]):
                        pairs.add((i, j))
        return list(pairs)

    def _story(self, leads: list[Chunk], matrix: np.ndarray, group: list[int]) -> Story | None:
        """The story of ``group``: quoted from its most typical article with a real lead."""
        centre = matrix[group].mean(axis=0)
        # a report before a column: a headline asking or exclaiming is an opinion's
        ranked = sorted(group, key=lambda i: (_opinion(leads[i].title), -float(matrix[i] @ centre)))
        for i in ranked:
            quote = self._lead_sentence(leads[i])
            if quote is not None:
                articles = tuple(dict.fromkeys(leads[k].article_id for k in group))
                sources = tuple(sorted({leads[k].source for k in group if leads[k].source}))
                return Story(leads[i], quote, articles, sources)
        return None

    def _lead_sentence(self, lead: Chunk) -> Sentence | None:
        for sentence in lead.sentence_quotes():
            text = sentence.text
            # "... فيما يلي نصه:" introduces what follows: the next sentence says it
            if (
                len(words(text)) >= self.min_quote_words
                and worth_quoting(text)
                and not text.endswith(":")
            ):
                return sentence
        return None


def topic_digest(date_from: str, date_to: str, chosen: list[tuple[Hit, Sentence]],
                 most: int = 5) -> Digest:  # fmt: skip
    """The stories of a topic's sentences (``chosen``: most relevant first, one per
    article): an article joins the first story whose headline is alike (``_headlines_alike``)
    or whose quote is a copy of its own (wire copies); reports come before columns,
    and otherwise stories keep the order of their most relevant article."""
    groups: list[list[tuple[Hit, Sentence]]] = []
    for hit, sentence in sorted(chosen, key=lambda pick: _opinion(pick[0].chunk.title)):
        story = next((g for g in groups if _same_story(g[0], (hit, sentence))), None)
        if story is None:
            groups.append([(hit, sentence)])
        else:
            story.append((hit, sentence))
    stories = [
        Story(group[0][0].chunk, group[0][1],
              tuple(dict.fromkeys(h.chunk.article_id for h, _ in group)),
              tuple(sorted({h.chunk.source for h, _ in group if h.chunk.source})))
        for group in groups[:most]
    ]  # fmt: skip
    return Digest(date_from, date_to, stories)


def _same_story(first: tuple[Hit, Sentence], second: tuple[Hit, Sentence]) -> bool:
    titles = word_set(first[0].chunk.title), word_set(second[0].chunk.title)
    quotes = word_set(first[1].text), word_set(second[1].text)
    return _headlines_alike(*titles) or jaccard(*quotes) >= WIRE_COPY


def _headlines_alike(first: frozenset[str], second: frozenset[str]) -> bool:
    """Two headlines of one story: they share more than half of the shorter's words, and
    at least ``MIN_SHARED``."""
    shared = len(first & second)
    return shared >= MIN_SHARED and shared * 2 > min(len(first), len(second))


def _opinion(headline: str) -> bool:
    return any(mark in headline for mark in "?؟!")


def digest_answer(digest: Digest, question: str, language: str, prompts: Prompts,
                  notes: list[str], intro: str = "digest_intro") -> Answer:  # fmt: skip
    """The digest as an answer: an entry per story, each citing its quote; or, with no
    article in the period, a plain answer naming the nearest days that have some."""
    period = digest.date_from
    if digest.date_to != digest.date_from:
        period = f"{digest.date_from} – {digest.date_to}"
    if not digest.stories:
        days = ", ".join(day for day in digest.nearest if day)
        nearest = prompts.localized("digest_nearest", language, days=days) if days else ""
        text = prompts.localized("digest_empty", language, period=period, nearest=nearest)
        return Answer(question, text.strip(), [], [], [], "", language, True, "extractive",
                      notes=notes)  # fmt: skip
    lines = [prompts.localized(intro, language, period=period)]
    citations, claims = [], []
    for marker, story in enumerate(digest.stories, start=1):
        citations.append(Citation.quoting(marker, story.lead, story.quote))
        claims.append(Claim(f"{story.quote.text} [{marker}]", [marker], True, 1.0))
        carried = story.lead.source
        if len(story.sources) > 1:
            carried = prompts.localized("digest_carried", language, n=str(len(story.sources)))
        lines.append(f"{marker}. {story.lead.title}: «{story.quote.text}» [{marker}] ({carried})")
    quoted_in = detect_language(" ".join(story.quote.text for story in digest.stories))
    if quoted_in != language:
        notes = [*notes, prompts.localized("extractive_other_language", language)]
    return Answer(question, "\n".join(lines), citations, [], claims, "", quoted_in, False,
                  "extractive", notes=notes, confidence=1.0)  # fmt: skip
