"""Turning a follow-up question into a standalone one before retrieval.

With a language model: the model rewrites it (``prompts/condense_question.md``).
Without one, a documented rule: a question that starts like a follow-up ("and ...",
"what about ...", "و ...", "وماذا ...", "ماذا عن ...") or has fewer than three content words
gets the content words of the previous user question appended, so retrieval keeps the topic.

Either way a follow-up's time is its own: a time phrase it has wins, and one it lacks is not
carried over from the earlier question, unless it refers back to that time ("and the day
before?"). A model's rewrite that adds a time the question lacks is set aside for the rule's.
"""

from __future__ import annotations

import re
from datetime import date

from rag.text.arabic import normalize, tokenize
from rag.text.dates import MONTHS_AR, MONTHS_EN, WEEKDAYS_AR, WEEKDAYS_EN, read_time
from rag.text.question import Question

_FOLLOW_UP_WORDS = (
    "and|also|what about|how about|but|so|then|وماذا عن|وماذا|وما|ماذا عن|وهل|وكيف|ومن|و"
)
_FOLLOW_UP_START = re.compile(rf"^\s*({_FOLLOW_UP_WORDS})(\s|$)", re.IGNORECASE)
_TIME_WORDS = frozenset(  # as tokenize keys them; a two-word month name is left whole
    key
    for word in [*MONTHS_EN, *WEEKDAYS_EN, *WEEKDAYS_AR, *(n for ns in MONTHS_AR for n in ns)]
    if " " not in word
    for key in tokenize(word, stem=False)
)

# "and the day before?", «وفي اليوم التالي؟»: a time told against the earlier question's
_REFERS_BACK_IN_TIME = re.compile(
    r"\b(before|after|earlier|previous|next|following|same day|that day|that week|then)\b"
    r"|قبل|بعد|السابق|التالي|نفسه|ذلك اليوم",
    re.IGNORECASE,
)


def previous_user_question(history: list[dict]) -> str:
    for message in reversed(history):
        if message.get("role") == "user" and str(message.get("content", "")).strip():
            return str(message["content"])
    return ""


def looks_like_follow_up(question: str) -> bool:
    return bool(_FOLLOW_UP_START.match(normalize(question))) or len(tokenize(question)) < 3


def rewrite_by_rule(question: str, history: list[dict]) -> str:
    """The question, with the previous question's content words appended if it is a
    follow-up. Never its words of time: "And the latest news?" after "yesterday's news"
    asks for the latest, not for yesterday's (a time phrase of the new question wins, and
    one it lacks is not carried over)."""
    previous = previous_user_question(history)
    if not previous or not looks_like_follow_up(question):
        return question
    asked = tokenize(question, stem=False)
    missing = [w for w in tokenize(previous, stem=False) if w not in asked and not _of_time(w)]
    return f"{question} ({' '.join(missing)})" if missing else question


def adds_time(rewritten: str, question: str, today: date) -> bool:
    """The rewrite asks about days the question neither names nor refers back to (or other
    days than those it names)."""
    rewritten_frame = Question.read(rewritten).time_frame(today)
    if rewritten_frame is None or not rewritten_frame.date_from:
        return False
    own = Question.read(question).time_frame(today)
    if own is not None and own.date_from:
        return (own.date_from, own.date_to) != (rewritten_frame.date_from, rewritten_frame.date_to)
    return not _REFERS_BACK_IN_TIME.search(question)


def _of_time(word: str) -> bool:
    """A word that names a time on its own ("yesterday", «أمس», "july", «الخميس»)."""
    return word in _TIME_WORDS or read_time(word, date(2000, 1, 1)) is not None


def format_history(history: list[dict], limit: int = 6) -> str:
    lines = []
    for message in history[-limit:]:
        role = "User" if message.get("role") == "user" else "Assistant"
        lines.append(f"{role}: {str(message.get('content', '')).strip()[:1000]}")
    return "\n".join(lines)
