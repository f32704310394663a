"""The command line: a thin face over the Library. Exit codes: 0 all good, 1 done but some records
rejected, 2 unusable input or usage error (3: a harvest failed).

Each command group is a module of this package with a `typer.Typer`; `GROUPS` registers it, one
line each: `"module:attribute": name`, where name None adds the group's commands at the top level
(`paperfeed search`) and a name makes a sub-command (`paperfeed users add`).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Annotated

import typer

from paperfeed.cli.common import State

GROUPS: dict[str, str | None] = {
    "papers:app": None,  # import, search, related, index, eval, show, daily, trending, papers, ...
    "serve:app": None,  # serve
    "users:app": "users",
    "digest:subscribers_app": "subscribers",
    "digest:digest_app": "digest",
    "harvest:harvest_app": "harvest",
    "personal:library_app": "library",
    "personal:app": None,  # recommend
    "community:app": None,  # submit
    "community:comments_app": "comments",
    "mcp:app": None,  # mcp (the MCP server over stdio)
    "tokens:app": "tokens",
}

app = typer.Typer(
    help="paperfeed: self-hosted research-paper discovery.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def main_options(
    ctx: typer.Context,
    home: Annotated[
        Path | None,
        typer.Option(help="Data directory (default $PAPERFEED_HOME or the XDG data folder)."),
    ] = None,
    database: Annotated[
        str | None,
        typer.Option(help="Database URL (sqlite:///… or postgresql://…); overrides --home."),
    ] = None,
) -> None:
    ctx.obj = State(home=home, database=database)


for _where, _name in GROUPS.items():
    _module, _, _attribute = _where.partition(":")
    app.add_typer(getattr(importlib.import_module(f"paperfeed.cli.{_module}"), _attribute), name=_name)


def main() -> None:
    app()
