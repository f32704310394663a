"""`paperfeed tokens create|list|revoke`: personal access tokens for the JSON API and MCP, for
`--user EMAIL` (default: the instance owner). The secret is printed once, on stdout, by `create`;
paperfeed keeps only its SHA-256."""

from __future__ import annotations

from typing import Annotated

import typer

from paperfeed.access_tokens import AccessToken, AccessTokens
from paperfeed.cli.common import emit_json, err, library
from paperfeed.cli.personal import UserOpt, term

app = typer.Typer(help="Personal access tokens (JSON API, MCP).", no_args_is_help=True)

AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _data(token: AccessToken) -> dict:
    return {"id": token.id, "name": token.name, "scope": token.scope, "created_at": token.created_at,
            "expires_at": token.expires_at, "last_used_at": token.last_used_at}


@app.command("create")
def create(
    ctx: typer.Context,
    scope: Annotated[str, typer.Option("--scope", help="read (look only) or write (read-write).")],
    name: Annotated[str | None, typer.Option("--name", help="A name to recognise it by.")] = None,
    expires_days: Annotated[
        int | None, typer.Option("--expires-days", help="Expire after this many days (default never).")
    ] = None,
    user: UserOpt = None,
    as_json: AsJson = False,
) -> None:
    """Create a token and print its secret (shown this once)."""
    with library(ctx) as lib:
        owner = lib.user_of(user)
        token, secret = AccessTokens(lib.store.db).create(owner.id, scope, name, expires_days)
    if as_json:
        emit_json({**_data(token), "token": secret})
        return
    err.print(f"token {token.id} ({token.scope}) for {term(owner.email)}: copy it now, it is not shown again",
              markup=False, highlight=False)
    typer.echo(secret)


@app.command("list")
def list_(ctx: typer.Context, user: UserOpt = None, as_json: AsJson = False) -> None:
    """The user's tokens (never their secrets)."""
    with library(ctx) as lib:
        tokens = AccessTokens(lib.store.db).list(lib.user_of(user).id)
    if as_json:
        emit_json([_data(t) for t in tokens])
        return
    for t in tokens:
        expires = f" expires {t.expires_at}" if t.expires_at else ""
        used = f" last used {t.last_used_at}" if t.last_used_at else ""
        typer.echo(f"{t.id}  {t.scope:<5}  {t.created_at}{expires}{used}  {term(t.name)}")


@app.command("revoke")
def revoke(ctx: typer.Context, token_id: Annotated[str, typer.Argument(help="The token's id.")],
           user: UserOpt = None) -> None:
    """Revoke a token: it authenticates nobody from now on."""
    with library(ctx) as lib:
        token = AccessTokens(lib.store.db).revoke(lib.user_of(user).id, token_id)
    err.print(f"revoked {token.id} ({term(token.name)})", markup=False, highlight=False)
