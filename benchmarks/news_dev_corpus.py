"""The articles an index for news-dev needs: every gold and ``also_urls`` article of the set,
plus the first N other SaudiNewsNet articles as the haystack (the issue's minimum is 5,000;
the whole corpus is the real test). Written as JSONL for ``rag ingest``::

    python benchmarks/news_dev_corpus.py --others 5000 --out runs/news-dev-corpus.jsonl
    rag ingest runs/news-dev-corpus.jsonl seeds --index-dir runs/news-dev-index
    rag eval ../shared/data/qa/news-dev.jsonl --index runs/news-dev-index --out runs/news-dev

(``--others 0`` writes the gold articles only; ``--others -1`` the whole corpus.)
"""

from __future__ import annotations

import argparse
import gzip
import json
from pathlib import Path

from common import DATA, NEWS

NEWS_DEV = DATA / "qa" / "news-dev.jsonl"


def gold_urls(path: Path = NEWS_DEV) -> set[str]:
    urls = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            record = json.loads(line)
            urls.update(u for u in [record.get("gold_url"), *record.get("also_urls", [])] if u)
    return urls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--others", type=int, default=5000, help="-1: the whole corpus")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    wanted = gold_urls()
    found, others = set(), 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(NEWS, "rt", encoding="utf-8") as lines, open(args.out, "w") as out:
        for line in lines:
            record = json.loads(line)
            url = record.get("url") or ""
            if url in wanted:
                found.add(url)
            elif args.others < 0 or others < args.others:
                others += 1
            else:
                continue
            out.write(line if line.endswith("\n") else line + "\n")
    print(f"wrote {len(found)} of {len(wanted)} gold articles and {others} others to {args.out}")
    missing = wanted - found
    if missing:
        print(f"not in the corpus: {sorted(missing)[:5]}")


if __name__ == "__main__":
    main()
