"""Greetings, thanks, farewells and questions about the assistant itself.

A news quote is no reply to "hi": these get a short reply in the user's language, without a
search and without sources. Only a message that is nothing but such a phrase counts (after
folding case, Arabic spelling and punctuation), so a real question that starts with
"thanks" or "hello" is still searched.
"""

from __future__ import annotations

import re

from rag.text.arabic import normalize

# reply kind -> phrases (a reply kind's template is prompts/conversation_<kind>.<lang>.md)
_PHRASES = {
    "greeting": [
        "hi", "hello", "hey", "hi there", "hello there", "hey there", "greetings", "yo",
        "good morning", "good afternoon", "good evening", "how are you", "how are you doing",
        "hows it going", "how is it going", "ok", "okay", "cool", "great", "nice",
        "مرحبا", "مرحبا بك", "مرحبتين", "اهلا", "اهلا وسهلا", "اهلين", "هلا", "السلام عليكم",
        "سلام", "صباح الخير", "مساء الخير", "كيف حالك", "كيف الحال", "كيفك", "تمام", "حسنا",
        "طيب", "ممتاز",
    ],
    "thanks": [
        "thanks", "thank you", "thanks a lot", "thank you very much", "many thanks", "thx",
        "ty", "cheers", "شكرا", "شكرا جزيلا", "شكرا لك", "مشكور", "الف شكر",
        "جزاك الله خيرا",
    ],
    "farewell": [
        "bye", "goodbye", "bye bye", "see you", "see you later", "good night",
        "مع السلامة", "وداعا", "الى اللقاء", "تصبح على خير", "في امان الله",
    ],
    "about": [
        "what can you do", "who are you", "what are you", "help", "what is this",
        "how do i use this", "how does this work", "what do you know", "what can i ask",
        "what can i ask you", "what do you do",
        "ماذا تستطيع ان تفعل", "ماذا يمكنك ان تفعل", "ماذا تفعل", "من انت", "ما انت",
        "مساعدة", "ماذا تعرف", "ماذا يمكنني ان اسال", "كيف استخدمك", "ما هذا",
    ],
}  # fmt: skip
_ORDER = ("about", "farewell", "thanks", "greeting")  # the reply a combination gets
_NOT_WORDS = re.compile(r"[^\w\s]+")


def _key(text: str) -> str:
    words = _NOT_WORDS.sub(" ", normalize(text).replace("'", "")).split()
    return " ".join(w for w in words if not w.isdigit())


_KINDS = {_key(phrase): kind for kind, phrases in _PHRASES.items() for phrase in phrases}
_LONGEST = max(len(key.split()) for key in _KINDS)


def conversation_kind(message: str) -> str | None:
    """``greeting``, ``thanks``, ``farewell`` or ``about`` when ``message`` is only such
    phrases ("hi", "thanks, bye", "مرحبا، ماذا تستطيع أن تفعل؟"); ``None`` for anything else."""
    words = _key(message).split()
    if not words or len(words) > 3 * _LONGEST:
        return None
    kinds, start = set(), 0
    while start < len(words):  # the longest phrase at each place
        for end in range(min(len(words), start + _LONGEST), start, -1):
            kind = _KINDS.get(" ".join(words[start:end]))
            if kind:
                kinds.add(kind)
                start = end
                break
        else:
            return None  # a word that is no pleasantry: a question to search
    return next(kind for kind in _ORDER if kind in kinds)
