"""Shared helpers of the benchmarks: the data in ../shared/data and a benchmark index."""

from __future__ import annotations

import gzip
import itertools
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rag.evaluation.datasets import load_dataset
from rag.news.documents import make_article
from rag.news.ingest import Indexer, ingest_records

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
NEWS = DATA / "news" / "saudinewsnet-2015.jsonl.gz"


@dataclass(frozen=True)
class Question:
    id: str
    text: str
    article_id: str
    answer_start: int
    answers: tuple[str, ...]
    language: str


def squad_articles_and_questions(path: Path, language: str, contexts: Path | None = None):
    """Paragraphs of a SQuAD file as articles, and its questions with their gold paragraph
    (read by ``rag eval``'s own reader; with ``contexts``, paragraphs and gold answers come
    from that parallel file: XQuAD English questions over Arabic paragraphs)."""
    dataset = load_dataset(path, contexts=contexts)
    questions = [
        Question(q.id, q.question, q.gold_article, q.answer_start, q.answers, language)
        for q in dataset.questions
        if q.answerable
    ]
    return dataset.contexts, questions


def xquad_questions():
    """XQuAD-dev's Arabic questions, its English questions over the Arabic paragraphs, and a
    function giving the ids of every paragraph of a question's Wikipedia article (what
    "unanswerable" hides from retrieval)."""
    paragraphs, arabic = squad_articles_and_questions(DATA / "qa/xquad-dev.ar.json", "ar")
    _, english = squad_articles_and_questions(
        DATA / "qa/xquad-dev.en.json", "en", contexts=DATA / "qa/xquad-dev.ar.json"
    )
    return arabic, english, whole_article_of(paragraphs)


def whole_article_of(paragraphs):
    """A function giving the ids of every paragraph of a question's Wikipedia article."""
    title_of = {p.id: p.title for p in paragraphs}
    same_article: dict[str, list[str]] = {}
    for p in paragraphs:
        same_article.setdefault(p.title, []).append(p.id)

    def article_of(question: Question) -> tuple[str, ...]:
        return tuple(same_article[title_of[question.article_id]])

    return article_of


def news_articles(limit: int | None = None, skip: int = 0):
    """SaudiNewsNet articles (distractors), in file order."""
    with gzip.open(NEWS, "rt", encoding="utf-8") as lines:
        for line in itertools.islice(lines, skip, None if limit is None else skip + limit):
            try:
                yield make_article(json.loads(line), "saudinewsnet")
            except Exception:  # a few records lack content; a benchmark just skips them
                continue


def sample_chunk_texts(count: int, articles: int) -> list[str]:
    """The first ``count`` chunk texts of the first ``articles`` SaudiNewsNet articles."""
    from rag.text.chunking import chunk_article

    return [c.text for a in news_articles(limit=articles) for c in chunk_article(a)][:count]


def ingest_timed(records, indexer: Indexer) -> tuple[int, float]:
    """Ingest and return (chunks added, seconds)."""
    started = time.perf_counter()
    report = ingest_records(records, indexer, batch_chunks=512)
    return report.chunks, time.perf_counter() - started


def gold_rank(hit_chunks, question, duplicates=None) -> int | None:
    """Rank of the first gold chunk. A hybrid hit stands for the near-identical chunks collapsed
    into it (ARCD holds near-copies of some paragraphs): one of the gold article counts."""
    for rank, chunk in enumerate(hit_chunks, start=1):
        if (
            chunk.article_id == question.article_id
            and chunk.start <= question.answer_start < chunk.end
        ):
            return rank
        collapsed = duplicates[rank - 1] if duplicates else []
        if any(d.rsplit(":", 1)[0] == question.article_id for d in collapsed):
            return rank
    return None


def logistic_fit(
    x: np.ndarray, y: np.ndarray, l2: float, sample_weight: np.ndarray | None = None
) -> tuple[float, np.ndarray]:
    """(bias, weights) of an L2-regularised logistic regression of ``y`` on the columns of
    ``x`` (each row counted ``sample_weight`` times), fitted on standardised columns by
    Newton's method and returned on the raw ones."""
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-9
    a = np.c_[np.ones(len(x)), (x - mean) / scale]
    w = np.zeros(a.shape[1])
    c = np.ones(len(x)) if sample_weight is None else sample_weight
    penalty = l2 * np.diag(np.r_[0, np.ones(len(w) - 1)])
    for _ in range(50):  # converges in a handful of steps
        p = 1 / (1 + np.exp(-a @ w))
        gradient = a.T @ (c * (p - y)) + penalty @ w
        hessian = (a * (c * p * (1 - p))[:, None]).T @ a + penalty
        w -= np.linalg.solve(hessian, gradient)
    weights = w[1:] / scale
    return float(w[0] - weights @ mean), weights


def recall_at(ranks: list[int | None], k: int) -> float:
    return sum(1 for r in ranks if r is not None and r <= k) / len(ranks)


def mrr_at(ranks: list[int | None], k: int) -> float:
    return sum(1 / r for r in ranks if r is not None and r <= k) / len(ranks)


def rss_mb(pid: int) -> float:
    """A process's resident memory (Linux), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def emit(results: dict, out: Path | None) -> None:
    """Print the results as JSON, with the commit they were measured at, and write them to
    ``out`` if given."""
    results = {"commit": commit(), **results}
    text = json.dumps(results, indent=2, ensure_ascii=False)
    print(text)
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n", encoding="utf-8")


def commit() -> str:
    """The checked-out commit, with ``+changes`` when the work tree differs from it."""
    import subprocess

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], capture_output=True, text=True,
                              cwd=Path(__file__).parent)  # fmt: skip
        return done.stdout.strip()

    head = git("rev-parse", "--short", "HEAD") or "unknown"
    return head + ("+changes" if git("status", "--porcelain", "--untracked-files=no") else "")
