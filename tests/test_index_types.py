"""Dense index types (exact flat, HNSW, auto) and memory-mapped read-only opening."""

from __future__ import annotations

import numpy as np
import pytest

from rag.errors import IndexWriteError
from rag.news.ingest import ingest
from rag.store import IndexStore, VectorIndexOptions
from rag.vectors import RowMeta
from rag.vectors.faiss_index import FaissVectors
from tests.conftest import ENRICHMENT_SENTENCE, SEEDS, make_pipeline

QUESTION = "What did Araghchi say about enrichment?"


def test_hnsw_recall_at_10_against_exact_search_on_synthetic_vectors():
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((3000, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = np.arange(10, 3010, dtype=np.int64)
    meta = [RowMeta("a", "", "")] * len(ids)
    exact = FaissVectors.build(384, "flat", [(ids, vectors, meta)])
    approximate = FaissVectors.build(384, "hnsw", [(ids, vectors, meta)])
    assert (exact.kind, approximate.kind) == ("flat", "hnsw")
    queries = vectors[:100] + 0.3 * rng.standard_normal((100, 384)).astype(np.float32)
    recall = np.mean([
        len({r for r, _ in exact.search(q, 10)} & {r for r, _ in approximate.search(q, 10)}) / 10
        for q in queries
    ])  # fmt: skip
    assert recall >= 0.95


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_each_type_answers_the_seed_question_and_forgets_deleted_articles(
    tmp_path, e5_embedder, kind
):
    pipeline = make_pipeline(tmp_path / "index", e5_embedder, index_type=kind)
    ingest([SEEDS], pipeline.indexer())
    store = pipeline.open_store()
    assert store.index_type == kind
    hits = pipeline.retriever(store).search(QUESTION).hits
    assert ENRICHMENT_SENTENCE in hits[0].best_sentence.text
    article = hits[0].chunk.article_id
    store.delete(article)
    assert store.dense_search(e5_embedder.embed_query(QUESTION), 10) == []
    store.close()
    reopened = pipeline.open_store()
    assert reopened.stats()["vectors"] == 0 and reopened.index_type == kind


def test_auto_switches_to_hnsw_past_its_threshold_on_reopen(tmp_path, e5_embedder):
    pipeline = make_pipeline(tmp_path / "index", e5_embedder, hnsw_min_vectors=4)
    ingest([SEEDS], pipeline.indexer())  # 6 chunks: past the threshold
    store = pipeline.open_store()
    assert store.index_type == "hnsw" and store.stats()["vectors"] == 6


def test_memory_mapped_index_is_shared_read_only(tmp_path, e5_embedder):
    folder = tmp_path / "index"
    pipeline = make_pipeline(folder, e5_embedder)
    ingest([SEEDS], pipeline.indexer())
    replica = make_pipeline(folder, e5_embedder, mmap_index=True)
    store = replica.open_store()
    hits = replica.retriever(store).search(QUESTION).hits
    assert ENRICHMENT_SENTENCE in hits[0].best_sentence.text
    with pytest.raises(IndexWriteError, match="read-only"):
        store.delete(hits[0].chunk.article_id)
    # a replica never rebuilds: derived files that are behind are a clear error
    (folder / "derived.json").write_text('{"generation": -1}')
    with pytest.raises(IndexWriteError, match="out of date"):
        IndexStore.open(folder, VectorIndexOptions(mmap=True))
