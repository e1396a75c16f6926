"""Names across scripts: "Araghchi" in an English question finds عراقجي in Arabic text.

BM25 cannot match an English question against Arabic articles, except on the names in it,
once they are spelled in Arabic script. Both spellings are reduced to a skeleton of
consonant classes (vowels and the letters Arabic uses for them dropped, sounds that the two
scripts render differently merged), and the English name takes the index's Arabic words
whose skeleton matches. Deliberately strict: only capitalised words, skeletons of at least
three consonants, an exact match (or the English plural's final s).
"""

from __future__ import annotations

import itertools
import re
from collections import defaultdict
from collections.abc import Iterable

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
        for name in _CAPITALISED.findall(text):
            for skeleton in latin_skeletons(name):
                candidates = [skeleton]
                if skeleton.endswith("S"):  # Broncos -> برونكو
                    candidates.append(skeleton[:-1])
                for key in candidates:
                    if len(key) >= MIN_CONSONANTS:
                        found += self._by_skeleton.get(key, [])
        return list(dict.fromkeys(found))


def _squeeze(skeleton: str) -> str:
    """Doubled consonants count once (Mohammed, محمد)."""
    return re.sub(r"(.)\1+", r"\1", skeleton)
