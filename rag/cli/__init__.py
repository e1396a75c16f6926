"""The ``rag`` command line: ingest, search, ask, chat, serve, stats, check, backup,
restore, delete, feeds, watch, eval, slack, feedback. One module per kind of command;
each registers its commands on ``app``."""

from __future__ import annotations

import re
import sys

# isort: off
# each module registers its commands on the app, in the order `rag --help` lists them
from rag.cli import index, answers, feeds, serving  # noqa: F401
from rag.cli.common import app

# isort: on
__all__ = ["app", "main"]


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
