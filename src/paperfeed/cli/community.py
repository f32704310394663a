"""`paperfeed submit ID` (a paper onto today's daily list) and `paperfeed comments ...` (a paper's
discussion), acting for `--user EMAIL`, by default the instance owner. Exit 2 for a bad id, a
limit, an id arXiv does not know or an arXiv API that does not answer (nothing is stored then)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from paperfeed.cli.common import emit_json, library
from paperfeed.terminal import clean

app = typer.Typer()

UserOpt = Annotated[
    str | None, typer.Option("--user", help="Act for this account (default: the instance owner).")
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]


@app.command()
def submit(
    ctx: typer.Context,
    paper_id: Annotated[str, typer.Argument(metavar="ID", help="An arXiv id or URL.")],
    user: UserOpt = None,
    as_json: AsJson = False,
) -> None:
    """Submit a paper to today's daily list (fetched from the arXiv API unless held)."""
    with library(ctx) as lib:
        done = lib.submit(paper_id, user=user)
    if as_json:
        emit_json(done.to_dict())
        return
    how = "fetched from arXiv" if done.fetched else "already in the library"
    typer.echo(
        f"{clean(done.paper.id)}: {clean(done.paper.title)} — on the daily list of "
        f"{done.day.isoformat()}, submitted by {clean(done.to_dict()['submitted_by'])} ({how})"
    )


comments_app = typer.Typer(help="A paper's discussion: list, add, edit, delete comments.", no_args_is_help=True)


def _print(comment: Any) -> None:
    if comment.deleted:
        typer.echo(f"{comment.id} [{comment.created_at[:10]}] (deleted)")
        return
    edited = " (edited)" if comment.edited_at else ""
    typer.echo(f"{comment.id} [{comment.created_at[:10]}] {clean(comment.author)}{edited}:")
    for line in comment.body.split("\n"):
        typer.echo("  " + clean(line))


@comments_app.command("list")
def list_comments(
    ctx: typer.Context, paper_id: Annotated[str, typer.Argument(metavar="ID")], as_json: AsJson = False
) -> None:
    """A paper's comments, oldest first."""
    with library(ctx) as lib:
        thread = lib.paper_comments(paper_id)
    if as_json:
        emit_json([c.to_dict() for c in thread])
        return
    if not thread:
        typer.echo("No comments.")
    for c in thread:
        _print(c)


@comments_app.command("add")
def add_comment(
    ctx: typer.Context,
    paper_id: Annotated[str, typer.Argument(metavar="ID")],
    text: Annotated[str, typer.Argument(help="Plain text; blank lines make paragraphs.")],
    user: UserOpt = None,
) -> None:
    """Post a comment under a paper."""
    with library(ctx) as lib:
        _print(lib.comment(paper_id, text, user=user))


@comments_app.command("edit")
def edit_comment(
    ctx: typer.Context,
    comment_id: Annotated[str, typer.Argument(metavar="COMMENT")],
    text: Annotated[str, typer.Argument()],
    user: UserOpt = None,
) -> None:
    """Edit one of your comments."""
    with library(ctx) as lib:
        _print(lib.edit_comment(comment_id, text, user=user))


@comments_app.command("delete")
def delete_comment(
    ctx: typer.Context, comment_id: Annotated[str, typer.Argument(metavar="COMMENT")], user: UserOpt = None
) -> None:
    """Delete one of your comments (an admin: anyone's)."""
    with library(ctx) as lib:
        lib.delete_comment(comment_id, user=user)
    typer.echo(f"deleted {clean(comment_id)}")
