"""Commands that follow news feeds: feeds add/list/remove, watch."""

from __future__ import annotations

import json
import time
from typing import Annotated

import typer

from rag.access import OWNER
from rag.cli.common import (
    AsJson,
    Config,
    IndexDir,
    Verbose,
    _run,
    _service,
    app,
)
from rag.text.counting import counted

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
        feed = _service(config, index_dir=index_dir, create=True).follow_feed(OWNER, url, interval)
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
        _echo_feeds(_service(config, index_dir=index_dir).feed_statuses(OWNER), as_json)

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
        _service(config, index_dir=index_dir).unfollow_feed(OWNER, url)
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
            _echo_feeds(service.poll_feeds(OWNER, every=True), as_json)
            return

        followed = len(service.feed_statuses(OWNER))
        typer.echo(f"watching {counted(followed, '{n} feed|{n} feeds')}; Ctrl-C stops", err=True)
        while True:
            for feed in service.poll_feeds(OWNER):
                if as_json:
                    typer.echo(json.dumps(feed.as_dict(), ensure_ascii=False))
                else:
                    _echo_feed(feed)
            time.sleep(service.seconds_to_next_poll())

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
