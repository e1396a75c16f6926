"""What checking the derived files costs on every open: the CRC-32 of ``vectors.faiss`` and
of the lexical files, and the lexical snapshot's bounds, on an index folder of your choice.

    python benchmarks/open_checks.py /tmp/bw135 --out docs/benchmarks/open-checks.json

Each figure is the median of ``--runs`` warm runs (the files in the page cache, as a server
that restarts finds them); the first, cold run is reported apart.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import emit  # noqa: E402

from rag.store.lexical import LexicalIndex  # noqa: E402
from rag.store.manifest import checksum, read_json  # noqa: E402


def timed(action) -> float:
    started = time.perf_counter()
    action()
    return (time.perf_counter() - started) * 1000


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("folder", type=Path)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    stamp = read_json(args.folder / "derived.json")
    steps = {
        "vectors_checksum_ms": lambda: checksum(args.folder / "vectors.faiss"),
        "lexical_load_with_checksums_ms": lambda: LexicalIndex.load(
            args.folder, stamp.get("lexical_checksums")
        ),
        "lexical_load_bounds_only_ms": lambda: LexicalIndex.load(args.folder, None),
    }
    cold = {name: round(timed(step), 1) for name, step in steps.items()}
    warm = {
        name: round(statistics.median(timed(step) for _ in range(args.runs)), 1)
        for name, step in steps.items()
    }
    sizes = {"vectors_mb": round((args.folder / "vectors.faiss").stat().st_size / 1e6),
             "lexical_mb": round(sum(p.stat().st_size for p in (args.folder / "lexical").iterdir())
                                 / 1e6),  # fmt: skip
             "chunks": stamp.get("lexical_docs")}  # fmt: skip
    emit({"index": sizes, "first_run": cold, "warm_median": warm}, args.out)


if __name__ == "__main__":
    main()
