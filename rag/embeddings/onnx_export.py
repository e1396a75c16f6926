"""Export a sentence-transformers folder (a BERT/XLM-R encoder with mean pooling) to ONNX,
in fp32 or with int8 weights, for ``OnnxEmbedder``.

The graph is the encoder, mean pooling and L2 normalisation in one piece, exported with
the "eager" attention (its matrix products quantise and run faster in onnxruntime than the
SDPA export; measured in docs/benchmarks.md). For int8, its MatMul weights are quantised
dynamically to int8, per output channel, except the feed-forward output projections: the
GELU activations they take have outliers that int8 flattens (keeping those 12 in fp32
halves the drift from the fp32 vectors, mean cosine 0.9959 -> 0.9979, for ~10% of the speed).

The weights are then moved out of the graph into a file beside it, which onnxruntime maps
into memory instead of reading and copying: a process opens the model in ~0.15 s instead of
~1.1 s and holds ~150 MB of it instead of ~870 MB, and sessions share its pages. The vectors
are the same to the bit::

    <folder>/
      model.onnx + model.onnx.data (fp32), or model_int8.onnx + model_int8.onnx.data
      tokenizer.json
      rag_export.json  (source folder's weights sha256, exporter version, vector dimension,
                        tool versions; the digest of the model as one file, which indexes
                        built by earlier versions recorded, and of the two files it became)
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import warnings
from contextlib import contextmanager
from pathlib import Path

from rag.embeddings.base import build_folder_once, digest_of_files
from rag.embeddings.onnx_backend import EXPORT_RECORD, weights_file
from rag.embeddings.sentence_transformers_backend import quiet_transformers
from rag.errors import EmbedderError

EXPORTER_VERSION = 3
INT8_FILE = "model_int8.onnx"
FP32_FILE = "model.onnx"
MARKER = EXPORT_RECORD
_TORCH_FLOAT = 1  # onnx.TensorProto.FLOAT
_FEED_FORWARD_OUTPUT = re.compile(r"layer\.\d+/output/dense/MatMul$")


def export_onnx(source: Path, out_dir: Path, source_sha256: str, *, int8: bool) -> Path:
    """Write the ONNX folder (fp32, or int8 when ``int8``) for the sentence-transformers
    model in ``source``, atomically."""

    def write(folder: Path) -> None:
        versions = _export(source, folder, int8)
        shutil.copy(source / "tokenizer.json", folder / "tokenizer.json")
        dimension = json.loads((source / "config.json").read_text())["hidden_size"]
        record = {
            "source_sha256": source_sha256,
            "exporter_version": EXPORTER_VERSION,
            "dimension": dimension,
            **versions,
        }
        (folder / MARKER).write_text(json.dumps(record, indent=2))

    return build_folder_once(out_dir, MARKER, write)


def export_fp32_graph(source: Path, path: Path) -> None:
    """The encoder (eager attention), mean pooling and normalisation as one fp32 ONNX graph."""
    import torch  # only here: a process that only runs the exported model never loads it
    from transformers import AutoModel, AutoTokenizer

    quiet_transformers()
    encoder = AutoModel.from_pretrained(
        str(source), attn_implementation="eager", dtype=torch.float32
    ).eval()
    tokenizer = AutoTokenizer.from_pretrained(str(source))
    sample = tokenizer(["passage: a", "passage: بب"], padding=True, return_tensors="pt")
    axes = {"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"}}
    with torch.no_grad(), _quiet():
        torch.onnx.export(
            _mean_pooled(encoder),
            (sample["input_ids"], sample["attention_mask"]),
            str(path),
            input_names=["input_ids", "attention_mask"],
            output_names=["embedding"],
            dynamic_axes=axes,
            opset_version=17,
            dynamo=False,
        )


def _export(source: Path, folder: Path, int8: bool) -> dict:
    import onnxruntime
    import torch

    fp32 = folder / FP32_FILE
    export_fp32_graph(source, fp32)
    if int8:
        _quantise(fp32, folder / INT8_FILE)
        fp32.unlink()
    digests = move_weights_beside(folder / (INT8_FILE if int8 else FP32_FILE))
    return {"torch": torch.__version__, "onnxruntime": onnxruntime.__version__, **digests}


def move_weights_beside(model: Path) -> dict:
    """Rewrite ``model`` with its weights in ``<name>.data`` beside it (see the module
    docstring). Returns the digest of the model as one file (the identity earlier versions
    gave these weights, ``weights_sha256``) and of the two files (``files_sha256``)."""
    import onnx

    single_file = digest_of_files([model])
    onnx.save_model(
        onnx.load(str(model)),
        str(model),
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location=weights_file(model).name,
        size_threshold=1024,
    )
    return {
        "weights_sha256": single_file,
        "files_sha256": digest_of_files([model, weights_file(model)]),
    }


def _quantise(fp32: Path, int8: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with _quiet():
        quantize_dynamic(
            str(fp32),
            str(int8),
            weight_type=QuantType.QInt8,
            per_channel=True,
            op_types_to_quantize=["MatMul"],
            nodes_to_exclude=_feed_forward_outputs(fp32),
            extra_options={"DefaultTensorType": _TORCH_FLOAT},
        )


@contextmanager
def _quiet():
    """Silence the exporter's tracer warnings and the quantiser's advice (logged on the root
    logger): they concern the tools, not anything a user can act on."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        root.setLevel(level)


def _feed_forward_outputs(model: Path) -> list[str]:
    """The MatMul nodes of each layer's feed-forward output projection."""
    import onnx

    names = [
        node.name
        for node in onnx.load(str(model)).graph.node
        if node.op_type == "MatMul" and _FEED_FORWARD_OUTPUT.search(node.name)
    ]
    if not names:
        raise EmbedderError(f"no feed-forward output projections found in {model}")
    return names


def _mean_pooled(encoder):
    """The encoder, mean pooling over real tokens and L2 normalisation as one module."""
    import torch

    class MeanPooled(torch.nn.Module):
        def __init__(self, encoder):
            super().__init__()
            self.encoder = encoder

        def forward(self, input_ids, attention_mask):
            hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask)[0]
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, dim=-1)

    return MeanPooled(encoder)
