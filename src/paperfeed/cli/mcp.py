"""`paperfeed mcp`: the MCP server over stdio, for an agent that starts paperfeed itself (Claude
Desktop, VS Code, ...). It acts for the owner of the personal access token in `PAPERFEED_TOKEN`
(its scope applies); without one, for the instance owner, read-write: whoever can start this
process can read the data directory anyway. `--read-only` keeps even the owner from changes."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from paperfeed.access_tokens import AccessTokens
from paperfeed.cli.common import fail, library

app = typer.Typer()

TOKEN_ENV = "PAPERFEED_TOKEN"


@app.command("mcp")
def mcp(
    ctx: typer.Context,
    read_only: Annotated[bool, typer.Option("--read-only", help="Refuse the tools that change.")] = False,
) -> None:
    """Serve MCP over stdio (tools: search, paper, related, daily, trending, recommend, save, dismiss)."""
    # Imported here: the MCP SDK takes ~0.3 s to import, which every other command would pay.
    from paperfeed.mcp_server import Caller, build_server

    with library(ctx) as lib:
        secret = os.environ.get(TOKEN_ENV, "").strip()
        if secret:
            token = AccessTokens(lib.store.db).verify(secret)
            if token is None:
                raise fail(f"{TOKEN_ENV} is not a valid, live access token")
            who = Caller(user_id=token.user_id, can_write=token.can_write and not read_only)
        else:
            who = Caller(user_id=lib.user_of(None).id, can_write=not read_only)
        build_server(lib, lambda _ctx: who).run("stdio")
