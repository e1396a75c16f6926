"""From a question to an ``Answer``: retrieve, then generate (and check) or extract.

With no language model configured the answer is extractive: verbatim sentences with
citations. With one, the model writes the answer from numbered sources; markers are checked
and each claim verified against what it cites. If every model fails, the user still gets
the extractive answer, with a note saying why.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, timedelta
from string import Template

from rag.answers.citations import CitationChecker, one_source_per_article
from rag.answers.digest import DigestMaker, digest_answer, topic_digest
from rag.answers.evidence import names_missing
from rag.answers.extractive import ExtractiveAnswerer
from rag.answers.followup import adds_time, format_history, rewrite_by_rule
from rag.answers.generation import GenerationError, Generator
from rag.answers.prompts import LANGUAGE_NAMES, Prompts
from rag.answers.retrieval import Filters, Retriever, SearchResult
from rag.answers.smalltalk import conversation_kind
from rag.text.arabic import detect_language
from rag.text.dates import TimeFrame
from rag.text.question import Question
from rag.types import Answer, Citation, Claim, Hit, Quote

log = logging.getLogger(__name__)

LATEST_WINDOWS = (2, 7)  # days back from the newest day with articles, tried in turn
NEWS_POOL = 20  # hits a news question about something named is chosen among


@dataclass
class Answerer:
    """Answers questions over one index. Example::

    answerer = Answerer(retriever, ExtractiveAnswerer(), CitationChecker(embedder))
    answerer.answer("What did Araghchi say about enrichment?").citations[0].quote
    """

    retriever: Retriever
    extractive: ExtractiveAnswerer
    checker: CitationChecker
    generator: Generator | None = None
    prompts: Prompts = Prompts()
    digest: DigestMaker | None = None  # "what happened yesterday?": the day's main stories

    def answer(
        self,
        question: str,
        *,
        history: list[dict] | None = None,
        k: int | None = None,
        filters: Filters | None = None,
        language: str | None = None,
        on_token: Callable[[str], None] | None = None,
        as_of: date | None = None,
    ) -> Answer:
        """Answer ``question``; ``language`` ("ar"/"en") overrides the question's own;
        ``as_of`` is the day "yesterday" and "last week" count from (default: today)."""
        asked = Question.read(question)
        if language is not None and language not in LANGUAGE_NAMES:
            known = ", ".join(sorted(LANGUAGE_NAMES))
            raise ValueError(f"language must be one of {known}, got {language!r}")
        kind = conversation_kind(asked.text)
        if kind is not None:
            return self._conversation(asked.text, kind, language or asked.language)
        timings: dict[str, float] = {}
        started = time.perf_counter()
        standalone = self._standalone(asked.text, history or [], as_of or date.today())
        asked = asked.standing_alone_as(standalone)
        timings["rewrite"] = time.perf_counter() - started
        digest = self._digest(asked, filters, as_of, language or asked.language, on_token)
        if digest is not None:
            digest.question_language, digest.standalone_question = asked.language, standalone
            digest.timings = {**timings, "digest": time.perf_counter() - started}
            return digest
        result = self._search(asked, k, filters, as_of)
        timings.update(result.timings)
        asked = asked.with_spellings(result.names)
        wanted = language or asked.language
        notes = self._time_notes(result.time_frame, wanted)
        began = time.perf_counter()
        stories = self._topic_stories(asked, result, wanted, notes)
        if stories is not None or self.generator is None:
            answer = stories or self._extractive(asked, result, wanted, notes=notes)
            if on_token:  # no model writes it: the finished answer, a line at a time
                for line in answer.text.splitlines(keepends=True):
                    on_token(line)
        else:
            answer = self._generated(asked, result, wanted, on_token)
            answer.notes = [*notes, *answer.notes]
        timings["answer"] = time.perf_counter() - began
        answer.notes = [*answer.notes, *self._newest_quoted(result, answer, wanted)]
        answer.question_language = asked.language
        answer.standalone_question = standalone
        answer.timings = timings
        return answer

    def _newest_quoted(self, result: SearchResult, answer: Answer, language: str) -> list[str]:
        """For "the latest": the day of the newest article the answer quotes."""
        frame = result.time_frame
        days = [c.date[:10] for c in answer.citations if c.date]
        if frame is None or not frame.newest_first or answer.abstained or not days:
            return []
        return [self.prompts.localized("newest_quoted", language, day=max(days))]

    def _time_notes(self, frame: TimeFrame | None, language: str) -> list[str]:
        """What the reader should know about the dates searched."""
        if frame is None:
            return []
        if frame.date_from:
            dates = {"date_from": frame.date_from, "date_to": frame.date_to}
            said = "time_frame_day" if frame.date_from == frame.date_to else "time_frame"
            return [self.prompts.localized(said, language, phrase=frame.phrase, **dates)]
        return [self.prompts.localized("newest_first", language, phrase=frame.phrase)]

    # ----- searching ----------------------------------------------------------------------

    def _search(self, question: Question, k, filters, as_of: date | None) -> SearchResult:
        """The hits for ``question``. "The latest on X" is searched in the last days with
        articles first, then a week, then all: the newest articles that answer, not the
        best of every day."""
        today = as_of or self.retriever.as_of or date.today()
        query = question.searched
        frame = query.time_frame(today) if self.retriever.time_aware else None
        dated = filters is not None and (filters.date_from or filters.date_to)
        if frame is None or not frame.newest_first or frame.date_from or dated:
            return self._search_news(query, k, filters, as_of)
        newest = self.retriever.store.latest_day(today.isoformat())
        for days in LATEST_WINDOWS if newest else ():
            first = (date.fromisoformat(newest) - timedelta(days - 1)).isoformat()
            within = replace(filters or Filters(), date_from=first, date_to=newest)
            result = self._search_news(query, k, within, as_of)
            judged = question.with_spellings(result.names)
            if result.hits and not self.extractive.select(judged, result.hits).abstained:
                return result
        return self._search_news(query, k, filters, as_of)

    def _search_news(self, query: Question, k, filters, as_of) -> SearchResult:
        """``Retriever.search``; for a question asking for the news of something named
        ("What's new on Egypt?"), the hits that name it (in either script) when any do:
        news about Egypt is news that mentions Egypt, however close the rest reads."""
        if not (query.asks_for_news and query.names):
            return self.retriever.search(query, k=k, filters=filters, as_of=as_of)
        wanted = k or self.retriever.k
        result = self.retriever.search(query, k=max(wanted, NEWS_POOL), filters=filters,
                                       as_of=as_of)  # fmt: skip
        if result.names:
            named = [hit for hit in result.hits if not names_missing(result.names, _text(hit))]
            result = replace(result, hits=named or result.hits)
        return replace(result, hits=result.hits[:wanted])

    # ----- the news of a period ----------------------------------------------------------

    def _digest(self, question: Question, filters, as_of: date | None, language: str,
                on_token=None):  # fmt: skip
        """The period's main stories when the question asks for the news of a period with
        no topic (``rag.answers.digest``); ``None`` for any other question. With a model,
        it writes the summary from the same stories, its claims checked as any answer's."""
        searched = question.searched
        if self.digest is None or not searched.asks_for_news or not self.retriever.time_aware:
            return None
        if filters is not None and (filters.date_from or filters.date_to):
            return None  # dates the user set: a search within them
        today = as_of or self.retriever.as_of or date.today()
        frame = searched.time_frame(today)
        if frame is None or searched.news_topic(frame):
            return None
        if frame.date_from:
            period = (frame.date_from, min(frame.date_to, today.isoformat()))
            notes = self._time_notes(frame, language)
        else:  # "the latest news": the newest day with articles
            day = self.retriever.store.latest_day(today.isoformat())
            if not day:
                return None
            period = (day, day)
            notes = [self.prompts.localized("digest_latest", language, as_of=today.isoformat(),
                                            day=day)]  # fmt: skip
        made = self.digest.digest(*period, filters)
        quoted = digest_answer(made, question.text, language, self.prompts, notes)
        if self.generator is None or not made.stories:
            return quoted
        stories = [Hit(story.lead, 1.0, best_sentence=story.quote, sentences=[story.quote])
                   for story in made.stories]  # fmt: skip
        written = self._generated(question, SearchResult(stories), language, on_token)
        if written.mode != "generated":  # every model failed: the quoted digest, and why
            quoted.notes = [*quoted.notes, *written.notes]
            return quoted
        written.notes = [*notes, *written.notes]
        return written

    def _topic_stories(self, question: Question, result: SearchResult, language: str,
                       notes: list[str]) -> Answer | None:  # fmt: skip
        """Offline, "Any news on Yemen yesterday?" is answered with the stories the hits
        tell, in the search's order (``rag.answers.digest.topic_digest``), when the sentences
        that answer tell more than one; ``None`` otherwise. Only the hits shown: below them,
        columns and namesakes («الهلال الأحمر» for Al-Hilal) crowd in."""
        frame = result.time_frame
        offline = self.generator is None and self.digest is not None
        if not offline or not _topic_of_a_period(question.searched, frame):
            return None
        selection = self.extractive.select(question, result.hits)
        if selection.abstained:
            return None
        rank = {}  # the search's order is the relevance: it weighs words and passages
        for place, hit in enumerate(result.hits):
            rank.setdefault(hit.chunk.article_id, place)
        chosen = sorted(self.extractive.passing(question, result.hits),
                        key=lambda pick: rank[pick[0].chunk.article_id])  # fmt: skip
        made = topic_digest(frame.date_from, frame.date_to, chosen, self.digest.most)
        if len(made.stories) < 2:
            return None
        answer = digest_answer(made, question.text, language, self.prompts, notes,
                               intro="digest_topic_intro")  # fmt: skip
        told = {article for story in made.stories for article in story.articles}
        answer.uncited = _uncited(result.hits, told, len(made.stories), answer.citations)
        answer.confidence = selection.confidence
        return answer

    # ----- greetings, thanks, "what can you do?" -----------------------------------------

    def _conversation(self, question: str, kind: str, language: str) -> Answer:
        """A short reply without a search or sources (rag.answers.smalltalk)."""
        template = Template(self.prompts.localized(f"conversation_{kind}", language))
        text = (
            template.safe_substitute(self._index_description())
            if kind == "about"
            else (template.template)
        )
        return Answer(question=question, text=text, citations=[], uncited=[], claims=[],
                      question_language=language, answer_language=language, abstained=False,
                      mode="conversation")  # fmt: skip

    def _index_description(self) -> dict[str, str]:
        stats = self.retriever.store.stats()
        sources = short_list([s for s in stats["sources"] if s != "(none)"], 5)
        first, last = stats["first_date"][:10], stats["last_date"][:10]
        return {
            "articles": str(stats["articles"]),
            "sources": sources or "—",
            "dates": f"{first} – {last}" if first else "—",
        }

    # ----- follow-ups ------------------------------------------------------------------

    def _standalone(self, question: str, history: list[dict], today: date) -> str:
        """The question as it reads on its own (``rag.answers.followup``)."""
        if not history:
            return question
        if self.generator is None:
            return rewrite_by_rule(question, history)
        prompt = self.prompts.render(
            "condense_question", history=format_history(history), question=question
        )
        try:
            rewritten, _ = self.generator.complete([{"role": "user", "content": prompt}])
        except GenerationError:
            return rewrite_by_rule(question, history)
        rewritten = rewritten.strip().splitlines()[0].strip() if rewritten.strip() else ""
        if not rewritten or adds_time(rewritten, question, today):
            return rewrite_by_rule(question, history)
        return rewritten

    # ----- extractive --------------------------------------------------------------------

    def _extractive(
        self, question: Question, result: SearchResult, language: str, notes: list[str]
    ) -> Answer:
        hits = result.hits
        selection = self.extractive.select(question, hits)
        if selection.abstained:
            return self._abstention(
                question.text,
                hits,
                language,
                notes,
                mode="extractive",
                confidence=selection.confidence,
            )
        numbering: dict[str, int] = {}  # one source per article, its quotes together
        citations: list[Citation] = []
        claims: list[Claim] = []
        for hit, sentence in selection.picks:
            article = hit.chunk.article_id
            if article not in numbering:
                numbering[article] = len(numbering) + 1
                citations.append(Citation.quoting(numbering[article], hit.chunk, sentence))
            else:
                citations[numbering[article] - 1].more.append(
                    Quote(sentence.text, sentence.start, sentence.end)
                )
            marker = numbering[article]
            claims.append(Claim(f"{sentence.text} [{marker}]", [marker], True, sentence.score))
        quoted_in = detect_language(" ".join(c.text for c in claims))
        if quoted_in != language and self.generator is None:  # say why, and how to change it
            notes = [*notes, self.prompts.localized("extractive_other_language", language)]
        intro = self.prompts.localized("extractive_intro", language)
        text = (
            intro
            + "\n"
            + "\n".join(f"«{c.text.rsplit(' [', 1)[0]}» [{c.markers[0]}]" for c in claims)
        )
        return Answer(
            question=question.text,
            text=text,
            citations=citations,
            uncited=_uncited(hits, set(numbering), len(citations), citations),
            claims=claims,
            question_language="",
            answer_language=quoted_in,
            abstained=False,
            mode="extractive",
            notes=notes,
            confidence=selection.confidence,
        )

    def _abstention(self, question, hits, language, notes, *, mode: str, confidence=0.0) -> Answer:
        return Answer(
            question=question,
            text=self.prompts.localized("abstain", language),
            citations=[],
            uncited=_uncited(hits, set(), 0),
            claims=[],
            question_language="",
            answer_language=language,
            abstained=True,
            mode=mode,
            notes=notes,
            confidence=confidence,
        )

    # ----- generated ---------------------------------------------------------------------

    def _generated(self, question: Question, result: SearchResult, language, on_token) -> Answer:
        hits = result.hits
        if not hits:
            return self._abstention(question.text, hits, language, [], mode="generated")
        messages = self._messages(question.text, hits, language)
        try:
            text, model = self.generator.complete(messages, on_token)
            if detect_language(text) != language:
                log.info("answer language is not %s: asking once more", language)
                retry = self.prompts.render(
                    "answer_language_retry", language=LANGUAGE_NAMES[language]
                )
                messages += [
                    {"role": "assistant", "content": text},
                    {"role": "user", "content": retry},
                ]
                text, model = self.generator.complete(messages, on_token)
        except GenerationError as err:
            note = f"{err}; this is a quotation-based answer instead."
            return self._extractive(question, result, language, notes=[note])
        return self._checked(question.text, hits, language, text, model)

    def _messages(self, question: str, hits: list[Hit], language: str) -> list[dict]:
        sources = "\n\n".join(
            f"<source {n}>\n{_source_header(hit)}\n{hit.chunk.text}\n</source {n}>"
            for n, hit in enumerate(hits, start=1)
        )
        system = self.prompts.render("answer_system", language=LANGUAGE_NAMES[language])
        user = self.prompts.render("answer_user", sources=sources, question=question)
        return [{"role": "system", "content": system}, {"role": "user", "content": user}]

    def _checked(self, question, hits, language, text, model) -> Answer:
        checked, more = one_source_per_article(self.checker.check(text, hits), hits)
        notes = []
        if checked.dropped_markers:
            dropped = ", ".join(f"[{m}]" for m in checked.dropped_markers)
            notes.append(f"removed citation markers that point at no source: {dropped}")
        unsupported = [c for c in checked.claims if not c.supported]
        if unsupported and any(c.markers for c in checked.claims):
            notes.append(
                f"{len(unsupported)} sentence(s) of the answer are not supported by the sources"
            )
        cited = sorted(checked.quotes)
        citations = [
            Citation.quoting(marker, hits[marker - 1].chunk, checked.quotes[marker])
            for marker in cited
        ]
        for citation in citations:  # an article cited once, its other passages' quotes too
            citation.more = [Quote(s.text, s.start, s.end) for s in more.get(citation.marker, [])]
        cited_ids = {hits[m - 1].chunk.article_id for m in cited}
        return Answer(
            question=question,
            text=checked.text,
            citations=citations,
            uncited=_uncited(hits, cited_ids, None, citations),
            claims=checked.claims,
            question_language="",
            answer_language=detect_language(checked.text),
            abstained=not cited,
            mode="generated",
            model=model,
            notes=notes,
            confidence=max((c.support for c in checked.claims), default=0.0),
        )


