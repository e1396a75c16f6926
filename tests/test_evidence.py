"""The evidence a passage holds for a question, in either script (rag.answers.evidence)."""

import pytest

from rag.answers.evidence import (
    answer_type_missing,
    asks_after,
    names_missing,
    numbers_missing,
)
from rag.text.question import Question


def question_names(question: str) -> list[str]:
    return Question(question).names


SEED_SENTENCE = "قال عراقجي أمس الأربعاء إن حق إيران في تخصيب اليورانيوم غير قابل للتفاوض."


def test_names_are_capitalised_words_that_are_not_question_words_months_or_weekdays():
    question = "What did Araghchi tell Putin on Monday in April, and Did the US agree?"
    assert question_names(question) == ["Araghchi", "Putin", "US"]
    assert question_names("ماذا قال عراقجي؟") == []


SPELLINGS = {"Araghchi": ("عراقجي",), "Zarif": ("ظريف",), "Lavrov": ("لافروف",)}


@pytest.mark.parametrize(
    "question, passage, missing",
    [
        ("What did Araghchi say about enrichment?", SEED_SENTENCE, 0),  # across scripts
        ("What did Zarif say about enrichment?", SEED_SENTENCE, 1),
        ("What did Araghchi tell Lavrov?", SEED_SENTENCE, 1),
        ("What did Araghchi say?", "Araghchi said the talks would go on.", 0),  # same script
        ("What did Turkish Araghchi say?", SEED_SENTENCE, 0),  # the index never spells Turkish
        ("ماذا قال عراقجي؟", "نص لا يذكر أحدا", 0),  # no Latin names to look for
    ],
)
def test_a_name_counts_as_present_in_either_script(question, passage, missing):
    names = {name: SPELLINGS[name] for name in question_names(question) if name in SPELLINGS}
    assert names_missing(names, passage) == missing


def test_numbers_are_compared_across_digit_forms_and_years_count():
    assert numbers_missing("How many died on 26 October 2015?", "قتل ٢٦ شخصا عام 2015") == 0
    assert numbers_missing("How many died on 26 October 2015?", "قتل ٢٦ شخصا") == 1
    assert numbers_missing("كم عدد القتلى في ٢٠١٥؟", "في 2015 قتل") == 0
    assert numbers_missing("What did he say?", "no numbers") == 0


@pytest.mark.parametrize(
    "question, sentence, missing",
    [
        ("How many people died?", "Dozens of people died.", False),
        ("How many people died?", "People died in the fire.", True),
        ("كم بلغ عدد الضحايا؟", "قتل 12 شخصا", False),
        ("كم بلغ عدد الضحايا؟", "قتل عشرات الأشخاص", False),
        ("كم بلغ عدد الضحايا؟", "قتل الأشخاص في الحريق", True),
        ("When did the talks start?", "The talks started in August.", False),
        ("متى بدأت المحادثات؟", "بدأت المحادثات يوم الأربعاء", False),
        ("متى بدأت المحادثات؟", "بدأت المحادثات في روما", True),
        ("What did Araghchi say about enrichment?", "بدأت المحادثات في روما", False),
    ],
)
def test_a_question_asking_for_a_number_or_a_time_needs_one_in_the_sentence(
    question, sentence, missing
):
    assert answer_type_missing(question, sentence) is missing


@pytest.mark.parametrize(
    "question, published, after",
    [
        ("What did Aramco report for 2016?", "2015-08-01", True),
        ("ما مدة الإيقاف التي فرضت في ديسمبر 2015؟", "2015-08-01", True),
        ("How many died on 26 October 2015?", "2015-08-01 10:00:00", True),
        ("What happened in August 2015?", "2015-08-01", False),  # the same month: may report
        ("What happened in 2015?", "2015-08-01", False),
        ("What happened in 2014?", "2015-08-01", False),
        ("What happened in December 2015?", "", False),  # no date: nothing to compare
        ("What did he say?", "2015-08-01", False),
    ],
)
def test_a_question_about_a_time_after_the_article_was_written_is_noticed(
    question, published, after
):
    assert asks_after(question, published) is after


@pytest.mark.parametrize(
    "text, language, asks_for, numbers",
    [
        ("How many centrifuges did Iran keep in ٢٠١٥?", "en", "number", {"2015"}),
        ("متى وقع الاتفاق النووي؟", "ar", "time", set()),
        ("ماذا قال Araghchi عن التخصيب؟", "ar", None, set()),  # a Latin name in Arabic
        ("Araghchi", "en", None, set()),  # a name alone, in Latin letters
    ],
)
def test_a_question_is_read_once_for_every_stage(text, language, asks_for, numbers):
    question = Question.read(f"\u202e{text} ")
    assert question.text == text  # the bidi override and the space are gone
    assert (question.language, question.asks_for, set(question.numbers)) == (
        language, asks_for, numbers,
    )  # fmt: skip


def test_a_follow_up_is_searched_in_its_standalone_form():
    question = Question.read("and Zarif?").standing_alone_as("and Zarif? (قال عراقجي تخصيب)")
    assert question.searched.text == "and Zarif? (قال عراقجي تخصيب)"
    assert question.names == ["Zarif"] and question.searched.words >= {"عراقجي"}
    alone = Question.read("What did Araghchi say?").standing_alone_as("What did Araghchi say?")
    assert alone.searched is alone


def test_a_question_is_refused_when_empty_or_too_long():
    with pytest.raises(ValueError, match="empty"):
        Question.read("\u202e \u202a\x07")
    with pytest.raises(ValueError, match="limit is 2000"):
        Question.read("x" * 2001)
