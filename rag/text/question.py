"""A question, read once: what every stage of answering needs to know about it.

``Question.read(text)`` checks the text (``validate_question``); everything else is read
from it on first use and kept: its language, its script, its words, the names and numbers
it holds, the kind of answer it asks for (a number, a time), the months and years it names,
and the time frame it sets ("yesterday", "in July"). Retrieval, hit selection, the evidence
checks and abstention take the ``Question``, never the string, so a rule about questions
has one place to live.

A follow-up is searched in its stand-alone form (``standalone``, written by
``rag.answers.followup`` or a language model); ``searched`` is that form, read as a question of its
own. Retrieval adds the question's names with the Arabic spellings the index holds
(``with_spellings``), which the evidence checks read.

>>> q = Question.read("How many centrifuges did Iran keep in 2015?")
>>> q.language, q.asks_for, sorted(q.numbers), q.names
('en', 'number', ['2015'], ['Iran'])
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from functools import cached_property

from rag.text.arabic import detect_language, normalize, question_language, tokenize
from rag.text.dates import (
    MONTHS_AR,
    MONTHS_EN,
    WEEKDAYS_EN,
    TimeFrame,
    read_day,
    read_time,
)

MAX_QUESTION_CHARS = 2000
# control characters and bidi overrides: they carry no meaning for search and can hide text
_INVISIBLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")

_CAPITALISED = re.compile(r"\b[A-Z][A-Za-z]+\b")
_DIGITS = re.compile(r"\d+")
_YEAR = re.compile(r"\b(19\d\d|20\d\d)\b")
# capitalised words that are not names: question words, function words, months, weekdays
_NOT_NAME_TEXT = (
    "what who whom whose which when where why how did does do is are was were has have had "
    "the a an in on at of for to from by with and or but if as after before during since "
    "according can could would will should may might there this that these those it its "
    "i he she they we you his her their our mr mrs ms dr"
)
_NOT_NAMES = frozenset(_NOT_NAME_TEXT.split()) | frozenset(MONTHS_EN) | frozenset(WEEKDAYS_EN)
_MONTH_NAMES = [
    (number, name)
    for number, names in enumerate(zip(MONTHS_EN, MONTHS_AR, strict=True), start=1)
    for name in (names[0], *names[1])
]


def _asking(english: str, arabic: str) -> re.Pattern:
    """English patterns, and Arabic phrases (``|``-separated) as ``normalize`` spells them."""
    phrases = "|".join(normalize(phrase) for phrase in arabic.split("|"))
    return re.compile(rf"{english}|(^|\s)({phrases})(\s|$)")


_ASKS_NUMBER = _asking(
    r"\bhow (many|much|long|old|far)\b|\bwhat (percentage|number|amount|share|proportion)\b",
    "كم|بكم|ما عدد|ما حجم|ما نسبة|ما قيمة|ما مبلغ|ما مقدار",
)
_ASKS_TIME = _asking(
    r"\bwhen\b|\b(what|which|in which) (year|date|day|month)\b",
    "متى|في أي عام|في أي سنة|في أي يوم|في أي شهر|ما تاريخ",
)

Spellings = Mapping[str, tuple[str, ...]]  # a name -> its Arabic spellings in the index


def _keys(text: str) -> frozenset[str]:
    return frozenset(tokenize(text, stem=False))


# words that ask for the news itself ("what happened", «أخبار»), and the words around them
# that name no topic ("give me", "the main", «ما أبرز»): a question of only these (and a
# time) asks for the news of a period, with no topic
_NEWS = _keys(
    "news happened happen happening stories story headlines headline events "
    "أخبار الأخبار خبر حدث جرى أبرز أهم نشر مستجدات المستجدات عناوين أحداث"
)
# "new" alone is everywhere ("the new holding company"): only these ask for what is new
_WHATS_NEW = re.compile(r"\bwhat(?:'s| is) new\b|\banything new\b|ما الجديد|هل من جديد")
_AROUND_NEWS = _keys(
    "what whats s were was is are the a an me us give tell show any on in of for about "
    "made make main top biggest big most important all day days there and today today's new "
    "latest recent newest please "
    "ما ماذا هي هو في عن من على يوم و اليوم حول بشأن آخر أحدث الأحدث هل هناك لي أعطني "
    "أبرز أهم ال وما وماذا وهل"
) | _keys(" ".join([*MONTHS_EN, *WEEKDAYS_EN, *(n for ns in MONTHS_AR for n in ns)]))


@dataclass(frozen=True)
class Question:
    """A question's text, its stand-alone form, and what is read from it (on first use).

    ``standalone`` is "" when the question stands alone; ``spellings`` holds the names
    the index spells in Arabic, with those spellings (filled in by retrieval)."""

    text: str
    standalone: str = ""
    spellings: Spellings = field(default_factory=dict, compare=False)

    @classmethod
    def read(cls, text: str) -> Question:
        """The question (``ValueError`` when empty or too long, ``validate_question``)."""
        return cls(validate_question(text))

    def standing_alone_as(self, standalone: str) -> Question:
        """This question with its stand-alone form (a follow-up rewritten)."""
        return replace(self, standalone="" if standalone == self.text else standalone)

    @property
    def searched(self) -> Question:
        """The form to search: the stand-alone one, read as a question of its own."""
        if not self.standalone:
            return self
        return Question(self.standalone, spellings=self.spellings)

    def with_spellings(self, spellings: Spellings) -> Question:
        return replace(self, spellings=dict(spellings))

    @cached_property
    def language(self) -> str:
        """The language it is asked in ("en" for names alone in Latin letters)."""
        return question_language(self.text)

    @cached_property
    def script(self) -> str:
        """The language of its letters ("ar" or "en"), as passages are judged."""
        return detect_language(self.text)

    @cached_property
    def words(self) -> frozenset[str]:
        """Its matching keys (``rag.text.arabic.tokenize``, stemmed)."""
        return frozenset(tokenize(self.text))

    def terms(self, *, stem: bool = True) -> list[str]:
        """Its tokens in order, for BM25."""
        return tokenize(self.text, stem=stem)

    @cached_property
    def names(self) -> list[str]:
        """The capitalised words that are not question or function words, in order."""
        words = _CAPITALISED.findall(self.text)
        return list(dict.fromkeys(w for w in words if w.lower() not in _NOT_NAMES))

    @cached_property
    def numbers(self) -> frozenset[str]:
        """The numbers it holds (years too), Arabic-Indic digits read as ASCII."""
        return frozenset(_DIGITS.findall(self._normalized))

    @cached_property
    def asks_for(self) -> str | None:
        """``"time"`` ("when", «متى»), ``"number"`` ("how many", «كم») or ``None``."""
        if _ASKS_TIME.search(self._normalized):
            return "time"
        if _ASKS_NUMBER.search(self._normalized):
            return "number"
        return None

    @cached_property
    def times_named(self) -> list[tuple[int, int]]:
        """(year, month) for each year it names; month 1 when no month precedes it."""
        text, times = self._normalized, []
        for match in _YEAR.finditer(text):
            before = text[: match.start()].rstrip()
            month = next(
                (number for number, name in _MONTH_NAMES if before.endswith(normalize(name))), 1
            )
            times.append((int(match.group()), month))
        return times

    def time_frame(self, today: date) -> TimeFrame | None:
        """The dates it asks about, counted from ``today`` (``rag.text.dates.read_time``);
        in a question that asks for the news, a day it names too ("What happened on July
        29?", ``read_day``)."""
        frame = read_time(self.text, today)
        day = read_day(self.text, today) if self.asks_for_news else None
        if day is None:
            return frame
        return replace(day, newest_first=frame is not None and frame.newest_first)

    @cached_property
    def asks_for_news(self) -> bool:
        """It asks what happened, or for the news ("the latest on Yemen", «ما أخبار أمس؟»)."""
        return bool(_keys(self.text) & _NEWS) or bool(_WHATS_NEW.search(self._normalized))

    def news_topic(self, frame: TimeFrame | None) -> list[str]:
        """What a news question is about, beyond the news and its time (``frame``): [] for
        "What happened yesterday?", ["yemen"] for "Any news on Yemen yesterday?"."""
        said = _NEWS | _AROUND_NEWS | (_keys(frame.phrase) if frame else frozenset())
        return [
            word
            for word in tokenize(self.text, stem=False)
            if not word.isdigit() and word not in said and word.removeprefix("و") not in said
        ]

    @cached_property
    def _normalized(self) -> str:
        return normalize(self.text)


def as_question(question: Question | str) -> Question:
    """``question`` itself, or a string read as one (for callers that hold only text)."""
    return question if isinstance(question, Question) else Question(question)


def validate_question(question: str) -> str:
    """The question without control and bidi-override characters (they carry no meaning for
    search, and can disguise text); ``ValueError`` if it is empty or too long."""
    if not isinstance(question, str):
        raise ValueError("the question is empty")
    question = _INVISIBLE.sub("", question).strip()
    if not question:
        raise ValueError("the question is empty")
    if len(question) > MAX_QUESTION_CHARS:
        raise ValueError(
            f"the question is {len(question)} characters long; the limit is {MAX_QUESTION_CHARS}"
        )
    return question
