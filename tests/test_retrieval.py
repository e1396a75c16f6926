"""The seed question, in English and Arabic, over the real seed index and the real model."""

from dataclasses import replace

import pytest

from rag.answers.retrieval import Retriever
from rag.text.question import Question
from tests.conftest import ENRICHMENT_SENTENCE

QUESTIONS = ["What did Araghchi say about enrichment?", "ماذا قال عراقجي عن تخصيب اليورانيوم؟"]


@pytest.mark.parametrize("question", QUESTIONS)
def test_seed_question_finds_the_enrichment_passage_first(seed_pipeline, question):
    hits = seed_pipeline.retriever().search(question).hits
    assert ENRICHMENT_SENTENCE in hits[0].chunk.text
    assert ENRICHMENT_SENTENCE in hits[0].best_sentence.text


@pytest.mark.parametrize("question", QUESTIONS)
def test_hits_carry_metadata_scores_and_exact_sentence_offsets(seed_pipeline, question):
    store = seed_pipeline.open_store()
    hits = seed_pipeline.retriever(store).search(question, k=3).hits
    assert 1 <= len(hits) <= 3
    article = store.article(hits[0].chunk.article_id)
    for hit in hits:
        assert hit.chunk.title == article.title
        assert article.text[hit.chunk.start : hit.chunk.end] == hit.chunk.text
        sentence = hit.best_sentence
        assert article.text[sentence.start : sentence.end] == sentence.text
        assert hit.dense_rank is not None and hit.score > 0


@pytest.mark.parametrize("question", QUESTIONS)
def test_the_rerank_weighs_the_fused_order_against_the_best_sentences(seed_pipeline, question):
    """Without weight the fused order stands; with all of it, the best sentences' order (the
    hit selection's part in the order: test_selection.py)."""
    retriever = replace(seed_pipeline.retriever(), selector=None)
    pool = retriever.rerank_pool

    def shown(**change):
        return replace(retriever, **change).search(question, k=pool).hits

    fused = [h.chunk.id for h in shown(rerank_by_sentence=False)]
    assert [h.chunk.id for h in shown(sentence_weight=0.0)] == fused
    by_sentence = shown(sentence_weight=1e6)
    scores = [h.best_sentence.score for h in by_sentence]
    assert scores == sorted(scores, reverse=True) and len(set(scores)) > 1
    assert sorted(h.chunk.id for h in by_sentence) == sorted(fused)
    assert [h.chunk.id for h in by_sentence] != fused  # the two orders differ here


def test_a_shorter_search_shows_the_first_hits_of_a_longer_one(seed_pipeline):
    retriever = seed_pipeline.retriever()
    question = QUESTIONS[0]
    many = [h.chunk.id for h in retriever.search(question, k=10).hits]  # same candidate depth
    for k in (1, 3, 5):
        assert [h.chunk.id for h in retriever.search(question, k=k).hits] == many[:k]


def test_an_english_question_reaches_bm25_through_its_names_only(seed_pipeline):
    retriever = seed_pipeline.retriever()
    terms = retriever._lexical_terms(Question("What did Araghchi say about enrichment?"), "en")
    assert "عراقجي" in terms  # "Araghchi", as the index spells it
    assert not [t for t in terms if "\u0600" <= t[0] <= "\u06ff" and t != "عراقجي"]
    result = retriever.search("What did Araghchi say about enrichment?")
    found_by_bm25 = [h for h in result.hits if h.bm25_rank is not None]
    assert found_by_bm25 and all("عراقجي" in h.chunk.text for h in found_by_bm25)
    assert set(result.timings) == {"embed_query", "dense", "bm25", "fuse", "sentences"}


def test_retriever_validates_its_arguments(seed_pipeline):
    store = seed_pipeline.open_store()
    with pytest.raises(ValueError, match="k must be at least 1, got 0"):
        Retriever(store, seed_pipeline.embedder, k=0)
    with pytest.raises(ValueError, match="k must be at least 1, got -2"):
        seed_pipeline.retriever(store).search("x", k=-2)


def test_a_search_says_how_the_index_spells_the_questions_names(seed_pipeline):
    """What abstention checks the quoted passage against (rag.answers.evidence.names_missing)."""
    retriever = seed_pipeline.retriever()
    english = retriever.search("What did Araghchi say about Zzyzx?")
    assert "عراقجي" in english.names["Araghchi"]
    assert "Zzyzx" not in english.names  # spelled nowhere in the index: nothing to check
    assert retriever.search("ماذا قال عراقجي عن التخصيب؟").names == {}
