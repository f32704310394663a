"""`paperfeed users add | set-admin | set-password | list | export | upvote`: accounts of the web
app."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from paperfeed.cli.common import emit_json, library

app = typer.Typer(help="Accounts of the web app.", no_args_is_help=True)


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return typer.prompt("Password", hide_input=True, confirmation_prompt=True)


@app.command("add")
def users_add(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument()],
    admin: Annotated[bool, typer.Option("--admin", help="Give the admin role.")] = False,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin (one line).")
    ] = False,
) -> None:
    """Create a user (prompts for the password), ready to log in: no email to confirm. Only
    --admin makes an admin (the first admin is made here, never by a web sign-up)."""
    password = _read_password(password_stdin)
    with library(ctx) as lib:
        user = lib.accounts.signup(email, password, admin=admin)
    typer.echo(f"created {user.email}{' (admin)' if user.is_admin else ''}")


@app.command("set-admin")
def users_set_admin(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument()],
    revoke: Annotated[bool, typer.Option("--revoke", help="Take the admin role away.")] = False,
) -> None:
    """Give (or with --revoke take away) the admin role, who may import through the web."""
    with library(ctx) as lib:
        user = lib.accounts.set_admin(email, not revoke)
    typer.echo(f"{user.email}: {'admin' if user.is_admin else 'not admin'}")


@app.command("set-password")
def users_set_password(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument()],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin (one line).")
    ] = False,
) -> None:
    """Give a user a new password (prompts for it); their sessions end."""
    password = _read_password(password_stdin)
    with library(ctx) as lib:
        lib.accounts.set_password(email, password)
    typer.echo(f"{email.strip().lower()}: password changed, sessions ended")


@app.command("list")
def users_list(ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The users, oldest first."""
    with library(ctx) as lib:
        users = lib.accounts.users()
    if as_json:
        emit_json([{"email": u.email, "is_admin": u.is_admin, "created_at": u.created_at} for u in users])
        return
    for u in users:
        typer.echo(f"{u.created_at}  {u.email}{'  admin' if u.is_admin else ''}")


@app.command("export")
def users_export(ctx: typer.Context, email: Annotated[str, typer.Argument()]) -> None:
    """A user's own data (upvotes, ...) as JSON on stdout."""
    with library(ctx) as lib:
        emit_json(lib.accounts.export(lib.accounts.user(email)))


@app.command("upvote")
def users_upvote(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument()],
    paper_id: Annotated[str, typer.Argument(metavar="ID")],
) -> None:
    """Toggle a user's upvote on a paper (as the web's upvote button does)."""
    with library(ctx) as lib:
        on = lib.upvote(email, paper_id)
    typer.echo(f"{email}: {'upvoted' if on else 'vote withdrawn'} {paper_id}")
