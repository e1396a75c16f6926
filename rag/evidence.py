"""What in a passage shows that it answers the question, beyond being on its topic.

A passage about the right story can still not hold the answer: the question's names or
numbers are missing from it, it has no number where the question asks "how many", or it was
published before the time the question asks about. These checks read the question and the
passage only, in either script: an English name counts as present when the passage spells
it in Arabic as the index does (``rag.transliteration``'s consonant skeletons), and digits
are compared after ``rag.arabic.normalize`` (Arabic-Indic digits become ASCII ones).
``rag.abstention`` weighs them with the retrieval signals.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from rag.arabic import normalize, tokenize
from rag.dates import MONTHS_AR, MONTHS_EN, WEEKDAYS_AR, WEEKDAYS_EN

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
_NUMBER_TEXT = (
    "one two three four five six seven eight nine ten eleven twelve twenty thirty forty "
    "fifty hundred thousand million billion dozen dozens hundreds thousands millions "
    "واحد اثنان اثنين ثلاث ثلاثة أربع أربعة خمس خمسة ست ستة سبع سبعة ثماني ثمانية تسع "
    "تسعة عشر عشرة عشرات عشرين ثلاثين أربعين خمسين مئة مائة مئات ألف آلاف ألفا مليون "
    "ملايين مليار مليارات نصف ربع ثلث"
)
_NUMBER_WORDS = frozenset(normalize(word) for word in _NUMBER_TEXT.split())
_TIME_WORDS = frozenset(
    normalize(word)
    for word in [*MONTHS_EN, *WEEKDAYS_EN, *WEEKDAYS_AR, "yesterday", "today", "أمس", "اليوم"]
    + [name for names in MONTHS_AR for name in names if " " not in name]
)
_TIME_PHRASES = [name for names in MONTHS_AR for name in names if " " in name]
_WORDS = re.compile(r"\w+")


def question_names(question: str) -> list[str]:
    """The capitalised words of a question that are not question or function words."""
    words = _CAPITALISED.findall(question)
    return list(dict.fromkeys(w for w in words if w.lower() not in _NOT_NAMES))


def names_missing(names: Mapping[str, Sequence[str]], passage: str) -> int:
    """How many of the question's ``names`` the passage holds in neither script. ``names``
    maps each name to its Arabic spellings found in the index (``Retriever.search`` reads
    them); a name the index never spells (a translated word such as "Turkish", or one too
    short to bridge) tells nothing and is not there to miss."""
    if not names:
        return 0
    words = set(tokenize(passage)) | set(tokenize(passage, stem=False))  # as indexes store it
    return sum(
        1
        for name, spellings in names.items()
        if normalize(name) not in words and not words.intersection(spellings)
    )


def numbers_missing(question: str, passage: str) -> int:
    """How many of the question's numbers (years included) the passage does not hold."""
    wanted = set(_DIGITS.findall(normalize(question)))
    return len(wanted - set(_DIGITS.findall(normalize(passage)))) if wanted else 0


def answer_type_missing(question: str, sentence: str) -> bool:
    """The question asks for a number or a time and the sentence holds none."""
    asked, text = normalize(question), normalize(sentence)
    words = set(_WORDS.findall(text))
    has_digits = bool(_DIGITS.search(text))
    if _ASKS_TIME.search(asked):
        return not (has_digits or words & _TIME_WORDS or any(m in text for m in _TIME_PHRASES))
    if _ASKS_NUMBER.search(asked):
        return not (has_digits or words & _NUMBER_WORDS)
    return False


def asks_after(question: str, published: str) -> bool:
    """The question names a month or year later than the passage's publication date
    ("YYYY-MM-DD..."): an article cannot report what had not happened yet."""
    if len(published) < 7 or not published[:4].isdigit() or not published[5:7].isdigit():
        return False
    written = (int(published[:4]), int(published[5:7]))
    return any(asked > written for asked in _times_named(normalize(question)))


def _times_named(text: str) -> list[tuple[int, int]]:
    """(year, month) for each year the text names; month 1 when no month precedes it."""
    times = []
    for match in _YEAR.finditer(text):
        before = text[: match.start()].rstrip()
        month = next(
            (number for number, name in _MONTH_NAMES if before.endswith(normalize(name))), 1
        )
        times.append((int(match.group()), month))
    return times
