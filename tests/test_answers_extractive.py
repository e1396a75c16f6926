"""The offline answerer on the real seed index, and the `rag ask` command."""

import json
from datetime import date

import pytest
from typer.testing import CliRunner

from rag.answers.followup import looks_like_follow_up, rewrite_by_rule
from rag.cli import app
from rag.news.documents import record_or_failure
from rag.news.ingest import ingest, ingest_records
from rag.text.dates import read_time
from rag.text.question import MAX_QUESTION_CHARS
from tests.conftest import ENRICHMENT_SENTENCE, SEEDS, make_pipeline

ENRICHMENT_QUOTE = (
    "وقبل جولة ثانية من المحادثات من المقرر عقدها في روما يوم السبت، قال عراقجي أمس "
    "الأربعاء إن حق إيران في تخصيب اليورانيوم غير قابل للتفاوض."
)


@pytest.fixture
def answerer(seed_pipeline):
    return seed_pipeline.answerer()


@pytest.mark.parametrize(
    "question", ["What did Araghchi say about enrichment?", "ماذا قال عراقجي عن تخصيب اليورانيوم؟"]
)
def test_araghchi_question_quotes_the_enrichment_sentence_with_offsets(answerer, question):
    answer = answerer.answer(question)
    assert answer.mode == "extractive" and not answer.abstained
    quoted = [c for c in answer.citations if c.quote == ENRICHMENT_QUOTE]
    assert len(quoted) == 1
    citation = quoted[0]
    article = answerer.retriever.store.article(citation.article_id)
    assert article.text[citation.start : citation.end] == ENRICHMENT_QUOTE
    assert f"«{ENRICHMENT_QUOTE}» [{citation.marker}]" in answer.text
    assert citation.title == article.title and citation.chunk_id.startswith(article.id + ":")
    assert 1 <= len(answer.claims) <= 3 and all(c.supported for c in answer.claims)
    assert answer.question_language == ("ar" if question.startswith("ماذا") else "en")


def test_arabic_question_quotes_only_the_enrichment_sentence_first(answerer):
    answer = answerer.answer("ماذا قال عراقجي عن تخصيب اليورانيوم؟")
    assert answer.citations[0].quote == ENRICHMENT_QUOTE
    assert answer.text.startswith("مقتطفات حرفية من المقالات المفهرسة")


@pytest.mark.parametrize("question", ["Who won the 2022 World Cup?", "من فاز بكأس العالم 2022؟"])
def test_an_unanswerable_question_abstains(answerer, question):
    answer = answerer.answer(question)
    assert answer.abstained and answer.citations == [] and answer.claims == []
    assert answer.text in (
        "The indexed articles do not answer this.",
        "لا تجيب المقالات المفهرسة عن هذا السؤال.",
    )
    assert answer.uncited  # what was retrieved is still shown


def test_answer_reports_timings_per_stage(answerer):
    answer = answerer.answer("ماذا قال عراقجي عن تخصيب اليورانيوم؟")
    assert {"rewrite", "embed_query", "dense", "bm25", "fuse", "sentences", "answer"} <= set(
        answer.timings
    )


@pytest.mark.parametrize(
    ("question", "message"),
    [
        ("   ", "the question is empty"),
        (
            "x" * (MAX_QUESTION_CHARS + 1),
            f"the question is {MAX_QUESTION_CHARS + 1} characters long; the limit is {MAX_QUESTION_CHARS}",
        ),
    ],
)
def test_bad_questions_are_refused_with_a_reason(answerer, question, message):
    with pytest.raises(ValueError) as raised:
        answerer.answer(question)
    assert str(raised.value) == message


def test_unknown_answer_language_is_refused(answerer):
    with pytest.raises(ValueError, match="language must be one of ar, en, got 'fr'"):
        answerer.answer("x", language="fr")


