"""The articles news-time-dev assumes: exactly those its URL list names (1,500 SaudiNewsNet
articles of five July days), as JSONL for ``rag ingest``::

    python benchmarks/news_time_corpus.py --out runs/news-time-corpus.jsonl
    rag ingest runs/news-time-corpus.jsonl --index-dir runs/news-time-index
    rag eval ../shared/data/qa/news-time-dev.jsonl --index runs/news-time-index --out runs/news-time
"""

from __future__ import annotations

import argparse
import gzip
import json
from pathlib import Path

from common import DATA, NEWS

URLS = DATA / "qa" / "news-time-dev-urls.txt"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    lines = URLS.read_text(encoding="utf-8").splitlines()
    wanted = {line.strip() for line in lines if line.strip()}
    found = set()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(NEWS, "rt", encoding="utf-8") as lines, open(args.out, "w") as out:
        for line in lines:
            url = json.loads(line).get("url") or ""
            if url in wanted and url not in found:
                found.add(url)
                out.write(line if line.endswith("\n") else line + "\n")
    print(f"wrote {len(found)} of {len(wanted)} articles to {args.out}")
    if wanted - found:
        print(f"not in the corpus: {sorted(wanted - found)[:5]}")


if __name__ == "__main__":
    main()
