"""Commands that serve and measure: serve, slack, eval, feedback export."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from rag.cli.common import (
    SEEDS_DIR,
    Config,
    IndexDir,
    Verbose,
    _fail,
    _pipeline,
    _run,
    app,
)
from rag.settings import Settings
from rag.store import IndexStore


@app.command("serve")
def serve_command(
    index_dir: IndexDir = None,
    host: Annotated[str | None, typer.Option("--host", help="Default 127.0.0.1.")] = None,
    port: Annotated[int | None, typer.Option("--port", help="Default 7860.")] = None,
    seeds: Annotated[
        Path, typer.Option("--seeds", help="Articles to index when there is no index.")
    ] = SEEDS_DIR,
    config: Config = None,
    verbose: Verbose = False,
):
    """Serve the web chat, the HTTP API (/v1, /docs) and Slack (if configured)."""

    def body():
        from rag.server import serve

        pipeline = _pipeline(config, verbose, index_dir=index_dir, host=host, port=port)
        settings = pipeline.settings
        if not IndexStore.exists(settings.index_dir):
            typer.echo(f"first run: indexing the articles of {seeds} …")
        typer.echo("loading the model and the index …")  # stderr is for what went wrong
        serve(settings, seeds=seeds)  # says "the chat is ready at …" once it is

    _run(body)


@app.command("eval")
def eval_command(
    dataset: Annotated[
        list[str], typer.Argument(help="DATASET (SQuAD .json or .jsonl), or: compare RUN_A RUN_B")
    ],
    out: Annotated[Path | None, typer.Option("--out", help="Run folder, e.g. runs/NAME.")] = None,
    index: Annotated[
        Path | None, typer.Option("--index", "--index-dir", help="Evaluate this index.")
    ] = None,
    build_from_contexts: Annotated[
        bool, typer.Option("--build-from-contexts", help="Index the dataset's paragraphs.")
    ] = False,
    contexts: Annotated[
        Path | None, typer.Option("--contexts", help="Parallel SQuAD file giving the paragraphs.")
    ] = None,
    distractors: Annotated[
        Path | None, typer.Option("--distractors", help="Articles added to the built index.")
    ] = None,
    distractor_limit: Annotated[int, typer.Option("--distractor-limit")] = 2000,
    llm: Annotated[str | None, typer.Option("--llm", help="litellm model for answers.")] = None,
    judge: Annotated[str | None, typer.Option("--judge", help="litellm model as judge.")] = None,
    limit: Annotated[int | None, typer.Option("--limit", help="First N questions.")] = None,
    no_hidden: Annotated[
        bool, typer.Option("--no-hidden-gold", help="Skip asking without the gold article.")
    ] = False,
    config: Config = None,
):
    """Evaluate answer accuracy; `rag eval compare RUN_A RUN_B` compares two runs."""

    def body():
        from rag.evaluation.datasets import load_dataset
        from rag.evaluation.report import compare_runs, format_comparison, format_summary
        from rag.evaluation.runner import EvalOptions, load_run, run_evaluation

        if dataset[0] == "compare":
            if len(dataset) != 3:
                raise _fail("usage: rag eval compare RUN_A RUN_B", 2)
            typer.echo(format_comparison(compare_runs(load_run(dataset[1]), load_run(dataset[2]))))
            return
        if len(dataset) != 1:
            raise _fail("give one dataset file (or: rag eval compare RUN_A RUN_B)", 2)
        if out is None:
            raise _fail("--out is required, e.g. --out runs/xquad-ar", 2)
        if index is not None and build_from_contexts:
            raise _fail("use --index or --build-from-contexts, not both", 2)
        data = load_dataset(Path(dataset[0]), contexts=contexts)
        options = EvalOptions(out, index, build_from_contexts, distractors, distractor_limit,
                              llm, judge, limit, not no_hidden)  # fmt: skip
        settings = _pipeline(config).settings
        summary = run_evaluation(data, options, settings, sys.argv, progress=_stage_bar)
        merged = summary.get("merged_paragraphs", {})
        if merged:
            typer.echo(f"{len(merged)} paragraph(s) repeat an earlier one's text and were "
                       "indexed once; their questions count that copy as gold: "
                       + ", ".join(f"{a} -> {b}" for a, b in list(merged.items())[:10])
                       + (" ..." if len(merged) > 10 else ""), err=True)  # fmt: skip
        typer.echo(format_summary(summary))
        typer.echo(f"wrote {out}/results.jsonl, summary.json and report.html")

    _run(body)


def _stage_bar(label: str, total: int):
    from tqdm import tqdm

    bar = tqdm(total=total, desc=label, unit="", file=sys.stderr, leave=False)
    return lambda n=1: bar.update(n)


@app.command("slack")
def slack_command(
    socket: Annotated[
        bool, typer.Option("--socket", help="Connect over Socket Mode (needs slack_app_token).")
    ] = False,
    index_dir: IndexDir = None,
    config: Config = None,
    verbose: Verbose = False,
):
    """Run the Slack app alone. Over HTTP, `rag serve` already serves it at /slack/events."""

    def body():
        if not socket:
            raise _fail("use `rag slack --socket`, or `rag serve` for the Events API over HTTP", 2)
        from rag.service import Service
        from rag.slack import run_socket_mode

        settings = _pipeline(config, verbose, index_dir=index_dir).settings
        if not settings.slack_bot_token:
            raise _fail("set slack_bot_token (RAG_SLACK_BOT_TOKEN, xoxb-...)")
        typer.echo("connecting to Slack over Socket Mode (Ctrl-C stops)")
        run_socket_mode(Service.start(settings))

    _run(body)


feedback_app = typer.Typer(help="Answers rated in the web chat, Slack or the API.")


app.add_typer(feedback_app, name="feedback")


@feedback_app.command("export")
def feedback_export_command(
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="JSONL file (default: standard output).")
    ] = None,
    include_negative: Annotated[
        bool, typer.Option("--include-negative", help="Also 👎 answers (no gold; for review).")
    ] = False,
    index_dir: IndexDir = None,
    config: Config = None,
):
    """Write 👍 answers as JSONL in the format `rag eval` reads."""

    def body():
        from rag.feedback import FeedbackStore

        store = FeedbackStore(Settings.load(config, index_dir=index_dir).index_dir)
        if out is None:
            count = store.export(sys.stdout, include_negative=include_negative)
        else:
            with open(out, "w", encoding="utf-8") as handle:
                count = store.export(handle, include_negative=include_negative)
        typer.echo(f"exported {count} rated answers", err=True)

    _run(body)
