"""What happened on a day: a digest of its main stories (#33), on 40 real SaudiNewsNet
articles of 2015-07-21 with the default model."""

from __future__ import annotations

from datetime import date

import pytest

from rag.text.arabic import word_set

AS_OF = date(2015, 7, 22)


@pytest.fixture(scope="module")
def answerer(news_pipeline):
    return news_pipeline.answerer()


@pytest.mark.parametrize("question", [
    "What happened yesterday?", "ما أخبار أمس؟", "What were the main news stories on July 21?",
    "ما أبرز الأخبار يوم 21 يوليو 2015؟", "What is the latest news?", "آخر الأخبار",
])  # fmt: skip
def test_a_day_is_answered_with_its_main_stories(answerer, question):
    answer = answerer.answer(question, as_of=AS_OF)
    assert not answer.abstained and len(answer.citations) >= 3
    assert all(c.date.startswith("2015-07-21") for c in answer.citations)
    assert len({c.article_id for c in answer.citations}) == len(answer.citations)
    assert all(len(c.quote.split()) >= 8 for c in answer.citations)  # no byline, no caption
    titles = [word_set(c.title) for c in answer.citations]
    for i, first in enumerate(titles):  # one entry per story
        for second in titles[i + 1 :]:
            assert len(first & second) * 2 <= min(len(first), len(second))
    for citation in answer.citations:  # every quote is the article's own text
        assert f"«{citation.quote}» [{citation.marker}]" in answer.text


@pytest.mark.parametrize(("question", "nearest"), [
    ("What happened on July 25, 2015?", "2015-07-21"),
    ("أخبار يوم 20 يوليو 2015", "2015-07-21"),
])  # fmt: skip
def test_a_day_without_articles_is_said_plainly_with_the_nearest_days(answerer, question, nearest):
    answer = answerer.answer(question, as_of=date(2015, 7, 31))
    assert answer.abstained and answer.citations == [] and answer.uncited == []
    assert nearest in answer.text


def test_nothing_after_as_of_even_for_the_latest_news(answerer):
    answer = answerer.answer("What is the latest news?", as_of=date(2015, 7, 20))
    assert not [c for c in answer.citations if c.date[:10] > "2015-07-20"]


def test_a_question_with_a_topic_is_searched_not_digested(answerer):
    answer = answerer.answer("What did Cameron say about extremism yesterday?", as_of=AS_OF)
    assert not answer.text.startswith("The main stories")


# ----- what a news question is about, and how it is read ------------------------------------


def test_english_names_translated_not_spelled_reach_the_arabic_articles():
    from rag.text.transliteration import NameBridge

    bridge = NameBridge(["عراقجي", "غيغابايت"])
    assert bridge.arabic_words("Any news on Egypt?") == ["مصر"]  # not غيغابايت by its sound
    assert "داعش" in bridge.arabic_words("What's new on ISIS?")
    assert "الهلال" in bridge.arabic_words("What's new on Al-Hilal?")
    assert bridge.arabic_words("What did Araghchi say?") == ["عراقجي"]  # spelled, as before
    assert bridge.arabic_words("WHAT IS NEW") == []  # an acronym only through the table


@pytest.mark.parametrize(("text", "dateline"), [
    ("عين اليوم – سنغافورة", True), ("سبق- متابعة:", True), ("الرياض - واس", True),
    ("Covid-19 cases rose sharply", False),
    ("قال الوزير إن الاتفاق - كما يبدو - جيد جدا للجميع", False),
])  # fmt: skip
def test_a_dateline_or_byline_is_never_quoted(text, dateline):
    from rag.text.quotes import is_dateline

    assert is_dateline(text) is dateline


def test_news_about_something_named_quotes_what_names_it(answerer):
    """Among 40 articles of one day: "news on Yemen" cites sentences that say اليمن."""
    answer = answerer.answer("Any news on Yemen yesterday?", as_of=AS_OF)
    assert not answer.abstained
    assert "اليمن" in answer.citations[0].quote or "اليمن" in answer.citations[0].title


