"""What every command shares: the app, the options, and how a command fails (one line and
an exit code, never a traceback)."""

from __future__ import annotations

import logging
import sqlite3
import sys
from pathlib import Path
from typing import Annotated

import typer

from rag.errors import RagError
from rag.pipeline import Pipeline
from rag.settings import Settings
from rag.store import database

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


def _stderr(line: str) -> None:
    typer.echo(line, err=True)


def _progress_bar(total: int, what: str | None = None):
    """Articles done and left, the rate and the time remaining, on standard error."""
    from tqdm import tqdm

    return tqdm(total=total, desc=what, unit="article", file=sys.stderr, dynamic_ncols=True)


class TwoPasses:
    """The progress of `rag ingest`: articles made searchable, then sentence vectors made
    (each with the count left, the rate and the time remaining); failures on their own line."""

    def __init__(self, articles: int, shown: bool):
        self.shown = shown
        self.bar = _progress_bar(articles, "searchable") if shown else None

    def searchable(self, done: int) -> None:
        if self.bar is not None:
            self.bar.update(done)

    def failed(self, failure) -> None:
        (self.bar.write if self.bar is not None else _stderr)(
            f"failed: {failure.origin}: {failure.reason}"
        )

    def sentences(self, left: int):
        """The second pass begins, ``left`` articles to go: its progress callback."""
        self.close()
        if self.shown and left:
            self.bar = _progress_bar(left, "sentence vectors")
            return self.bar.update
        return None

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


SEEDS_DIR = Path(__file__).resolve().parents[1] / "data" / "seeds"  # shipped in the wheel