def test_follow_up_rule_keeps_the_topic(answerer):
    history = [
        {"role": "user", "content": "What did Araghchi say about enrichment?"},
        {"role": "assistant", "content": "..."},
    ]
    assert looks_like_follow_up("and what did Russia say?")
    assert looks_like_follow_up("وماذا قالت روسيا؟")
    assert not looks_like_follow_up("What did the Russian foreign ministry say about the JCPOA?")
    assert rewrite_by_rule("and what did Russia say?", history) == (
        "and what did Russia say? (araghchi enrichment)"
    )
    answer = answerer.answer("and what did Russia say?", history=history)
    assert answer.standalone_question == "and what did Russia say? (araghchi enrichment)"


@pytest.mark.parametrize(("earlier", "question", "rewritten"), [
    ("Give me yesterday's news.", "And the latest news?", "And the latest news? (give me s)"),
    ("ما أخبار أمس؟", "وما آخر الأخبار؟", "وما آخر الأخبار؟ (اخبار)"),
    ("What happened in July in Yemen?", "and Iran?", "and Iran? (happened yemen)"),
    ("ماذا حدث يوم الخميس في اليمن؟", "وإيران؟", "وإيران؟ (ماذا حدث يوم اليمن)"),
])  # fmt: skip
def test_a_follow_up_is_never_given_the_earlier_questions_time(earlier, question, rewritten):
    """#33: a scope carried over ("yesterday") refused "and the latest news?"."""
    history = [{"role": "user", "content": earlier}, {"role": "assistant", "content": "…"}]
    assert rewrite_by_rule(question, history) == rewritten
    assert read_time(rewritten, date(2015, 7, 28)) in (None, read_time(question, date(2015, 7, 28)))


