"""How well the digest groups a day's articles into stories (``rag.answers.digest``).

Over each ``--day`` of an index (the news-time-dev index by default), with the digest the
chat uses:

- **wire-copy recall**: pairs of articles of the day whose lead passages are near copies
  (word overlap, Jaccard, at least ``--copy``): the same agency text in two newspapers.
  Each such pair must be one story; the share that is, is reported.
- **merged by mistake**: pairs of one story whose leads share less than ``--apart`` of
  their words *and* whose vectors are further apart than the grouping's own bar were joined
  by their headlines alone; they are listed for reading, with every story of two or more
  articles among the day's top ``--top``, so that precision is judged by reading them
  (``--out`` holds them all)::

    python benchmarks/story_grouping.py --index-dir runs/news-time-index \\
        --days 2015-07-21 2015-07-22 2015-07-23 2015-07-24 2015-07-25 \\
        --out docs/benchmarks/story-grouping.json
"""

from __future__ import annotations

import argparse
import itertools
import time
from pathlib import Path

import numpy as np
from common import emit

from rag.answers.digest import DigestMaker
from rag.pipeline import Pipeline
from rag.settings import Settings
from rag.text.arabic import jaccard, word_set


def day_figures(maker: DigestMaker, day: str, copy: float, apart: float, top: int) -> dict:
    store = maker.store
    rows = store.lead_rows(day, day)
    chunks = store.chunks(rows)
    leads = {chunks[r].article_id: chunks[r] for r in rows if r in chunks}
    vectors = store.vectors([r for r in rows if r in chunks])
    vector_of = {chunks[r].article_id: np.asarray(v, dtype=np.float32) for r, v in vectors.items()}
    started = time.perf_counter()
    stories = DigestMaker(store, most=len(leads) or 1).digest(day, day).stories
    seconds = time.perf_counter() - started
    story_of = {a: n for n, story in enumerate(stories) for a in story.articles}
    words = {a: word_set(chunk.text) for a, chunk in leads.items()}
    copies = [
        (a, b) for a, b in itertools.combinations(sorted(leads), 2)
        if jaccard(words[a], words[b]) >= copy
    ]  # fmt: skip
    joined = [(a, b) for a, b in copies if story_of.get(a) == story_of.get(b) is not None]
    by_headline = []
    for story in stories:
        for a, b in itertools.combinations(story.articles, 2):
            close = float(vector_of[a] @ vector_of[b]) >= maker.same_story
            if not close and jaccard(words[a], words[b]) < apart:
                by_headline.append([leads[a].title, leads[b].title])
    shown = [
        {"sources": len(s.sources), "articles": [leads[a].title for a in s.articles]}
        for s in stories[:top] if len(s.articles) > 1
    ]  # fmt: skip
    return {
        "day": day, "articles": len(leads), "stories": len(stories),
        "stories_of_two_or_more": sum(len(s.articles) > 1 for s in stories),
        "largest_story": max((len(s.articles) for s in stories), default=0),
        "wire_copy_pairs": len(copies), "wire_copies_in_one_story": len(joined),
        "joined_by_headline_only": by_headline, "top_stories": shown,
        "grouping_ms": round(seconds * 1000, 1),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index-dir", type=Path, required=True)
    parser.add_argument("--days", nargs="+", required=True)
    parser.add_argument("--copy", type=float, default=0.6)
    parser.add_argument("--apart", type=float, default=0.2)
    parser.add_argument("--top", type=int, default=8)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    maker = DigestMaker(Pipeline(Settings.load(index_dir=args.index_dir)).open_store())
    days = [day_figures(maker, day, args.copy, args.apart, args.top) for day in args.days]
    pairs = sum(d["wire_copy_pairs"] for d in days)
    emit({
        "days": days,
        "wire_copy_recall": round(sum(d["wire_copies_in_one_story"] for d in days) / pairs, 3)
        if pairs else None,
        "wire_copy_pairs": pairs,
        "pairs_joined_by_headline_only": sum(len(d["joined_by_headline_only"]) for d in days),
    }, args.out)  # fmt: skip


if __name__ == "__main__":
    main()
