"""What in a passage shows that it answers the question, beyond being on its topic.

A passage about the right story can still not hold the answer: the question's names or
numbers are missing from it, it has no number where the question asks "how many", or it was
published before the time the question asks about. These checks read the question (a
``rag.text.question.Question``: its names, numbers and the answer type it asks for) and the
passage only, in either script: an English name counts as present when the passage spells
it in Arabic as the index does (``rag.text.transliteration``'s consonant skeletons), and digits
are compared after ``rag.text.arabic.normalize`` (Arabic-Indic digits become ASCII ones).
``rag.answers.abstention`` weighs them with the retrieval signals.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from rag.text.arabic import normalize, tokenize
from rag.text.dates import MONTHS_AR, MONTHS_EN, WEEKDAYS_AR, WEEKDAYS_EN
from rag.text.question import Question, as_question

_DIGITS = re.compile(r"\d+")

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


def numbers_missing(question: Question | str, passage: str) -> int:
    """How many of the question's numbers (years included) the passage does not hold."""
    wanted = as_question(question).numbers
    return len(wanted - set(_DIGITS.findall(normalize(passage)))) if wanted else 0


def answer_type_missing(question: Question | str, sentence: str) -> bool:
    """The question asks for a number or a time and the sentence holds none."""
    asked = as_question(question).asks_for
    if asked is None:
        return False
    text = normalize(sentence)
    words = set(_WORDS.findall(text))
    has_digits = bool(_DIGITS.search(text))
    if asked == "time":
        return not (has_digits or words & _TIME_WORDS or any(m in text for m in _TIME_PHRASES))
    return not (has_digits or words & _NUMBER_WORDS)


def asks_after(question: Question | str, published: str) -> bool:
    """The question names a month or year later than the passage's publication date
    ("YYYY-MM-DD..."): an article cannot report what had not happened yet."""
    if len(published) < 7 or not published[:4].isdigit() or not published[5:7].isdigit():
        return False
    written = (int(published[:4]), int(published[5:7]))
    return any(asked > written for asked in as_question(question).times_named)
