"""Greetings and small talk get a short reply in the user's language, without sources."""

from __future__ import annotations

import re

import pytest

from rag.answers.smalltalk import conversation_kind
from tests.conftest import ENRICHMENT_SENTENCE

SMALL_TALK = [  # 40 messages, 20 in each language
    "hi", "Hello!", "hey there", "Good morning", "good evening :)", "How are you?",
    "thanks", "Thank you very much!!", "thx", "Cheers", "bye", "Goodbye!", "see you later",
    "ok", "Great", "What can you do?", "who are you?", "help", "hi, what can you do?",
    "thanks, bye",
    "مرحبا", "أهلاً وسهلاً", "السلام عليكم", "صباح الخير", "مساء الخير", "كيف حالك؟",
    "شكرا", "شكراً جزيلاً", "مشكور", "جزاك الله خيراً", "مع السلامة", "وداعاً",
    "إلى اللقاء", "تمام", "حسناً", "ماذا تستطيع أن تفعل؟", "من أنت؟", "مساعدة",
    "مرحبا، ماذا يمكنك أن تفعل؟", "شكرا، مع السلامة",
]  # fmt: skip

QUESTIONS = [
    "What did Araghchi say about enrichment?",
    "ماذا قال عراقجي عن التخصيب؟",
    "hello, what did Araghchi say about enrichment?",
    "Thanks to the deal, did oil prices fall?",
    "Who won the FIFA presidential election of February 2016?",
    "great news about the Rome talks?",
    "شكرا، ماذا قال عراقجي؟",
    "help with the sanctions question: what did Putin say?",
]


def test_the_list_has_forty_messages_in_both_languages():
    arabic = [m for m in SMALL_TALK if any("\u0600" <= ch <= "\u06ff" for ch in m)]
    assert len(SMALL_TALK) == 40 and len(arabic) == 20


@pytest.mark.parametrize("message", SMALL_TALK)
def test_small_talk_is_answered_without_sources_in_its_language(seed_pipeline, message):
    answer = seed_pipeline.answerer().answer(message)
    assert answer.mode == "conversation" and not answer.abstained
    assert answer.citations == [] and answer.uncited == []
    arabic = any("\u0600" <= ch <= "\u06ff" for ch in message)
    assert answer.answer_language == ("ar" if arabic else "en")
    # the newspapers indexed keep their own names (the seed's is Arabic: وكالات)
    words = re.sub(r"sources: [^;]*;", "", answer.text)
    assert any("\u0600" <= ch <= "\u06ff" for ch in words) == arabic


@pytest.mark.parametrize("question", QUESTIONS)
def test_questions_are_not_taken_for_small_talk(question):
    assert conversation_kind(question) is None


def test_what_can_you_do_says_what_is_indexed(seed_pipeline):
    answer = seed_pipeline.answerer().answer("What can you do?")
    assert "articles: 1;" in answer.text and "$" not in answer.text


def test_the_seed_question_still_quotes_its_answer(seed_pipeline):
    answer = seed_pipeline.answerer().answer("What did Araghchi say about enrichment?")
    assert any(ENRICHMENT_SENTENCE in c.quote for c in answer.citations)