def test_rag_ask_prints_answer_and_sources(seed_pipeline):
    runner = CliRunner()
    index = str(seed_pipeline.settings.index_dir)
    result = runner.invoke(
        app, ["ask", "ماذا قال عراقجي عن تخصيب اليورانيوم؟", "--index-dir", index, "-k", "2"]
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[:2] == [
        "مقتطفات حرفية من المقالات المفهرسة (دون استخدام نموذج لغوي):",
        f"«{ENRICHMENT_QUOTE}» [1]",
    ]
    assert "Sources:" in lines
    source = lines.index("Sources:")
    assert lines[source + 1].startswith("[1] خامنئي يبعث برسالة لبوتين")
    assert lines[source + 2] == f"    “{ENRICHMENT_QUOTE}” (characters 578-715)"


def test_rag_ask_json(seed_pipeline):
    runner = CliRunner()
    index = str(seed_pipeline.settings.index_dir)
    result = runner.invoke(
        app, ["ask", "Who won the 2022 World Cup?", "--index-dir", index, "--json"]
    )
    payload = json.loads(result.stdout)
    assert payload["abstained"] is True and payload["mode"] == "extractive"
    assert payload["citations"] == [] and payload["question_language"] == "en"
    assert ENRICHMENT_SENTENCE not in payload["text"]


def test_each_sentence_meets_its_own_threshold():
    """A near-miss English sentence must not hide an Arabic one that passes the cross-language
    threshold (found when an English article sat beside the seed in the shared test server)."""
    from rag.answers.abstention import AbstentionModel
    from rag.answers.extractive import ExtractiveAnswerer
    from rag.types import Chunk, Hit, Sentence

    english = Sentence("The port authority said ships may dock at night.", 0, 48, score=0.79)
    arabic = Sentence(ENRICHMENT_SENTENCE, 0, len(ENRICHMENT_SENTENCE), score=0.77)
    hits = [
        Hit(Chunk("e:0", "e", 0, english.text, 0, 48, ()), 0.5, dense_rank=2, sentences=[english]),
        Hit(Chunk("a:0", "a", 0, arabic.text, 0, arabic.end, ()), 0.4, dense_rank=1, bm25_rank=1,
            sentences=[arabic]),
    ]  # fmt: skip
    for abstention in (None, AbstentionModel.load()):  # nor be the sentence abstention judges
        answerer = ExtractiveAnswerer(abstention=abstention)
        selection = answerer.select("What did Araghchi say about enrichment?", hits)
        assert not selection.abstained
        assert [sentence.text for _, sentence in selection.picks] == [ENRICHMENT_SENTENCE]


@pytest.mark.xfail(strict=True, reason=(
    "a known defect: beside one English briefing the bundled abstention model refuses the "
    "seed question (similarity 0.753 across languages); judged on the dev sets, not on this "
    "example (#22, #32). Strict: it fails once the answer is no longer silenced."))  # fmt: skip
def test_a_stray_english_sentence_does_not_silence_the_arabic_answer(tmp_path, onnx_embedder):
    """Found in CI: an English article added beside the seed held a sentence closer to the
    English question (0.771) than the Arabic answer (0.753) but under the English threshold;
    abstention judged it (same language) and refused."""
    pipeline = make_pipeline(tmp_path, onnx_embedder)
    ingest([SEEDS], pipeline.indexer())
    briefing = {
        "title": "Press briefing",
        "content": "What did the spokesman say about the schedule? "
        "He said the talks would continue next week.",
    }
    ingest_records([record_or_failure(briefing, "briefing")], pipeline.indexer())
    answerer = pipeline.answerer()
    question = "What did Araghchi say about enrichment?"
    result = answerer.retriever.search(question)
    evidence, across = answerer.extractive.evidence(question, result.hits, result.names)
    # abstention weighs the Arabic answer (across languages), not the English near-miss
    assert across and evidence.similarity < 0.76 and evidence.names_missing == 0
    answer = answerer.answer(question)
    assert not answer.abstained  # not silenced: the Arabic answer is quoted
    assert answer.citations[0].quote == ENRICHMENT_QUOTE
    assert not any("spokesman" in citation.quote for citation in answer.citations)


def test_an_arabic_question_with_a_latin_name_is_answered_as_arabic(answerer):
    answer = answerer.answer("ماذا قال عراقجي عن Enrichment Program؟")
    assert answer.question_language == "ar" and not answer.abstained
    assert answer.text.splitlines()[0] == answerer.prompts.localized("extractive_intro", "ar")
    assert answer.citations and "عراقجي" in answer.citations[0].quote


def test_an_english_question_over_arabic_quotes_says_why_and_how_to_get_english(answerer):
    english = answerer.answer("What did Araghchi say about enrichment?")
    assert english.answer_language == "ar"
    assert any("not translated" in note and "llm_model" in note for note in english.notes)
    arabic = answerer.answer("ماذا قال عراقجي عن التخصيب؟")
    assert arabic.notes == []


def hit(text: str, score: float, key: str):
    """A hit of one article ``key`` holding one sentence of that score."""
    from rag.types import Chunk, Hit, Sentence

    sentence = Sentence(text, 0, len(text), score=score)
    return Hit(Chunk(f"{key}:0", key, 0, text, 0, len(text), ()), 0.5, sentences=[sentence])


def test_a_further_sentence_is_quoted_only_when_it_lacks_no_name_or_number_the_best_holds():
    from rag.answers.extractive import ExtractiveAnswerer

    best = hit("قال عراقجي إن 3 جولات عقدت في 2015.", 0.86, "a")
    no_name = hit("قالت قوى غربية إن 3 جولات عقدت في 2015.", 0.855, "b")
    no_number = hit("قال عراقجي إن الجولات ستستمر.", 0.855, "c")
    both = hit("أكد عراقجي أن 3 جولات عقدت خلال 2015.", 0.85, "d")
    selection = ExtractiveAnswerer(abstention=None).select(
        "How many rounds did Araghchi hold in 2015?",
        [best, no_name, no_number, both],
        names={"Araghchi": ("عراقجي",)},  # as the index spells it
    )
    assert [h.chunk.article_id for h, _ in selection.picks] == ["a", "d"]


def test_a_how_many_question_quotes_the_close_sentence_that_holds_a_number():
    from rag.answers.extractive import ExtractiveAnswerer

    best = hit("قالت الفنانة في حوارها إنه لا يوجد إنسان يهرب من عمره الحقيقي.", 0.86, "a")
    number = hit("وكشفت الفنانة أن عمرها الحقيقي 44 عاما.", 0.83, "b")
    far = hit("وقال المخرج إن التصوير يستمر 12 أسبوعا.", 0.79, "c")
    select = ExtractiveAnswerer(abstention=None).select
    picked = select("كم قالت الفنانة إن عمرها الحقيقي؟", [best, number, far])
    assert [h.chunk.article_id for h, _ in picked.picks] == ["a", "b"]  # not the far one
    picked = select("كم قالت الفنانة إن عمرها الحقيقي؟", [best, far])
    assert [h.chunk.article_id for h, _ in picked.picks] == ["a"]  # too far below: none
    picked = select("ماذا قالت الفنانة عن عمرها الحقيقي؟", [best, number])
    assert [h.chunk.article_id for h, _ in picked.picks] == ["a"]  # no number asked for


def test_a_word_or_two_is_never_quoted_as_an_answer():
    """A page's navigation ("اقتصاد") or a bare dateline can score close to any question; the
    one-word best sentence also let padding through (it lacked every name)."""
    from rag.answers.extractive import ExtractiveAnswerer

    crumb = hit("اقتصاد", 0.88, "a")
    byline = hit("الرياضي ـ وكالات", 0.87, "d")  # three strings, two words
    answer = hit("قال عراقجي إن حق إيران في التخصيب غير قابل للتفاوض.", 0.86, "b")
    padding = hit("وتقول قوى غربية إن إيران تخصب اليورانيوم.", 0.855, "c")
    selection = ExtractiveAnswerer(abstention=None).select(
        "What did Araghchi say about enrichment?", [crumb, byline, answer, padding],
        names={"Araghchi": ("عراقجي",)},
    )  # fmt: skip
    assert [h.chunk.article_id for h, _ in selection.picks] == ["b"]


def test_the_english_seed_answer_leaves_out_the_western_powers_sentence(answerer):
    """The issue's example of padding: [2] was about Western powers, not Araghchi."""
    answer = answerer.answer("What did Araghchi say about enrichment?")
    assert answer.citations[0].quote == ENRICHMENT_QUOTE
    assert all("قوى غربية" not in citation.quote for citation in answer.citations)


@pytest.mark.parametrize(("line", "quotable"), [
    ("(تصوير: سامي الغامدي)", False),  # a caption
    ("وليسَ الذئبُ يأكلُ لحمَ ذئبٍ ويأكلُ بعضنا بعضاً عيانا", False),  # a verse, vowelled
    ("الناس فى بلدي يصنعون الحب..", False),  # a line that trails off
    ("2- شالكة (ألمانيا): 5 نقاط", False),  # a list item
    ("عبد الرحمن النخيش", False),  # a name under a column
    ("قال الوزير إن الاتفاق جيد جدا للجميع.", True),
    ("- أيرلندا: قال مارتن أونيل مدرب أيرلندا إن ويلز تسير بشكل رائع في التصفيات.", True),
    ("It was founded in 1920.", True),
    # an encyclopedia vowels its opening sentence: long, and finished
    ("أَبُو القَاسِم مُحَمَّد بنِ عَبد الله بنِ عَبدِ المُطَّلِب يُؤمن المسلمون بأنَّه رسول الله "
     "إلى الناس كافة، وهو آخر الأنبياء والمرسلين في الإسلام.", True),
])  # fmt: skip
def test_which_lines_are_worth_quoting(line, quotable):
    from rag.text.quotes import worth_quoting

    assert worth_quoting(line) is quotable


def test_a_verse_or_a_caption_closest_to_the_question_is_not_quoted(tmp_path, onnx_embedder):
    """A column's verse was quoted as the answer (#33); the prose that answers is quoted."""
    pipeline = make_pipeline(tmp_path, onnx_embedder)
    column = {
        "title": "الذئاب في الصحراء",
        "content": "قال الشاعر قديما:\n"
        "وليسَ الذئبُ يأكلُ لحمَ ذئبٍ ويأكلُ بعضنا بعضاً عيانا\n"
        "(تصوير: الذئب يأكل لحم ذئب)\n"
        "وأكدت دراسة جديدة أن الذئب لا يأكل لحم ذئب آخر إلا في سنوات الجفاف الشديد.",
    }
    ingest_records([record_or_failure(column, "column")], pipeline.indexer())
    answer = pipeline.answerer().answer("هل يأكل الذئب لحم ذئب؟")
    assert not answer.abstained
    assert [c.quote for c in answer.citations] == [
        "وأكدت دراسة جديدة أن الذئب لا يأكل لحم ذئب آخر إلا في سنوات الجفاف الشديد."
    ]
    assert "عيانا" not in answer.text and "تصوير" not in answer.text


FILLER = (  # nine sentences on other things: the two quotes fall in two passages
    "وشهدت الأسواق المحلية حركة نشطة خلال الأسبوع الماضي مع اقتراب موسم الصيف. "
    "وتوقع تجار في الرياض أن يزداد الطلب على الأجهزة الكهربائية في الأشهر المقبلة. "
    "وأشار مختصون إلى أن أسعار المواد الغذائية بقيت مستقرة في معظم المدن. "
    "وافتتحت البلدية حديقة جديدة في حي النسيم تضم ملاعب للأطفال وممرات للمشاة. "
    "وأعلنت إدارة التعليم عن مواعيد التسجيل في المدارس للعام الدراسي المقبل. "
    "ونظم نادي القراءة أمسية ثقافية حضرها عدد من الكتاب والمثقفين. "
    "وحذرت هيئة الأرصاد من موجة حارة تشهدها المنطقة الشرقية نهاية الأسبوع. "
    "واستقبل المستشفى الجامعي وفدا طبيا زائرا لتبادل الخبرات في جراحة القلب. "
    "ودعت جمعية حماية المستهلك إلى مراجعة أسعار تذاكر الطيران الداخلي. "
)


def test_two_quotes_of_one_article_are_one_source(tmp_path, onnx_embedder):
    """One article was cited as two sources with the same title (#33): its passages are
    one citation, each quote marked with it, and it is not listed again as uncited."""
    pipeline = make_pipeline(tmp_path, onnx_embedder)
    report = {
        "title": "إنتاج النفط",
        "content": "قال وزير النفط إن إنتاج المملكة من النفط بلغ عشرة ملايين برميل يوميا في يوليو.\n"
        + FILLER
        + "\nوقال وزير النفط إن إنتاج المملكة من النفط سيبقى عند عشرة ملايين برميل يوميا حتى نهاية العام.",
    }
    ingest_records([record_or_failure(report, "report")], pipeline.indexer())
    answer = pipeline.answerer().answer("ماذا قال وزير النفط عن إنتاج المملكة من النفط؟")
    assert len(answer.claims) == 2  # two quotes, from two passages of the article ...
    assert [c.marker for c in answer.citations] == [1]  # ... cited as one source
    assert [q.quote for q in answer.citations[0].quotes()] == [
        claim.text.rsplit(" [", 1)[0] for claim in answer.claims
    ]  # both quotes, with their offsets, in the one citation
    text = pipeline.open_store().article(answer.citations[0].article_id).text
    assert all(text[q.start : q.end] == q.quote for q in answer.citations[0].quotes())
    assert all(claim.markers == [1] for claim in answer.claims)
    assert answer.uncited == []


def test_a_wire_story_in_two_newspapers_is_not_listed_twice(tmp_path, onnx_embedder):
    """ "Also retrieved, not cited" showed the same passage twice: one wire sentence, carried
    by two newspapers around different paragraphs (not copies as a whole)."""
    wire = "وأقالت رئيسة كوريا الجنوبية وزير الصحة مون هيونغ بيو بعد تفشي متلازمة الشرق الأوسط."
    pipeline = make_pipeline(tmp_path, onnx_embedder)
    records = [
        {"title": "كوريا الجنوبية تقيل وزير الصحة", "source": "alyaum", "content": wire + "\n" + FILLER},
        {"title": "إقالة وزير الصحة الكوري", "source": "okaz",
         "content": "ذكرت وكالة الأنباء الكورية في سيول اليوم ما يلي.\n" + wire},
    ]  # fmt: skip
    ingest_records([record_or_failure(r, r["source"]) for r in records], pipeline.indexer())
    answer = pipeline.answerer().answer("من هو وزير الصحة الذي أقالته كوريا الجنوبية؟")
    quotes = [q.quote for c in [*answer.citations, *answer.uncited] for q in c.quotes()]
    assert quotes.count(wire) == 1, quotes
