"""The Milvus vector store against a real Milvus Lite file: same answers as FAISS, filters
evaluated by Milvus, deletes, and a collection kept in step with SQLite."""

from __future__ import annotations

import gzip
import itertools
import json

import pytest

pytest.importorskip("pymilvus")
pytest.importorskip("milvus_lite")

from rag.answers.retrieval import Filters  # noqa: E402
from rag.errors import IndexMismatchError  # noqa: E402
from rag.news.ingest import ingest  # noqa: E402
from rag.store import IndexStore  # noqa: E402
from rag.vectors.milvus_index import milvus_filter  # noqa: E402
from tests.conftest import ENRICHMENT_SENTENCE, SEEDS, SHARED_DATA, make_pipeline  # noqa: E402

QUESTION = "What did Araghchi say about enrichment?"
QUESTION_AR = "ماذا قال عراقجي عن تخصيب اليورانيوم؟"
NEWS = SHARED_DATA / "news" / "saudinewsnet-2015.jsonl.gz"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """The seed article and 60 SaudiNewsNet articles, as files."""
    folder = tmp_path_factory.mktemp("corpus")
    with gzip.open(NEWS, "rt", encoding="utf-8") as lines:
        records = [json.loads(line) for line in itertools.islice(lines, 60)]
    (folder / "news.jsonl").write_text(
        "\n".join(json.dumps(r, ensure_ascii=False) for r in records), encoding="utf-8"
    )
    (folder / "seed.txt").write_text(
        next(SEEDS.glob("*.txt")).read_text(encoding="utf-8"), encoding="utf-8"
    )
    return folder, records


@pytest.fixture(scope="module")
def indexes(tmp_path_factory, e5_embedder, corpus):
    """The same articles in a FAISS index and in a Milvus-backed one."""
    folder, _ = corpus
    root = tmp_path_factory.mktemp("milvus")
    faiss = make_pipeline(root / "faiss", e5_embedder)
    milvus = make_pipeline(
        root / "milvus", e5_embedder, vector_store="milvus", milvus_uri=str(root / "vectors.db")
    )
    for pipeline in (faiss, milvus):
        indexer = pipeline.indexer()
        ingest([folder], indexer)
        indexer.store.close()
    stores = {"faiss": faiss.open_store(), "milvus": milvus.open_store()}
    yield {"faiss": faiss, "milvus": milvus}, stores
    for store in stores.values():
        store.close()


def test_the_collection_holds_every_chunk_with_its_metadata(indexes):
    _, stores = indexes
    store = stores["milvus"]
    assert store.index_type == "milvus"
    assert store.stats()["vectors"] == store.stats()["chunks"] == stores["faiss"].stats()["chunks"]
    assert store.stats()["vector_store"].endswith("vectors.db#rag_" + store.uid[:16])


def test_the_araghchi_question_gets_the_same_citation_as_with_faiss(indexes):
    pipelines, stores = indexes
    answers = {
        name: pipelines[name].answerer(stores[name]).answer(QUESTION_AR) for name in pipelines
    }
    for answer in answers.values():
        assert not answer.abstained
        assert ENRICHMENT_SENTENCE in answer.citations[0].quote
    faiss, milvus = answers["faiss"].citations[0], answers["milvus"].citations[0]
    assert (milvus.chunk_id, milvus.start, milvus.end) == (faiss.chunk_id, faiss.start, faiss.end)


def test_dense_search_ranks_like_exact_faiss(indexes, e5_embedder):
    _, stores = indexes
    vector = e5_embedder.embed_query("أمطار رعدية على منطقة")
    faiss = stores["faiss"].dense_search(vector, 10)
    milvus = stores["milvus"].dense_search(vector, 10)
    chunk_ids = {
        name: [stores[name].chunks([r])[r].id for r, _ in found]
        for name, found in (("faiss", faiss), ("milvus", milvus))
    }
    assert chunk_ids["milvus"] == chunk_ids["faiss"]
    assert [s for _, s in milvus] == pytest.approx([s for _, s in faiss], abs=1e-4)


def test_source_and_date_filters_are_evaluated_by_milvus(indexes, corpus, e5_embedder):
    _, stores = indexes
    _, records = corpus
    source = records[0]["source"]
    day = records[0]["date_extracted"][:10]
    store = stores["milvus"]
    vector = e5_embedder.embed_query("أخبار")
    # no allowed rows from SQLite: Milvus alone must filter
    by_source = store.dense_search(vector, 5000, filters=Filters(sources=(source,)))
    by_day = store.dense_search(vector, 5000, filters=Filters(date_from=day, date_to=day))
    for found, check in (
        (by_source, lambda chunk: chunk.source == source),
        (by_day, lambda chunk: chunk.date[:10] == day),
    ):
        assert found
        chunks = store.chunks([r for r, _ in found])
        assert all(check(chunk) for chunk in chunks.values())
    assert {r for r, _ in by_source} == set(store.filter_rows(sources=(source,)).tolist())
    assert {r for r, _ in by_day} == set(store.filter_rows(date_from=day, date_to=day).tolist())
    assert store.dense_search(vector, 10, filters=Filters(sources=("nobody",))) == []


