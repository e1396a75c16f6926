"""Names across scripts: "Araghchi" in an English question finds عراقجي in Arabic text.

BM25 cannot match an English question against Arabic articles, except on the names in it,
once they are spelled in Arabic script. Both spellings are reduced to a skeleton of
consonant classes (vowels and the letters Arabic uses for them dropped, sounds that the two
scripts render differently merged), and the English name takes the index's Arabic words
whose skeleton matches. Deliberately strict: only capitalised words, skeletons of at least
three consonants, an exact match (or the English plural's final s). A name whose Arabic form
is a translation rather than a spelling (Egypt, مصر; ISIS, داعش; Al-Hilal, الهلال) comes
from a table of countries, places, organisations and clubs in the news instead.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

from rag.text.arabic import tokenize

# Latin letter groups, longest first, with the consonant classes each may stand for
_LATIN = [
    ("sch", ("X",)), ("sh", ("X",)), ("ch", ("X", "J", "K")), ("kh", ("H",)),
    ("gh", ("K",)), ("th", ("T", "S", "D")), ("ph", ("F",)), ("dh", ("D",)), ("ck", ("K",)),
    ("ou", ("",)), ("ee", ("",)), ("oo", ("",)),
    ("b", ("B",)), ("p", ("B",)), ("t", ("T",)), ("d", ("D",)), ("j", ("J",)),
    ("g", ("K", "J")), ("k", ("K",)), ("q", ("K",)), ("c", ("K", "S")), ("x", ("KS",)),
    ("h", ("H",)), ("s", ("S",)), ("z", ("S",)), ("f", ("F",)), ("v", ("F",)),
    ("l", ("L",)), ("m", ("M",)), ("n", ("N",)), ("r", ("R",)), ("w", ("",)), ("y", ("",)),
    ("a", ("",)), ("e", ("",)), ("i", ("",)), ("o", ("",)), ("u", ("",)),
]  # fmt: skip
_ARABIC = {
    "ب": "B",
    "پ": "B",
    "ت": "T",
    "ط": "T",
    "ث": "S",
    "ج": "J",
    "چ": "J",
    "ح": "H",
    "خ": "H",
    "ه": "H",
    "د": "D",
    "ذ": "D",
    "ض": "D",
    "ر": "R",
    "ز": "S",
    "ظ": "S",
    "س": "S",
    "ص": "S",
    "ش": "X",
    "ف": "F",
    "ڤ": "F",
    "ق": "K",
    "ك": "K",
    "گ": "K",
    "غ": "K",
    "ل": "L",
    "م": "M",
    "ن": "N",
}  # fmt: skip  (alef, hamza, ain, waw, ya, ta marbuta: vowels or silent in names)
_CAPITALISED = re.compile(r"\b[A-Z][a-z]+(?:[A-Z][a-z]+)*\b")
_ACRONYM = re.compile(r"\b[A-Z]{2,}\b")
EXONYMS = Path(__file__).parent.parent / "data" / "exonyms.tsv"
MIN_CONSONANTS = 3
MAX_VARIANTS = 64


def arabic_skeleton(word: str) -> str:
    skeleton = "".join(_ARABIC.get(ch, "") for ch in word)
    if word.endswith("ه"):  # a final ha is usually a vowel in a foreign name
        skeleton = skeleton[:-1]
    return _squeeze(skeleton)


def latin_skeletons(word: str) -> set[str]:
    """Every skeleton the Latin spelling may stand for (a few, for ch, g, c, th)."""
    word, options = word.lower(), []
    while word:
        group, classes = (
            next((g, c) for g, c in _LATIN if word.startswith(g))
            if word[0].isalpha() and word[0] in "abcdefghijklmnopqrstuvwxyz"
            else (word[0], ("",))
        )
        options.append(classes)
        word = word[len(group) :]
    combos = itertools.islice(itertools.product(*options), MAX_VARIANTS)
    return {_squeeze("".join(c)) for c in combos}


class NameBridge:
    """Maps the capitalised Latin words of a question to Arabic words of a vocabulary."""

    def __init__(self, vocabulary: Iterable[str] = ()):
        self._by_skeleton: dict[str, list[str]] = defaultdict(list)
        self._known: set[str] = set()
        self.add(vocabulary)

    def add(self, words: Iterable[str]) -> None:
        """Learn the Arabic words among ``words`` (new articles' words, say)."""
        for word in words:
            if word and "\u0600" <= word[0] <= "\u06ff" and word not in self._known:
                self._known.add(word)
                skeleton = arabic_skeleton(word)
                if len(skeleton) >= MIN_CONSONANTS:
                    self._by_skeleton[skeleton].append(word)

    def arabic_words(self, text: str) -> list[str]:
        found: list[str] = []
        for name in [*_CAPITALISED.findall(text), *_ACRONYM.findall(text)]:
            translated = exonyms().get(name.lower())
            if translated is not None:  # Egypt is مصر: no skeleton would find it
                found += translated
                continue
            if name.isupper():  # an acronym is known by the table or not at all
                continue
            for skeleton in latin_skeletons(name):
                candidates = [skeleton]
                if skeleton.endswith("S"):  # Broncos -> برونكو
                    candidates.append(skeleton[:-1])
                for key in candidates:
                    if len(key) >= MIN_CONSONANTS:
                        found += self._by_skeleton.get(key, [])
        return list(dict.fromkeys(found))


@functools.cache
def exonyms() -> dict[str, list[str]]:
    """English names whose Arabic form is a translation ("Egypt", مصر; "ISIS", داعش), with
    those forms as the index keys them (``rag/data/exonyms.tsv``)."""
    table = {}
    for line in EXONYMS.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            english, forms = line.split("\t")
            keys = [key for form in forms.split("|") for stem in (True, False)
                    for key in tokenize(form, stem=stem)]  # fmt: skip
            table[english] = list(dict.fromkeys(keys))
    return table


def _squeeze(skeleton: str) -> str:
    """Doubled consonants count once (Mohammed, محمد)."""
    return re.sub(r"(.)\1+", r"\1", skeleton)
