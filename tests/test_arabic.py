import pytest
from hypothesis import given
from hypothesis import strategies as st

from rag.text.arabic import _fold_once, detect_language, light_stem, normalize, tokenize, word_set

# Arabic letters, marks, tatweel, presentation forms, digits and Latin: the characters whose
# folding interacts (a removed tatweel can free a mark that NFKC then composes).
ARABIC_ISH = st.text(
    st.sampled_from(
        [chr(c) for c in range(0x0610, 0x0660)]
        + ["\u0670", "\u06c0", "\u06cc", "\u06a9"]
        + [chr(c) for c in range(0xFE70, 0xFE80)]
        + list("٣۵ Aa İß.،")
    ),
    max_size=12,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("أَعْلَنَ", "اعلن"),  # diacritics
        ("الـــرسالة", "الرساله"),  # tatweel
        ("أحمد إيران آمن ٱلله", "احمد ايران امن الله"),  # alef and hamza forms
        ("مؤتمر رئيس", "موتمر رييس"),  # hamza on waw / yeh
        ("مستشفى", "مستشفي"),  # alef maqsura
        ("مدرسة", "مدرسه"),  # ta marbuta
        ("٢٠١٥ ۲۰۱۵", "2015 2015"),  # Arabic-Indic and extended digits
        ("Araghchi SAID", "araghchi said"),  # Latin casefold
    ],
)
def test_normalize_folds_spelling_variants(raw, expected):
    assert normalize(raw) == expected


@given(st.text())
def test_normalize_is_idempotent(text):
    once = normalize(text)
    assert normalize(once) == once


@given(st.one_of(st.text(), ARABIC_ISH))
def test_normalize_is_folding_until_nothing_changes(text):
    reference = text
    for _ in range(4):
        folded = _fold_once(reference)
        if folded == reference:
            break
        reference = folded
    assert normalize(text) == reference


@given(st.one_of(st.text(), ARABIC_ISH))
def test_word_set_is_the_set_of_unstemmed_tokens(text):
    assert word_set(text) == set(tokenize(text, stem=False))


def test_normalize_leaves_the_original_untouched():
    original = "إيرانُ"
    normalize(original)
    assert original == "إيرانُ"


@pytest.mark.parametrize(
    ("word", "stem"),
    [
        ("والتخصيب", "تخصيب"),
        ("بالقصف", "قصف"),
        ("للتفاوض", "تفاوض"),
        ("وزير", "زير"),
        ("محادثات", "محادث"),
        ("من", "من"),
        ("ال", "ال"),
    ],
)
def test_light_stem_strips_proclitics_and_plural_suffixes(word, stem):
    assert light_stem(word) == stem


def test_tokenize_matches_question_and_passage_forms():
    question = tokenize("ماذا قال عراقجي عن تخصيب اليورانيوم؟")
    passage = tokenize("قال عراقجي إن حق إيران في تخصيب اليورانيوم غير قابل للتفاوض")
    assert {"قال", "عراقجي", "تخصيب", "يورانيوم"} <= set(question) & set(passage)


def test_tokenize_drops_stopwords():
    assert tokenize("What did he say about the deal?") == ["he", "say", "deal"]


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("ماذا قال عراقجي؟", "ar"),
        ("What did Araghchi say?", "en"),
        ("قال Trump إن", "ar"),
        ("", "en"),
    ],
)
def test_detect_language(text, language):
    assert detect_language(text) == language


@pytest.mark.parametrize(
    ("question", "language"),
    [
        ("أين يقع Energiprojekt AB؟", "ar"),  # a Latin name longer than the Arabic around it
        ("ما هو GDP؟", "ar"),
        ("NATO و روسيا", "ar"),
        ("ماذا قال عراقجي عن التخصيب؟", "ar"),
        ("What did عراقجي say about enrichment?", "en"),  # an Arabic name in English
        ("What did Araghchi say about enrichment?", "en"),
        ("Who Won?", "en"),
        ("IBM", "en"),
    ],
)
def test_the_language_a_question_was_asked_in_ignores_names(question, language):
    from rag.text.arabic import question_language

    assert question_language(question) == language
