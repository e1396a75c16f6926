from pathlib import Path

import pytest

from rag.errors import ConfigError
from rag.settings import Settings


def test_defaults_toml_environment_and_overrides_in_that_order(tmp_path):
    config = tmp_path / "rag.toml"
    config.write_text('top_k = 7\ncandidates = 80\nindex_dir = "elsewhere"\n', encoding="utf-8")
    settings = Settings.load(
        config,
        environ={"RAG_CANDIDATES": "90", "RAG_EMBED_TITLES": "no"},
        index_dir=Path("cli-dir"),
    )
    assert settings.top_k == 7  # from the file
    assert settings.candidates == 90  # the environment beats the file
    assert settings.embed_titles is False
    assert settings.index_dir == Path("cli-dir")  # an explicit override beats both
    assert settings.rrf_k == 10  # a default


def test_config_file_named_by_environment(tmp_path):
    config = tmp_path / "other.toml"
    config.write_text("top_k = 3\n", encoding="utf-8")
    assert Settings.load(environ={"RAG_CONFIG": str(config)}).top_k == 3


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"RAG_TOP_K": "many"}, "setting top_k must be int, got 'many'"),
        ({"RAG_TOP_K": "0"}, "top_k must be at least 1, got 0"),
        ({"RAG_RERANK_POOL": "0"}, "rerank_pool must be at least 1, got 0"),
        ({"RAG_SENTENCE_WEIGHT": "-1"}, "sentence_weight must be 0 or more, got -1.0"),
        (
            {"RAG_CHUNK_TARGET_CHARS": "-5"},
            "chunk_target_chars must be 0 (the index's) or more, got -5",
        ),
        ({"RAG_EMBED_TITLES": "maybe"}, "setting embed_titles must be bool, got 'maybe'"),
        ({"RAG_ABSTAIN_THRESHOLD": "1.5"}, "abstain_threshold must be between 0 and 1, got 1.5"),
        (
            {"RAG_SUPPORT_THRESHOLD_CROSS_LANGUAGE": "-0.1"},
            "support_threshold_cross_language must be between 0 and 1, got -0.1",
        ),
        ({"RAG_QUERY_CENTERING": "2"}, "query_centering must be between 0 and 1, got 2.0"),
        ({"RAG_LLM_TIMEOUT": "0"}, "llm_timeout must be more than 0 seconds, got 0.0"),
        (
            {"RAG_WRITE_LOCK_TIMEOUT": "-1"},
            "write_lock_timeout must be more than 0 seconds, got -1.0",
        ),
        ({"RAG_LLM_RETRIES": "-1"}, "llm_retries must be 0 or more, got -1"),
        ({"RAG_LLM_TEMPERATURE": "3"}, "llm_temperature must be between 0 and 2, got 3.0"),
        ({"RAG_HOST": " "}, "host must not be empty (127.0.0.1 serves this machine only)"),
        (
            {"RAG_CONFIG": "/nonexistent/rag.toml"},
            "config file /nonexistent/rag.toml does not exist",
        ),
    ],
)
def test_bad_values_name_the_setting(environ, message):
    with pytest.raises(ConfigError) as raised:
        Settings.load(environ=environ)
    assert str(raised.value) == message


def test_unknown_keys_in_the_file_are_refused(tmp_path):
    config = tmp_path / "rag.toml"
    config.write_text("top_kk = 3\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="unknown setting\\(s\\) top_kk; known: "):
        Settings.load(config, environ={})


def test_broken_toml_is_reported(tmp_path):
    config = tmp_path / "rag.toml"
    config.write_text("top_k = = 3\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        Settings.load(config, environ={})


def test_components_default_to_the_settings_values():
    """One place holds each default: the components read it from Settings."""
    from rag.answers.citations import CitationChecker
    from rag.answers.extractive import ExtractiveAnswerer
    from rag.answers.generation import LLMConfig
    from rag.answers.retrieval import Retriever

    retriever = Retriever(store=None, embedder=None)
    assert (retriever.k, retriever.candidates, retriever.rrf_k) == (
        Settings().top_k, Settings().candidates, Settings().rrf_k,
    )  # fmt: skip
    assert ExtractiveAnswerer().threshold_same_language == Settings().abstain_threshold
    assert CitationChecker(None).threshold_cross_language == (
        Settings().support_threshold_cross_language
    )
    assert LLMConfig(model="m").timeout == Settings().llm_timeout


def test_a_bad_rate_limit_storage_is_named():
    from rag.access import Access

    with pytest.raises(ConfigError, match="rate_limit_storage 'nowhere://x' cannot be used"):
        Access(Settings.load(environ={"RAG_RATE_LIMIT_STORAGE": "nowhere://x"}))