def _topic_of_a_period(query: Question, frame: TimeFrame | None) -> bool:
    """It asks for the news of something in a period: "Any news on Yemen yesterday?"."""
    dated = frame is not None and bool(frame.date_from)
    return dated and query.asks_for_news and bool(query.news_topic(frame))


def short_list(names: list[str], limit: int) -> str:
    """The first ``limit`` names, and how many more: "a, b, c +4"."""
    more = f" +{len(names) - limit}" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def _text(hit: Hit) -> str:
    return f"{hit.chunk.title} {hit.chunk.text}"


def _uncited(
    hits: list[Hit], cited: set[str], first_marker: int | None, citations: list[Citation] = ()
) -> list[Citation]:
    """Retrieved articles the answer does not cite (``cited``: article ids), each once, and
    none whose quote is already shown (the same wire story in two newspapers: its first).
    Generated answers keep the numbering the model saw; extractive ones number them after
    the cited sources."""
    uncited = []
    shown = set(cited)
    quoted = {_same(q.quote) for citation in citations for q in citation.quotes()}
    for position, hit in enumerate(hits, start=1):
        sentence = hit.best_sentence or hit.chunk.sentence_quotes()[0]
        if hit.chunk.article_id in shown or _same(sentence.text) in quoted:
            continue
        shown.add(hit.chunk.article_id)
        quoted.add(_same(sentence.text))
        marker = position if first_marker is None else first_marker + len(uncited) + 1
        uncited.append(Citation.quoting(marker, hit.chunk, sentence))
    return uncited


def _same(text: str) -> str:
    """A quote as compared with another: case and spacing aside."""
    return " ".join(text.split()).casefold()


def _source_header(hit: Hit) -> str:
    chunk = hit.chunk
    parts = [
        f"title: {chunk.title}" if chunk.title else "",
        f"source: {chunk.source}" if chunk.source else "",
        f"date: {chunk.date[:10]}" if chunk.date else "",
    ]
    return " | ".join(p for p in parts if p)
