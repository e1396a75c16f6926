"""Run every question of a dataset through the chat's own retrieval and answering code.

``evaluate`` writes ``results.jsonl`` (one row a question) and returns the summary that
``summary.json`` and ``report.html`` show.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timezone
from pathlib import Path

from rag.answers.answering import Answerer
from rag.answers.retrieval import Filters, Retriever
from rag.errors import RagError
from rag.evaluation import metrics as m
from rag.evaluation import time_questions
from rag.evaluation.datasets import Dataset, EvalQuestion
from rag.evaluation.judge import Judge
from rag.settings import Settings
from rag.text.dates import parse_day
from rag.types import Answer, Chunk, Citation

DEPTH = 20
_MARKERS = re.compile(r"\s*\[\d{1,3}\]")


@dataclass
class EvalRun:
    """What one evaluation needs: the chat's answerer and retriever, and options."""

    answerer: Answerer
    retriever: Retriever
    source_of: Callable[[str], str]  # article id -> its source (for the breakdown)
    judge: Judge | None = None
    hide_gold: bool = True  # also ask each answerable question without its gold article


def evaluate(run: EvalRun, questions: Iterable[EvalQuestion], results_path: Path,
             on_progress: Callable[[], None] | None = None) -> list[dict]:  # fmt: skip
    """Evaluate ``questions``, writing each row to ``results_path`` as it is made."""
    rows = []
    with open(results_path, "w", encoding="utf-8") as out:
        for question in questions:
            row = evaluate_question(run, question)
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
            out.flush()
            rows.append(row)
            if on_progress:
                on_progress()
    return rows


def evaluate_question(run: EvalRun, q: EvalQuestion) -> dict:
    if q.kind:
        return evaluate_time_question(run, q)
    search = run.retriever.search(q.question, k=DEPTH)  # in the order the chat shows
    relevant = [is_gold_chunk(h.chunk, q, h.duplicates) for h in search.hits]
    rank = relevant.index(True) + 1 if True in relevant else None
    answer = run.answerer.answer(q.question)
    scored = answer_span(answer)
    cited_gold = [citation_holds_answer(c, q) for c in answer.citations]
    row = {
        "id": q.id,
        "question": q.question,
        "lang": q.lang,
        "answerable": q.answerable,
        "gold_answers": list(q.answers),
        "gold_article": q.gold_article,
        "source": run.source_of(q.gold_article) if q.gold_article else "",
        "answer": answer.text,
        "abstained": answer.abstained,
        "mode": answer.mode,
        "confidence": answer.confidence,
        "citations": [asdict(c) for c in answer.citations],
        "retrieved": [h.chunk.id for h in search.hits],
        "gold_rank": rank,
        "timings": {**answer.timings, "retrieval_eval": sum(search.timings.values())},
        "metrics": {},
    }
    metrics = row["metrics"]
    if q.answerable:
        metrics.update(
            {f"recall@{k}": m.recall_at(rank, k) for k in (1, 5, 20)}
            | {"mrr@10": m.reciprocal_rank(rank), "ndcg@10": m.ndcg_at(relevant, 10)}
        )
        answered = not answer.abstained
        metrics["exact_match"] = m.exact_match(scored, q.answers) if answered else 0.0
        metrics["f1"] = m.token_f1(scored, q.answers) if answered else 0.0
        metrics["contains_answer"] = m.contains_answer(scored, q.answers) if answered else 0.0
        metrics["false_abstention"] = float(answer.abstained)
        if answer.citations:
            metrics["citation_precision"] = sum(cited_gold) / len(cited_gold)
            from_gold = [citation_from_gold(c, q) for c in answer.citations]
            metrics["first_citation_gold"] = float(from_gold[0])
            metrics["cited_from_gold"] = sum(from_gold) / len(from_gold)
        metrics["citation_recall"] = float(any(cited_gold))
    else:
        metrics["abstention"] = float(answer.abstained)
    if answer.claims and not answer.abstained:
        unsupported = sum(not c.supported for c in answer.claims)
        metrics["unsupported_claims"] = unsupported / len(answer.claims)
    metrics["language_ok"] = float(answer.answer_language == (answer.question_language or q.lang))
    if q.answerable and run.hide_gold and q.gold_article:
        hidden = run.answerer.answer(
            q.question, filters=Filters(exclude_articles=(q.gold_article,))
        )
        metrics["abstention_without_gold"] = float(hidden.abstained)
    if run.judge and not answer.abstained:
        metrics.update(run.judge.grade(q.question, q.answers, answer))
    return row


