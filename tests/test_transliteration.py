"""Names across scripts: English spellings meet the Arabic ones by consonant skeleton."""

import pytest

from rag.text.transliteration import NameBridge, arabic_skeleton, latin_skeletons

PAIRS = [
    ("Araghchi", "عراقجي"),
    ("Denver", "دنفر"),
    ("Broncos", "برونكوز"),
    ("Putin", "بوتين"),
    ("Khamenei", "خامنئي"),
    ("Carolina", "كارولينا"),
    ("Panthers", "بانثرز"),
    ("Beyonce", "بيونسيه"),
    ("Tesla", "تسلا"),
    ("Mohammed", "محمد"),
]


@pytest.mark.parametrize(("latin", "arabic"), PAIRS)
def test_a_name_and_its_arabic_spelling_share_a_skeleton(latin, arabic):
    assert arabic_skeleton(arabic) in latin_skeletons(latin)


def test_the_bridge_finds_only_names_of_three_consonants_or_more():
    bridge = NameBridge(["عراقجي", "دنفر", "برونكو", "تخصيب", "روما", "english", ""])
    assert bridge.arabic_words("What did Araghchi say about enrichment?") == ["عراقجي"]
    assert bridge.arabic_words("Did the Denver Broncos win?") == ["دنفر", "برونكو"]
    assert bridge.arabic_words("what did araghchi say") == []  # not capitalised: not a name
    assert bridge.arabic_words("Is Rome near Oslo?") == []  # two consonants: too loose
    assert bridge.arabic_words("Is Rome in Italy?") == ["ايطاليا"]  # a translation, by the table
