"""`rag search` as a whole process: wall time and peak memory, from start to printed hits.

What a user waits for when they ask one question from the shell: interpreter start, imports,
opening the index, loading the model and tokenizer, the search itself. Runs the installed
`rag` command (the same environment as this interpreter) ``--rounds`` times, one after
another, after one untimed run that warms the disk cache ("warm disk" in the targets).

    python benchmarks/start_up.py --index-dir index/some-index --rounds 8 --out start-up.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

QUESTION = "What did Araghchi say about enrichment?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index-dir", type=Path, required=True)
    parser.add_argument("--question", default=QUESTION)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    command = [str(Path(sys.executable).with_name("rag")), "search", args.question]
    command += ["--index-dir", str(args.index_dir)]
    one_run(command)  # warms the disk cache
    runs = [one_run(command) for _ in range(args.rounds)]
    seconds = [run["seconds"] for run in runs]
    result = {
        "command": " ".join(command),
        "rounds": runs,
        "seconds_median": round(statistics.median(seconds), 3),
        "seconds_min": min(seconds),
        "seconds_max": max(seconds),
        "peak_rss_mb_median": statistics.median(run["peak_rss_mb"] for run in runs),
    }
    print(json.dumps(result, indent=2))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")


def one_run(command: list[str]) -> dict:
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    output = process.stdout.read().decode()
    if os.waitstatus_to_exitcode(status) != 0 or "1. " not in output:
        sys.exit(f"rag search failed: {process.stderr.read().decode()}")
    return {"seconds": round(seconds, 3), "peak_rss_mb": round(usage.ru_maxrss / 1024)}


if __name__ == "__main__":
    main()