def evaluate_time_question(run: EvalRun, q: EvalQuestion) -> dict:
    """A question about time, asked as the chat asks it (its day, its earlier turns) and
    judged by its kind (``rag.evaluation.time_questions``)."""
    as_of = parse_day(q.as_of, "as_of")
    answer = run.answerer.answer(q.question, history=list(q.history), as_of=as_of)
    metrics, failed = time_questions.judge(q, answer)
    return {
        "id": q.id, "question": q.question, "lang": q.lang, "kind": q.kind, "as_of": q.as_of,
        "expect": q.expect, "answerable": False, "gold_answers": [], "gold_article": None,
        "source": "", "answer": answer.text, "abstained": answer.abstained,
        "mode": answer.mode, "confidence": answer.confidence,
        "citations": [asdict(c) for c in answer.citations], "retrieved": [],
        "gold_rank": None, "timings": answer.timings, "metrics": metrics, "failed": failed,
    }  # fmt: skip


def answer_span(answer: Answer) -> str:
    """What EM and F1 compare with the gold answer: the answer's own words, markers removed.

    Extractive answers are their quoted sentences (the intro line is not the answer).
    """
    if answer.abstained:
        return ""
    if answer.mode == "extractive":
        return " ".join(_MARKERS.sub("", c.text) for c in answer.claims)
    return _MARKERS.sub("", answer.text)


def is_gold_chunk(chunk: Chunk, q: EvalQuestion, duplicates: Iterable[str] = ()) -> bool:
    """Gold: holds the gold answer's span, or (no offset known) belongs to the gold article."""
    if q.gold_article:
        if chunk.article_id == q.gold_article:
            return q.answer_start is None or chunk.start <= q.answer_start < chunk.end
        # a near-copy of a gold chunk collapsed into this hit counts as found
        return any(d.rsplit(":", 1)[0] == q.gold_article for d in duplicates)
    if q.gold_urls:
        return chunk.url in q.gold_urls
    return bool(m.contains_answer(chunk.text, q.answers))


def citation_from_gold(c: Citation, q: EvalQuestion) -> bool:
    """A citation of a gold article (or of another newspaper's copy of it)."""
    if q.gold_article:
        return c.article_id == q.gold_article
    return c.url in q.gold_urls


def citation_holds_answer(c: Citation, q: EvalQuestion) -> bool:
    """A cited sentence holds the gold evidence: it covers the gold span or contains the answer
    (and comes from the gold article when one is known)."""
    if q.gold_article and c.article_id != q.gold_article:
        return False
    if q.gold_urls and not q.gold_article and c.url not in q.gold_urls:
        return False
    quotes = c.quotes()  # an article cited once, its quotes together
    if q.answer_start is not None and any(s.start <= q.answer_start < s.end for s in quotes):
        return True
    if q.answers:
        return any(m.contains_answer(s.quote, q.answers) for s in quotes)
    return bool(q.gold_article or q.gold_urls)


# ----- summary --------------------------------------------------------------------------


def summarize(rows: list[dict]) -> dict:
    """Means of every metric (over the rows that have it), by language and by source too."""
    summary = {"questions": len(rows), "metrics": _means(rows)}
    for key in ("lang", "source", "kind"):
        groups = defaultdict(list)
        for row in rows:
            groups[row.get(key) or "(unknown)"].append(row)
        summary[f"by_{key}"] = {
            name: {"questions": len(group), "metrics": _means(group)}
            for name, group in sorted(groups.items())
        }
    summary["recall_curve"] = {
        k: m.mean([m.recall_at(r["gold_rank"], k) for r in rows if r["answerable"]])
        for k in range(1, DEPTH + 1)
    }
    stages = defaultdict(list)
    for row in rows:
        for stage, seconds in row["timings"].items():
            stages[stage].append(seconds * 1000)
    summary["latency_ms"] = {
        stage: {"p50": m.percentile(v, 50), "p95": m.percentile(v, 95)}
        for stage, v in stages.items()
    }
    return summary


def _means(rows: list[dict]) -> dict:
    values = defaultdict(list)
    for row in rows:
        for name, value in row["metrics"].items():
            values[name].append(value)
    ordered = [n for n in m.METRIC_ORDER if n in values] + sorted(set(values) - set(m.METRIC_ORDER))
    return {name: {"mean": m.mean(values[name]), "n": len(values[name])} for name in ordered}


