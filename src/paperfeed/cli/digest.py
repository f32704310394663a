"""`paperfeed subscribers add|list|remove` and `paperfeed digest preview|send`.

Exit codes: 0 done; 1 a send run left failures or pending retries (or another send was running);
2 bad input (an invalid address, a line break in a name or topic, an unknown subscriber, no SMTP
server configured).
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from paperfeed.cli.common import emit_json, err, fail, library
from paperfeed.terminal import clean

subscribers_app = typer.Typer(help="Email digest subscribers.", no_args_is_help=True)
digest_app = typer.Typer(help="Email digests: preview and send.", no_args_is_help=True)

AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]


@subscribers_app.command("add")
def subscribers_add(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument()],
    topic: Annotated[list[str] | None, typer.Option("--topic", help="A saved search (repeatable).")] = None,
    name: Annotated[str | None, typer.Option(help="The name shown in To:.")] = None,
    confirmed: Annotated[bool, typer.Option("--confirmed", help="Skip the confirmation email.")] = False,
    no_trending: Annotated[bool, typer.Option("--no-trending", help="Topics only.")] = False,
    weekly: Annotated[bool, typer.Option("--weekly", help="Mondays only (default: weekdays).")] = False,
) -> None:
    """Add or update a subscriber. Without --confirmed a confirmation email (double opt-in) is
    sent, and digests start once its link is followed."""
    with library(ctx) as lib:
        sub, mailed = lib.digests.subscribe(
            email, topic or [], name=name, trending=not no_trending,
            frequency="weekly" if weekly else "weekdays", confirmed=confirmed, admin=True,
        )
    note = "confirmation email sent" if mailed else sub.status
    err.print(f"{sub.email}: {note}", markup=False, highlight=False)


@subscribers_app.command("list")
def subscribers_list(ctx: typer.Context, as_json: AsJson = False) -> None:
    """Every subscriber with status, topics and the last delivery error."""
    with library(ctx) as lib:
        subs = lib.subscribers.list()
    if as_json:
        emit_json([s.to_dict() for s in subs])
        return
    for s in subs:
        topics = "; ".join(s.topics) or "-"
        trending = "on" if s.trending else "off"
        line = f"{s.email}\t{s.status}\t{s.frequency}\ttrending={trending}\ttopics: {topics}"
        if s.last_error:
            line += f"\tlast error ({(s.last_error_at or '')[:16]}): {s.last_error}"
        typer.echo(clean(line))


@subscribers_app.command("remove")
def subscribers_remove(ctx: typer.Context, email: Annotated[str, typer.Argument()]) -> None:
    """Forget a subscriber: its subscription, topics and digest history."""
    with library(ctx) as lib:
        lib.subscribers.remove(email)
    err.print(f"removed {email}", markup=False, highlight=False)


@digest_app.command("preview")
def digest_preview(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument()],
    date: Annotated[str | None, typer.Option(help="YYYY-MM-DD (default: today, UTC).")] = None,
    raw: Annotated[bool, typer.Option("--raw", help="The raw email (MIME, encoded) instead.")] = False,
) -> None:
    """Print the digest EMAIL gets for a day: its headers and decoded plain text (--raw: the
    whole email as sent, text and HTML parts encoded)."""
    with library(ctx) as lib:
        msg = lib.digests.preview(email, date)
    if raw:
        sys.stdout.write(msg.as_string())
        return
    for name, value in msg.items():
        if not name.lower().startswith(("content-", "mime-")):
            typer.echo(clean(f"{name}: {value}"))
    typer.echo("")
    body = msg.get_body(("plain",))
    text = body.get_content() if body is not None else ""
    for line in str(text).splitlines():
        typer.echo(clean(line))


@digest_app.command("send")
def digest_send(
    ctx: typer.Context,
    date: Annotated[str | None, typer.Option(help="YYYY-MM-DD (default: today, UTC).")] = None,
    workers: Annotated[int | None, typer.Option(
        "--workers", min=1, max=64,
        help="Processes that compose the digests (1: this one alone). Default: "
             "PAPERFEED_DIGEST_WORKERS, else one per core (at most 4) for 200 digests or more.",
    )] = None,
    as_json: AsJson = False,
) -> None:
    """Compose the day's due digests and deliver every pending one over SMTP. Safe to rerun:
    each subscriber gets at most one digest a day."""
    with library(ctx) as lib:
        report = lib.digests.send(date, workers=workers)
    if as_json:
        emit_json(report.to_dict())
    if report.locked:
        raise fail(report.locked, code=1)
    if not as_json:
        err.print(report.summary(), markup=False, highlight=False)
    if report.error:
        err.print(f"stopped early: {report.error}", markup=False, highlight=False)
    if report.failed or report.retrying or report.error:
        raise typer.Exit(1)
