"""The seed question, in English and Arabic, over the real seed index and the real model."""

from dataclasses import replace

import numpy as np
import pytest

from rag.retrieval import Retriever
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
    # the rerank orders hits by fused score plus their best sentence's similarity,
    # standardised over the rerank pool (a search for the whole pool shows all of it; the
    # hit selection's part in the order: test_selection.py)
    retriever = replace(seed_pipeline.retriever(store), selector=None)
    pool = retriever.search(question, k=retriever.rerank_pool).hits
    similarity = np.array([h.best_sentence.score for h in pool])
    standard = (similarity - similarity.mean()) / (similarity.std() + 1e-6)
    keys = [h.score + retriever.sentence_weight * z for h, z in zip(pool, standard, strict=True)]
    assert keys == sorted(keys, reverse=True)


def test_a_shorter_search_shows_the_first_hits_of_a_longer_one(seed_pipeline):
    retriever = seed_pipeline.retriever()
    question = QUESTIONS[0]
    many = [h.chunk.id for h in retriever.search(question, k=10).hits]  # same candidate depth
    for k in (1, 3, 5):
        assert [h.chunk.id for h in retriever.search(question, k=k).hits] == many[:k]


def test_an_english_question_reaches_bm25_through_its_names_only(seed_pipeline):
    retriever = seed_pipeline.retriever()
    terms = retriever._lexical_terms("What did Araghchi say about enrichment?", "en")
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
    """What abstention checks the quoted passage against (rag.evidence.names_missing)."""
    retriever = seed_pipeline.retriever()
    english = retriever.search("What did Araghchi say about Zzyzx?")
    assert "عراقجي" in english.names["Araghchi"]
    assert "Zzyzx" not in english.names  # spelled nowhere in the index: nothing to check
    assert retriever.search("ماذا قال عراقجي عن التخصيب؟").names == {}