def provenance(settings: Settings, manifest: dict, dataset: Dataset, argv: list[str]) -> dict:
    """What makes a run reproducible: index, models, settings, code version, command."""
    public = {f.name: getattr(settings, f.name) for f in fields(Settings) if f.repr}
    return {
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "dataset": dataset.name,
        "questions": len(dataset.questions),
        "index": {
            "folder": str(settings.index_dir),
            "embedder": manifest.get("embedder", {}),
            "chunking": manifest.get("chunking", {}),
        },
        "llm": settings.llm_model or "(none: extractive)",
        "settings": {k: str(v) if isinstance(v, Path) else v for k, v in public.items()},
        "git_commit": _git_commit(),
        "command": argv,
    }


def _git_commit() -> str:
    try:
        found = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
            cwd=Path(__file__).resolve().parent,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return found.stdout.strip() if found.returncode == 0 else "unknown"


def load_run(folder: Path) -> tuple[dict, list[dict]]:
    """A finished run's summary and rows."""
    folder = Path(folder)
    try:
        summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
        lines = (folder / "results.jsonl").read_text(encoding="utf-8").splitlines()
    except FileNotFoundError as err:
        missing = Path(err.filename).name
        raise RagError(f"{folder} is not an evaluation run: {missing} is missing") from None
    except json.JSONDecodeError as err:
        raise RagError(f"{folder}/summary.json is not valid JSON: {err.msg}") from None
    return summary, [json.loads(line) for line in lines if line.strip()]


# ----- a whole run ----------------------------------------------------------------------


@dataclass
class EvalOptions:
    out: Path
    index: Path | None = None
    build_from_contexts: bool = False
    distractors: Path | None = None
    distractor_limit: int = 2000
    llm: str | None = None
    judge: str | None = None
    limit: int | None = None
    hide_gold: bool = True


def run_evaluation(dataset: Dataset, options: EvalOptions, settings: Settings, argv: list[str],
                   progress=None) -> dict:  # fmt: skip
    """Index (if asked), evaluate, and write results.jsonl, summary.json and report.html."""
    from rag.evaluation.report import render_report
    from rag.news import documents
    from rag.news.ingest import ingest_records
    from rag.pipeline import Pipeline

    options.out.mkdir(parents=True, exist_ok=True)
    if options.build_from_contexts:
        if not dataset.contexts:
            raise RagError(f"{dataset.name} has no paragraphs to index (JSONL datasets: --index)")
        settings = settings.replace(index_dir=options.out / "index")
    elif options.index is not None:
        settings = settings.replace(index_dir=options.index)
    if options.llm:
        settings = settings.replace(llm_model=options.llm)
    pipeline = Pipeline(settings)
    merged: dict[str, str] = {}
    if options.build_from_contexts:
        dataset, merged = dataset.merge_repeated_contexts()
        indexer = pipeline.indexer(rebuild=True)
        records = list(dataset.contexts)
        if options.distractors:
            loaded = documents.load([options.distractors])
            records += [r for _, r in zip(range(options.distractor_limit), loaded, strict=False)]
        ingest_records(records, indexer, on_progress=progress("indexing", len(records)))
        indexer.store.close()
    store = pipeline.open_store()
    judge = None
    if options.judge:
        judge = Judge(Pipeline(settings.replace(llm_model=options.judge)).generator())

    def source_of(article_id: str) -> str:
        try:
            return store.article(article_id).source
        except RagError:
            return ""

    answerer = pipeline.answerer(store)  # one retriever: the answer reuses its sentence vectors
    run = EvalRun(answerer, answerer.retriever, source_of, judge, options.hide_gold)
    questions = dataset.questions[: options.limit]
    rows = evaluate(run, questions, options.out / "results.jsonl",
                    progress("questions", len(questions)))  # fmt: skip
    summary = {"run": provenance(settings, store.manifest, dataset, argv), **summarize(rows)}
    if merged:  # paragraphs indexed once: their questions' gold is the copy kept
        summary["merged_paragraphs"] = merged
    (options.out / "summary.json").write_text(
        json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf-8"
    )
    (options.out / "report.html").write_text(render_report(summary, rows), encoding="utf-8")
    return summary
