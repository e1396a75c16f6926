"""Commands that search and answer: search, ask, chat."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from rag.access import OWNER
from rag.answers.retrieval import Filters
from rag.cli.common import (
    SEEDS_DIR,
    AsJson,
    AsOf,
    Config,
    DateFrom,
    DateTo,
    IndexDir,
    Sources,
    TopK,
    Verbose,
    _pipeline,
    _run,
    _service,
    app,
)
from rag.text.dates import parse_day
from rag.types import Answer, Citation, Hit


@app.command("search")
def search_command(
    query: Annotated[str, typer.Argument(help="A question, in any language.")],
    k: TopK = None,
    source: Sources = None,
    date_from: DateFrom = None,
    date_to: DateTo = None,
    as_of: AsOf = None,
    index_dir: IndexDir = None,
    as_json: AsJson = False,
    config: Config = None,
    verbose: Verbose = False,
):
    """Print the passages that best answer QUERY."""

    def body():
        if not query.strip():
            raise ValueError("the query is empty")
        service = _service(config, verbose, index_dir=index_dir)
        filters = Filters(tuple(source or ()), date_from, date_to)
        result = service.search(
            OWNER, query, k=k, filters=filters, as_of=parse_day(as_of, "--as-of")
        )
        if as_json:
            payload = {
                "query": query,
                "hits": [_hit_dict(h, rank) for rank, h in enumerate(result.hits, start=1)],
                "timings": result.timings,
            }
            typer.echo(json.dumps(payload, ensure_ascii=False, indent=2))
            return
        if not result.hits:
            typer.echo("no passages found" + _unknown_sources(service, filters.sources))
        for rank, hit in enumerate(result.hits, start=1):
            typer.echo(_format_hit(rank, hit))

    _run(body)


def _unknown_sources(service, sources: tuple[str, ...]) -> str:
    """Why a search with ``--source`` found nothing, when no such source is indexed."""
    indexed = service.sources()
    unknown = [s for s in sources if s not in indexed]
    if not unknown:
        return ""
    known = ", ".join(indexed) or "none"
    return f": no source named {', '.join(unknown)} is indexed (the sources are: {known})"


def _hit_dict(hit: Hit, rank: int) -> dict:
    data = {"rank": rank, **asdict(hit)}
    data["chunk"]["sentences"] = [[s.start, s.end] for s in hit.chunk.sentences]
    return data


def _format_hit(rank: int, hit: Hit) -> str:
    """A hit as `rag search` prints it: the search's order weighs the fused score and the
    best sentence together (``Retriever``), so both are shown, and neither as "the" score."""
    chunk = hit.chunk
    where = " · ".join(x for x in (chunk.source, chunk.date[:10]) if x)
    ranks = ", ".join(
        f"{name} #{r}" for name, r in (("dense", hit.dense_rank), ("bm25", hit.bm25_rank)) if r
    )
    sentence = f" · best sentence {hit.best_sentence.score:.3f}" if hit.best_sentence else ""
    lines = [f"{rank}. {chunk.title or '(untitled)'}" + (f"  [{where}]" if where else "")]
    lines.append(
        f"   {chunk.id}  fused {hit.score:.4f} ({ranks}){sentence}"
        + (f"  {chunk.url}" if chunk.url else "")
    )
    if hit.best_sentence:
        lines.append(f"   » {hit.best_sentence.text}")
    if hit.duplicates:
        lines.append(f"   (+{len(hit.duplicates)} near-identical passage(s) collapsed)")
    return "\n".join(lines)


@app.command("ask")
def ask_command(
    question: Annotated[str, typer.Argument(help="A question, in any language.")],
    k: TopK = None,
    source: Sources = None,
    date_from: DateFrom = None,
    date_to: DateTo = None,
    as_of: AsOf = None,
    language: Annotated[
        str | None, typer.Option("--language", help="Answer in this language (ar, en).")
    ] = None,
    llm: Annotated[
        str | None, typer.Option("--llm", help="A litellm model name (default: none, extractive).")
    ] = None,
    stream: Annotated[bool, typer.Option("--stream/--no-stream")] = True,
    index_dir: IndexDir = None,
    as_json: AsJson = False,
    config: Config = None,
    verbose: Verbose = False,
):
    """Answer QUESTION with citations to the exact source sentences."""

    def body():
        service = _service(config, verbose, index_dir=index_dir, llm_model=llm)
        filters = Filters(tuple(source or ()), date_from, date_to)
        streamed = stream and not as_json and service.settings.llm_model
        on_token = (lambda t: typer.echo(t, nl=False)) if streamed else None
        answer = service.ask(OWNER, question, k=k, filters=filters, language=language,
                             on_token=on_token, as_of=parse_day(as_of, "--as-of"))  # fmt: skip
        if as_json:
            typer.echo(json.dumps(asdict(answer), ensure_ascii=False, indent=2))
            return
        if streamed:
            typer.echo("\n")
        typer.echo(format_answer(answer, show_text=not streamed or answer.mode != "generated"))

    _run(body)


def format_answer(answer: Answer, *, show_text: bool = True) -> str:
    """The answer, its notes, then the numbered sources with the sentence each supports."""
    lines = [answer.text, ""] if show_text else []
    lines += [f"note: {note}" for note in answer.notes]
    for claim in answer.claims:
        if not claim.supported:
            lines.append(f"unsupported: {claim.text}")
    if answer.citations:
        lines.append("Sources:")
        lines += [_format_citation(c) for c in answer.citations]
    if answer.uncited:
        lines.append("Also retrieved (not cited):")
        lines += [_format_citation(c) for c in answer.uncited]
    return "\n".join(lines).rstrip()


def _format_citation(citation: Citation) -> str:
    where = ", ".join(x for x in (citation.source, citation.date[:10], citation.url) if x)
    head = f"[{citation.marker}] {citation.title or '(untitled)'}" + (
        f" ({where})" if where else ""
    )
    return "\n".join([head] + [
        f"    “{q.quote}” (characters {q.start}-{q.end})" for q in citation.quotes()
    ])  # fmt: skip


@app.command("chat")
def chat_command(
    index_dir: IndexDir = None,
    seeds: Annotated[
        Path, typer.Option("--seeds", help="Articles to index when there is no index.")
    ] = SEEDS_DIR,
    k: Annotated[int | None, typer.Option("-k", help="How many passages to read.")] = None,
    llm: Annotated[
        str | None, typer.Option("--llm", help="A litellm model name (default: none, extractive).")
    ] = None,
    config: Config = None,
):
    """Ask questions in the terminal, follow-ups included.

    Each answer comes with its numbered sources; the index is built from seeds/ when there
    is none."""

    def body():
        pipeline = _pipeline(config, index_dir=index_dir, llm_model=llm)
        report = pipeline.ensure_index(seeds)
        if report:
            typer.echo(
                f"built the index in {pipeline.settings.index_dir} from {seeds}: {report.summary()}"
            )
        from rag.service import Service

        service = Service.open(pipeline.settings)
        typer.echo(
            'Ask a question (for example "What did Araghchi say about enrichment?"); Ctrl-D quits.'
        )
        history: list[dict] = []
        typer.echo("> ", nl=False)
        for line in sys.stdin:
            question = line.strip()
            if question:
                answer = service.ask(OWNER, question, k=k, history=history)
                typer.echo(format_answer(answer))
                history += [{"role": "user", "content": question},
                            {"role": "assistant", "content": answer.text}]  # fmt: skip
            typer.echo("> ", nl=False)
        typer.echo("")

    _run(body)
