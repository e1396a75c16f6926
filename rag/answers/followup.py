"""Turning a follow-up question into a standalone one before retrieval.

With a language model: the model rewrites it (``prompts/condense_question.md``).
Without one, a documented rule: a question that starts like a follow-up ("and ...",
"what about ...", "و ...", "وماذا ...", "ماذا عن ...") or has fewer than three content words
gets the content words of the previous user question appended, so retrieval keeps the topic.
"""

from __future__ import annotations

import re

from rag.text.arabic import normalize, tokenize

_FOLLOW_UP_WORDS = (
    "and|also|what about|how about|but|so|then|وماذا عن|وماذا|وما|ماذا عن|وهل|وكيف|ومن|و"
)
_FOLLOW_UP_START = re.compile(rf"^\s*({_FOLLOW_UP_WORDS})(\s|$)", re.IGNORECASE)


def previous_user_question(history: list[dict]) -> str:
    for message in reversed(history):
        if message.get("role") == "user" and str(message.get("content", "")).strip():
            return str(message["content"])
    return ""


def looks_like_follow_up(question: str) -> bool:
    return bool(_FOLLOW_UP_START.match(normalize(question))) or len(tokenize(question)) < 3


def rewrite_by_rule(question: str, history: list[dict]) -> str:
    """The question, with the previous question's content words appended if it is a follow-up."""
    previous = previous_user_question(history)
    if not previous or not looks_like_follow_up(question):
        return question
    missing = [w for w in tokenize(previous, stem=False) if w not in tokenize(question, stem=False)]
    return f"{question} ({' '.join(missing)})" if missing else question


def format_history(history: list[dict], limit: int = 6) -> str:
    lines = []
    for message in history[-limit:]:
        role = "User" if message.get("role") == "user" else "Assistant"
        lines.append(f"{role}: {str(message.get('content', '')).strip()[:1000]}")
    return "\n".join(lines)
