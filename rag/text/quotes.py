"""Which sentences of an article are worth quoting as an answer.

An answer quotes what an article says, never the lines around it: a dateline or byline
(«عين اليوم – سنغافورة», «سبق- متابعة:»), a photo caption («(تصوير: سامي الغامدي)»), a line
of verse («وليسَ الذئبُ يأكلُ لحمَ ذئبٍ ويأكلُ بعضنا بعضاً عيانا», «الناس فى بلدي يصنعون الحب..»),
or a fragment of a list («2- شالكة (ألمانيا): 5 نقاط»). What marks them:

- a **dateline**: a few words around a dash, or ending in a colon;
- a **short unfinished line**: fewer than ``SHORT_WORDS`` words that do not end as a sentence
  does (a full stop, a question or exclamation mark), or trail off (".."), or start with a
  list marker (a dash, a bullet, "2-"): a caption, a name, a heading, a verse, an item;
- **verse**: a short unfinished line vowelled throughout, as poetry is printed (prose marks a
  vowel here and there, on a word that would be misread; an encyclopedia vowels a whole
  opening sentence, which is long and ends with a full stop).

>>> worth_quoting("قال الوزير إن الاتفاق جيد جدا للجميع.")
True
>>> worth_quoting("عين اليوم – سنغافورة"), worth_quoting("سلوفينيا..")
(False, False)
"""

from __future__ import annotations

import re

WORD = re.compile(r"[^\W_\u0640]+")  # a letter or digit: a dash drawn with tatweel is none
DATELINE_WORDS = 6
SHORT_WORDS = 8
_DATELINE = re.compile(r"\s[-–—]|[-–—]\s|:\s*$")
_LIST_MARKER = re.compile(r"^\s*(?:[-–—•*●▪]+|\(?\d{1,2}\s*[-.)]|\(?[أ-ي]\s*[-)])\s*")
_CLOSERS = "”»’\"')]} "
_SENTENCE_END = re.compile(r"(?<!\.)[.!?؟]$")
_VOWEL_MARKS = re.compile(r"[\u064b-\u0652]")  # tanwin, fatha, damma, kasra, shadda, sukun
_LETTERS = re.compile(r"[\u0621-\u064a]")
VERSE_MARKS = 4  # a vowelled line has at least this many marks ...
VERSE_DENSITY = 0.12  # ... at least this many per letter
VERSE_WORDS = 16  # and a verse, two half-lines, is shorter than this


def words(text: str) -> list[str]:
    return WORD.findall(text)


def is_dateline(text: str) -> bool:
    """A line of a few words around a dash, or ending in a colon: where and by whom
    (a dateline, a byline, a section heading), never what was said."""
    return len(words(text)) <= DATELINE_WORDS and bool(_DATELINE.search(text))


def is_fragment(text: str) -> bool:
    """A short line that is not a finished sentence: a caption, a name, a heading, a verse
    or a list item."""
    if len(words(text)) >= SHORT_WORDS:
        return False
    return not _finished(text) or bool(_LIST_MARKER.match(text))


def is_verse(text: str) -> bool:
    """Short, unfinished and vowelled throughout, as poetry is printed."""
    if len(words(text)) >= VERSE_WORDS or _finished(text):
        return False
    marks = len(_VOWEL_MARKS.findall(text))
    return marks >= VERSE_MARKS and marks >= VERSE_DENSITY * len(_LETTERS.findall(text))


def _finished(text: str) -> bool:
    """It ends as a sentence does: a full stop (not "..") or a question or exclamation mark."""
    return bool(_SENTENCE_END.search(text.rstrip(_CLOSERS)))


def worth_quoting(text: str) -> bool:
    return not (is_dateline(text) or is_fragment(text) or is_verse(text))
