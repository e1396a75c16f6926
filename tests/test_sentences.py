import pytest
from hypothesis import given
from hypothesis import strategies as st

from rag.news.documents import load
from rag.text.sentences import split_sentences
from tests.conftest import ENRICHMENT_SENTENCE, SEED_FILE


def sentences_of(text: str) -> list[str]:
    return [text[s.start : s.end] for s in split_sentences(text)]


def test_seed_article_splits_into_its_sentences():
    seed = next(iter(load([SEED_FILE])))
    sentences = sentences_of(f"{seed.title}\n{seed.text}")
    assert len(sentences) == 17  # the headline line and 16 sentences of the body
    enrichment = [s for s in sentences if ENRICHMENT_SENTENCE in s]
    assert enrichment == [
        "وقبل جولة ثانية من المحادثات من المقرر عقدها في روما يوم السبت، قال عراقجي أمس "
        "الأربعاء إن حق إيران في تخصيب اليورانيوم غير قابل للتفاوض."
    ]


def test_a_quotation_with_a_full_stop_inside_stays_one_sentence():
    text = SEED_FILE.read_text(encoding="utf-8")
    quoted = [s for s in sentences_of(text) if s.startswith("وقال عراقجي للتلفزيون")]
    assert len(quoted) == 1
    assert quoted[0].endswith("مع مسؤولين روس”.")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("هل انتهى؟ نعم! انتهى.", ["هل انتهى؟", "نعم!", "انتهى."]),
        ("قال، وأضاف؛ ثم سكت.", ["قال، وأضاف؛ ثم سكت."]),  # comma and semicolon are clauses
        ("ارتفع بنسبة 3.5 في المئة. ثم هبط.", ["ارتفع بنسبة 3.5 في المئة.", "ثم هبط."]),
        (
            "Mr. Smith visited the U.S. today. He left.",
            ["Mr. Smith visited the U.S. today.", "He left."],
        ),
        ("التقى د. محمد بالوزير. ثم غادر.", ["التقى د. محمد بالوزير.", "ثم غادر."]),
        ("قال «هذا جيد. جدا» ثم مشى. انتهى", ["قال «هذا جيد. جدا» ثم مشى.", "انتهى"]),
        ("See example.com now. Yes", ["See example.com now.", "Yes"]),
        ("انتهى الاجتماع۔ بدأ آخر", ["انتهى الاجتماع۔", "بدأ آخر"]),
        ('Really?!" he asked. Fine', ['Really?!" he asked.', "Fine"]),
        ("سطر أول\nسطر ثان", ["سطر أول", "سطر ثان"]),
        ("   ", []),
    ],
)
def test_split_sentences(text, expected):
    assert sentences_of(text) == expected


@given(st.text())
def test_splitter_never_crashes_and_spans_are_ordered_and_trimmed(text):
    spans = split_sentences(text)
    previous_end = 0
    for span in spans:
        assert previous_end <= span.start < span.end <= len(text)
        assert not text[span.start].isspace() and not text[span.end - 1].isspace()
        previous_end = span.end