def test_quotes_in_filter_values_cannot_change_the_expression(indexes, e5_embedder):
    _, stores = indexes
    vector = e5_embedder.embed_query("أخبار")
    hostile = Filters(sources=('x" or source != "',))
    assert stores["milvus"].dense_search(vector, 10, filters=hostile) == []
    assert milvus_filter(Filters(sources=("a",), date_to="2015-08-31")) == (
        '(source in ["a"]) and (date != "" and date <= "2015-08-31~")'
    )


def test_delete_removes_the_article_from_milvus(tmp_path, e5_embedder, corpus):
    folder, records = corpus
    pipeline = make_pipeline(
        tmp_path / "index", e5_embedder, vector_store="milvus",
        milvus_uri=str(tmp_path / "v.db"),
    )  # fmt: skip
    indexer = pipeline.indexer()
    ingest([SEEDS], indexer)
    store = indexer.store
    answer = pipeline.answerer(store).answer(QUESTION)  # the English question, seed only
    assert ENRICHMENT_SENTENCE in answer.citations[0].quote
    article_id = answer.citations[0].article_id
    with store.writer():
        removed = store.delete(article_id)
        store.save_derived()
    assert removed > 0
    assert store._vectors.count() == 0
    assert store.dense_search(e5_embedder.embed_query(QUESTION), 5) == []
    store.close()


def test_a_faiss_index_switched_to_milvus_is_copied_across_and_kept_in_step(tmp_path, e5_embedder):
    faiss = make_pipeline(tmp_path / "index", e5_embedder)
    indexer = faiss.indexer()
    ingest([SEEDS], indexer)
    chunks = indexer.store.stats()["chunks"]
    indexer.store.close()
    uri = str(tmp_path / "v.db")
    milvus = make_pipeline(tmp_path / "index", e5_embedder, vector_store="milvus", milvus_uri=uri)
    store = milvus.open_store()
    assert store.index_type == "milvus" and store._vectors.count() == chunks
    # a row written to SQLite but not to Milvus (a crash in between) is restored on open
    store._vectors.remove([min(store._vectors.rows())])
    store._db.execute("UPDATE meta SET value = value + 1 WHERE key = 'generation'")
    store._db.commit()
    store.close()
    reopened = milvus.open_store()
    assert reopened._vectors.count() == chunks
    reopened.close()


def test_a_collection_of_another_index_is_refused(tmp_path, e5_embedder):
    uri = str(tmp_path / "shared.db")
    first = make_pipeline(
        tmp_path / "a", e5_embedder, vector_store="milvus", milvus_uri=uri,
        milvus_collection="news",
    )  # fmt: skip
    indexer = first.indexer()
    indexer.store.close()
    second = make_pipeline(
        tmp_path / "b", e5_embedder, vector_store="milvus", milvus_uri=uri,
        milvus_collection="news",
    )  # fmt: skip
    with pytest.raises(IndexMismatchError, match="belongs to another index"):
        second.indexer()


def test_rebuild_drops_the_old_collection(tmp_path, e5_embedder):
    uri = str(tmp_path / "v.db")
    pipeline = make_pipeline(tmp_path / "i", e5_embedder, vector_store="milvus", milvus_uri=uri)
    indexer = pipeline.indexer()
    ingest([SEEDS], indexer)
    old = indexer.store._vectors.collection
    indexer.store.close()
    rebuilt = pipeline.indexer(rebuild=True)
    new = rebuilt.store._vectors.collection
    rebuilt.store.close()
    from pymilvus import MilvusClient

    client = MilvusClient(uri)
    assert new != old and client.list_collections() == [new]
    client.close()
    assert IndexStore.exists(tmp_path / "i")


def test_the_server_answers_from_milvus(tmp_path):
    """The API (and with it the web chat and Slack) unchanged on the Milvus store."""
    import httpx

    from tests.live_server import READ_KEY, start_server

    server = start_server(
        tmp_path / "index", SEEDS, tmp_path / "server.log", vector_store="milvus",
        milvus_uri=str(tmp_path / "vectors.db"),
    )  # fmt: skip
    try:
        headers = {"Authorization": f"Bearer {READ_KEY}"}
        asked = httpx.post(
            f"{server.url}/v1/ask", json={"question": QUESTION}, headers=headers, timeout=120
        )
        assert asked.status_code == 200, asked.text
        assert ENRICHMENT_SENTENCE in asked.json()["citations"][0]["quote"]
        ready = httpx.get(f"{server.url}/readyz", timeout=30).json()
        assert ready["vectors"] > 0
    finally:
        server.stop()
