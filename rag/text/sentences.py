"""Sentence splitting that knows Arabic and English news punctuation.

Sentences end at ``. ! ? ؟ ۔ …`` and at line breaks. A full stop between digits (3.5),
after a single letter or a known abbreviation (U.S., Mr., د.) or inside a quotation
(“…”, «…», "…") does not end a sentence. The Arabic comma ``،`` and semicolon ``؛`` are
clause marks, not sentence ends. Spans index the original text, which is never altered.

>>> text = "قال 3.5 مليون. وأضاف “نعم. لا”. Done!"
>>> [text[s.start:s.end] for s in split_sentences(text)]
['قال 3.5 مليون.', 'وأضاف “نعم. لا”.', 'Done!']
"""

from __future__ import annotations

from rag.types import Span

_ENDERS = frozenset(".!?؟۔…")
_CLOSERS = frozenset("”»’\"')]}")
_OPEN_TO_CLOSE = {"“": "”", "«": "»", "(": ")", '"': '"'}
_ABBREVIATIONS = frozenset(
    {
        *("mr", "mrs", "ms", "dr", "prof", "st", "no", "vs", "etc", "jr", "sr", "inc", "ltd"),
        *("co", "gen", "col", "lt", "sgt", "gov", "sen", "rep", "jan", "feb", "mar", "apr"),
        *("jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "u.s", "u.k", "u.n", "e.g"),
        *("i.e", "a.m", "p.m", "د", "م", "ص", "ق", "هـ"),
    }
)
# A quotation left open longer than this is treated as a stray quote mark.
_MAX_QUOTE_CHARS = 600


def split_sentences(text: str) -> list[Span]:
    """Spans of the sentences of ``text``, stripped of surrounding white space."""
    spans: list[Span] = []
    for line_start, line_end in _lines(text):
        spans.extend(_split_line(text, line_start, line_end))
    return spans


def _lines(text: str):
    start = 0
    for i, ch in enumerate(text):
        if ch in "\n\r\u2028\u2029":
            yield start, i
            start = i + 1
    yield start, len(text)


def _split_line(text: str, start: int, end: int) -> list[Span]:
    spans = []
    sentence_start = start
    open_quotes: list[tuple[str, int]] = []  # expected closer, where it opened
    i = start
    while i < end:
        ch = text[i]
        if open_quotes and i - open_quotes[-1][1] > _MAX_QUOTE_CHARS:
            open_quotes.clear()
        if open_quotes and ch == open_quotes[-1][0]:
            open_quotes.pop()
        elif ch in _OPEN_TO_CLOSE:
            open_quotes.append((_OPEN_TO_CLOSE[ch], i))
        elif ch in _ENDERS and not open_quotes:
            if _is_false_stop(text, i, end):
                i += 1
                continue
            after = _absorb_closers(text, i + 1, end)
            if not _continues_lowercase(text, after, end):
                spans.append(Span(sentence_start, after))
                sentence_start = after
            i = after  # the closers belong to this sentence either way
            continue
        i += 1
    spans.append(Span(sentence_start, end))
    stripped = (_strip(text, s) for s in spans)
    return [s for s in stripped if s.end > s.start]


def _absorb_closers(text: str, i: int, end: int) -> int:
    """Move past further stops and closing quotes/brackets that belong to this sentence."""
    while i < end and (text[i] in _ENDERS or text[i] in _CLOSERS):
        i += 1
    return i


def _continues_lowercase(text: str, i: int, end: int) -> bool:
    """A Latin lowercase word after the stop means the sentence goes on ("?!" he asked)."""
    while i < end and text[i].isspace():
        i += 1
    return i < end and text[i].islower()


def _is_false_stop(text: str, i: int, end: int) -> bool:
    if text[i] != ".":
        return False
    before = text[i - 1] if i > 0 else ""
    after = text[i + 1] if i + 1 < end else ""
    if before.isdigit() and after.isdigit():
        return True  # a decimal: 3.5
    if after and not after.isspace() and after not in _CLOSERS and after not in _ENDERS:
        return True  # inside a token: U.S.A, example.com, 1.2.3
    word = _word_before(text, i)
    if len(word) == 1 and word.isalpha():
        return True  # an initial: J. Smith, د. محمد
    return word.casefold() in _ABBREVIATIONS


def _word_before(text: str, i: int) -> str:
    j = i
    while j > 0 and (text[j - 1].isalnum() or text[j - 1] == "."):
        j -= 1
    return text[j:i]


def _strip(text: str, span: Span) -> Span:
    start, end = span.start, span.end
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return Span(start, end)