def test_with_a_model_the_digest_is_written_from_the_same_stories_and_checked(news_pipeline):
    from rag.answers.generation import Generator, LLMConfig
    from tests.fake_llm import FakeLLM, Reply, user_prompt

    llm = FakeLLM().start()
    try:
        answerer = news_pipeline.answerer()
        answerer.generator = Generator(
            LLMConfig(
                "openai/test-model", api_base=llm.api_base, api_key="sk-test", timeout=5, retries=0
            )
        )
        quoted = news_pipeline.answerer().answer("What happened yesterday?", as_of=AS_OF)
        lead = quoted.citations[0].quote
        llm.reply = lambda body: Reply(f"{lead.rstrip('.')} [1].")
        answer = answerer.answer("What happened yesterday?", as_of=AS_OF)
        prompt = user_prompt(llm.requests[-1])
        assert all(f"<source {n}>" in prompt for n in range(1, len(quoted.citations) + 1))
        assert answer.mode == "generated" and [c.supported for c in answer.claims] == [True]
        assert answer.citations[0].article_id == quoted.citations[0].article_id
        llm.reply = lambda body: Reply("", status=500)  # the model fails: the quoted digest
        fallback = answerer.answer("What happened yesterday?", as_of=AS_OF)
        assert fallback.mode == "extractive" and fallback.text == quoted.text
    finally:
        llm.stop()


def test_a_models_follow_up_rewrite_adds_no_time_the_question_lacks(news_pipeline):
    """After "What happened yesterday?" (a day without articles), a model rewrote "What is
    the latest news?" with the earlier "yesterday" in it and the answer refused; the rewrite
    is set aside for the rule's, which never carries time, and the latest day is answered."""
    from rag.answers.generation import Generator, LLMConfig
    from tests.fake_llm import FakeLLM, Reply, user_prompt

    llm = FakeLLM().start()
    try:
        answerer = news_pipeline.answerer()
        answerer.generator = Generator(LLMConfig(
            "openai/test-model", api_base=llm.api_base, api_key="sk-test", timeout=5, retries=0
        ))  # fmt: skip
        rewrites = {"What is the latest news?": "What is the latest news from yesterday?",
                    "and the day before?": "What happened the day before yesterday?"}  # fmt: skip

        def reply(body):
            last = user_prompt(body).rpartition("Last question: ")[2].strip()
            if last in rewrites:
                return Reply(rewrites[last])
            return Reply("", status=500)  # no written answer: the quoted one stands in

        llm.reply = reply
        history = [{"role": "user", "content": "What happened yesterday?"},
                   {"role": "assistant", "content": "There are no articles of 2015-07-22."}]  # fmt: skip
        answer = answerer.answer("What is the latest news?", history=history,
                                 as_of=date(2015, 7, 23))  # fmt: skip
        assert "yesterday" not in answer.standalone_question
        assert not answer.abstained and answer.citations
        assert all(c.date.startswith("2015-07-21") for c in answer.citations)
        back = answerer.answer("and the day before?", history=history, as_of=date(2015, 7, 23))
        assert back.standalone_question == "What happened the day before yesterday?"
        assert all(c.date.startswith("2015-07-21") for c in back.citations)  # 07-21: it has some
    finally:
        llm.stop()


@pytest.mark.parametrize("question", ["Any news on Yemen yesterday?", "ما أخبار اليمن أمس؟"])
def test_a_topic_of_a_day_is_answered_with_its_stories_in_order_of_relevance(answerer, question):
    """#33: a topic in a period is a list of the stories that answer it, one entry per
    story, in the search's order, each quoting the sentence that answers."""
    answer = answerer.answer(question, as_of=AS_OF)
    assert answer.text.startswith(("The stories of 2015-07-21", "أخبار 2015-07-21"))
    assert len(answer.citations) >= 2 and [c.marker for c in answer.citations] == list(
        range(1, len(answer.citations) + 1)
    )
    assert all(c.date.startswith("2015-07-21") for c in answer.citations)
    assert all("اليمن" in c.quote or "اليمن" in c.title or "يمني" in c.quote
               for c in answer.citations)  # fmt: skip
    titles = [word_set(c.title) for c in answer.citations]
    for i, first in enumerate(titles):  # one entry per story
        for second in titles[i + 1 :]:
            assert len(first & second) * 2 <= min(len(first), len(second))
    hits = answerer.retriever.search(question, as_of=AS_OF).hits
    order = list(dict.fromkeys(hit.chunk.article_id for hit in hits))
    cited = [c.article_id for c in answer.citations]
    assert cited == sorted(cited, key=order.index)  # the search's order
