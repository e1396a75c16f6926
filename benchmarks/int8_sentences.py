"""A cheaper sentence pass, measured (#34): an index's sentence vectors made again by the
int8 model (the chunks, and the questions, keep the fp32 model), then ``rag eval`` on both.

    python benchmarks/int8_sentences.py --index runs/s34-xa/index --copy runs/int8s-xa/index
    rag eval ../shared/data/qa/xquad-dev.ar.json --index runs/int8s-xa/index \
        --no-hidden-gold --out runs/int8s-xa

Prints the seconds the int8 pass took and the same pass with the index's own model (the
speed the choice is about); the quality is ``rag eval``'s (best sentence holds the answer,
first citation gold), compared per language with the same command on the original index.
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rag.embeddings import BUILTIN_E5_INT8, load_embedder  # noqa: E402
from rag.news.sentence_pass import fill_sentence_vectors  # noqa: E402
from rag.pipeline import Pipeline  # noqa: E402
from rag.settings import Settings  # noqa: E402


def remake_sentences(index: Path, model: str | None) -> tuple[int, float]:
    """Delete the index's sentence vectors and make them again with ``model`` (None: the
    index's own): (articles, seconds)."""
    with sqlite3.connect(index / "index.sqlite") as db:
        db.execute("DELETE FROM sentence_vectors")
    pipeline = Pipeline(Settings.load(index_dir=index))
    indexer = pipeline.indexer(store=pipeline.open_store())
    if model is not None:
        settings = pipeline.settings
        embedder = load_embedder(
            model, models_dir=settings.models_dir, threads=settings.threads or None
        )
        indexer = replace(indexer, embedder=embedder)
    indexer.embedder.embed_passages(["warm up"])  # either model loaded before the clock starts
    started = time.perf_counter()
    done = fill_sentence_vectors(indexer)
    return done, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", type=Path, required=True, help="an index with sentence vectors")
    parser.add_argument("--copy", type=Path, required=True, help="where the int8 copy goes")
    args = parser.parse_args()
    shutil.rmtree(args.copy, ignore_errors=True)
    shutil.copytree(args.index, args.copy)
    timing = args.copy.with_name(args.copy.name + "-timing")
    shutil.rmtree(timing, ignore_errors=True)
    shutil.copytree(args.index, timing)
    own = remake_sentences(timing, None)
    int8 = remake_sentences(args.copy, BUILTIN_E5_INT8)
    shutil.rmtree(timing)
    print(f"own model: {own[0]} articles in {own[1]:.1f} s; int8: {int8[0]} in {int8[1]:.1f} s "
          f"({own[1] / int8[1]:.2f}x)")  # fmt: skip


if __name__ == "__main__":
    main()
