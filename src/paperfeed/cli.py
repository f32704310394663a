"""The command line: a thin face over the Library. Exit codes: 0 all good, 1 done but some records
rejected, 2 unusable input or usage error."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from paperfeed.config import Config
from paperfeed.errors import PaperfeedError
from paperfeed.library import Library
from paperfeed.records import Paper

app = typer.Typer(
    help="paperfeed: self-hosted research-paper discovery.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
err = Console(stderr=True, highlight=False)
MAX_REJECTS_SHOWN = 50


@dataclass
class State:
    home: Path | None = None
    database: str | None = None

    def config(self) -> Config:
        return Config.from_env(home=self.home, database_url=self.database)


def fail(message: str, code: int = 2) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}", markup=True, highlight=False, soft_wrap=True)
    return typer.Exit(code)


@contextmanager
def library(ctx: typer.Context):
    """Open the Library for a command; PaperfeedErrors become a message and exit 2."""
    try:
        lib = Library(ctx.ensure_object(State).config())
    except PaperfeedError as exc:
        raise fail(str(exc)) from None
    try:
        yield lib
    except PaperfeedError as exc:
        raise fail(str(exc)) from None
    finally:
        lib.close()


def emit_json(data: Any) -> None:
    sys.stdout.buffer.write(orjson.dumps(data, option=orjson.OPT_INDENT_2) + b"\n")
    sys.stdout.flush()


def print_paper_line(paper: Paper, score: float | None = None) -> None:
    date = paper.day.isoformat() if paper.day else "          "
    votes = f"{paper.upvotes or 0:>4}▲"
    head = f"{score:8.3f} " if score is not None else ""
    typer.echo(f"{head}{votes} {date}  {paper.id:<18} {paper.title}")


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


def _sample_paths() -> list[Path]:
    folder = resources.files("paperfeed") / "sample"
    return sorted(Path(str(p)) for p in folder.iterdir() if p.name.endswith((".txt", ".json")))


@app.command("import")
def import_(
    ctx: typer.Context,
    paths: Annotated[list[Path] | None, typer.Argument(help="Files to import (plain or .gz).")] = None,
    format: Annotated[
        str,
        typer.Option(
            "--format",
            help="auto | arxiv-snapshot | arxiv-atom | arxiv-oai | hf-daily | hf-page | bibtex",
        ),
    ] = "auto",
    no_index: Annotated[bool, typer.Option("--no-index", help="Do not embed new papers.")] = False,
    sample: Annotated[bool, typer.Option("--sample", help="Import the bundled sample.")] = False,
) -> None:
    """Import papers from files; bad records are reported and skipped."""
    paths = list(paths or [])
    if sample:
        paths += _sample_paths()
    if not paths:
        raise fail("give at least one file to import (or --sample)")
    fmt = None if format == "auto" else format
    total = sum(p.stat().st_size for p in paths if p.is_file())
    with library(ctx) as lib, _progress(total) as advance:
        report = lib.import_files(paths, fmt, progress=advance, index=not no_index)
    shown = 0
    for f in report.files:
        if f.error:
            err.print(f"[red]error:[/red] {f.error}", markup=True, highlight=False)
        for r in f.rejected:
            if shown < MAX_REJECTS_SHOWN:
                err.print(f"rejected {f.path}:{r.where}: {r.reason}", markup=False, highlight=False)
            shown += 1
    if shown > MAX_REJECTS_SHOWN:
        err.print(f"… and {shown - MAX_REJECTS_SHOWN} more rejected records", markup=False)
    s = report.summary()
    err.print(
        f"imported {s['imported']}, updated {s['updated']}, unchanged {s['unchanged']}, "
        f"rejected {s['rejected']}" + (f", deleted {s['deleted']}" if s["deleted"] else ""),
        markup=False,
        highlight=False,
    )
    if report.failed:
        raise typer.Exit(2)
    if report.rejected:
        raise typer.Exit(1)


@contextmanager
def _progress(total: int):
    """A byte progress bar on a terminal; nothing when stderr is piped."""
    if not err.is_terminal or total <= 0:
        yield None
        return
    columns = (
        TextColumn("importing"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task("import", total=total)
        yield lambda n: bar.advance(task, n)


@app.command()
def search(
    ctx: typer.Context,
    query: Annotated[str, typer.Argument(help="Words, an arXiv id, or a paper's title.")],
    mode: Annotated[
        str | None,
        typer.Option(help="hybrid | keyword | semantic (default: hybrid once vectors exist)"),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 10,
    since: Annotated[str | None, typer.Option(help="YYYY-MM-DD")] = None,
    until: Annotated[str | None, typer.Option(help="YYYY-MM-DD")] = None,
    category: Annotated[str | None, typer.Option(help="e.g. cs.LG, or cs")] = None,
    organization: Annotated[str | None, typer.Option()] = None,
    author: Annotated[str | None, typer.Option()] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Search papers by keyword, meaning, or both."""
    with library(ctx) as lib:
        hits = lib.search(
            query, mode=mode, limit=limit, since=since, until=until, category=category,
            organization=organization, author=author,
        )
    if as_json:
        emit_json([h.to_dict() for h in hits])
        return
    if not hits:
        err.print("no papers found", markup=False)
    for h in hits:
        print_paper_line(h.paper, h.score)


@app.command()
def related(
    ctx: typer.Context,
    paper_id: Annotated[str, typer.Argument(metavar="ID", help="arXiv id, URL or paper id.")],
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 10,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Papers most like the given one."""
    with library(ctx) as lib:
        hits = lib.related(paper_id, limit=limit)
    if as_json:
        emit_json([h.to_dict() for h in hits])
        return
    if not hits:
        err.print("no related papers found", markup=False)
    for h in hits:
        print_paper_line(h.paper, h.score)


@app.command()
def index(
    ctx: typer.Context,
    encoder: Annotated[
        str | None,
        typer.Option(help="minilm-static (fast, default) | minilm (all-MiniLM-L6-v2; slow on CPU). "
                     "Another encoder than the stored vectors' re-embeds everything."),
    ] = None,
    ray: Annotated[
        str | None,
        typer.Option("--ray", metavar="ADDRESS|auto|local",
                     help="Spread the embedding over a Ray cluster (host:port of its head)."),
    ] = None,
    batch: Annotated[
        int | None,
        typer.Option("--batch", min=1, metavar="N",
                     help="Papers per encoder call, and per Ray task with --ray (default 1024). "
                     "The transformer's vectors depend on the batching in their last bits."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Embed every paper that has no vector yet (and keep the vector index in step)."""
    from paperfeed.embed import canonical_name

    with library(ctx) as lib:
        total = lib.missing_vectors()
        current = lib.semantic.encoder_name if lib.semantic and lib.has_vectors() else None
        if encoder is not None and current and canonical_name(encoder) != current:
            err.print(f"switching encoder {current} -> {canonical_name(encoder)}: "
                      "re-embedding every paper", markup=False)
            total = lib.store.count()
        with _count_progress(total, "embedding") as advance:
            result = lib.index(encoder, progress=advance, ray=ray, batch=batch)
    if as_json:
        emit_json(result)
        return
    err.print(
        f"embedded {result['embedded']} papers with {result['encoder']}; "
        f"{result['vectors']} vectors in the index",
        markup=False,
        highlight=False,
    )


@contextmanager
def _count_progress(total: int, label: str):
    """A count progress bar on a terminal; nothing when stderr is piped."""
    if not err.is_terminal or total <= 0:
        yield None
        return
    from rich.progress import MofNCompleteColumn

    columns = (TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.advance(task, n)


@app.command("eval")
def eval_(
    directory: Annotated[Path, typer.Argument(metavar="DIR", help="A BEIR-layout directory.")],
    mode: Annotated[str, typer.Option(help="hybrid | keyword | semantic")] = "hybrid",
    encoder: Annotated[str | None, typer.Option(help="minilm-static | minilm")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Score a search mode on a BEIR-layout directory: nDCG@10, Recall@100, MRR@10."""
    from paperfeed.evaluate import evaluate

    try:
        metrics = evaluate(directory, mode=mode, encoder=encoder)
    except PaperfeedError as exc:
        raise fail(str(exc)) from None
    if as_json:
        emit_json(metrics)
        return
    for key, value in metrics.items():
        typer.echo(f"{key}: {value}")


@app.command()
def show(
    ctx: typer.Context,
    paper_id: Annotated[str, typer.Argument(metavar="ID")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Show one paper."""
    with library(ctx) as lib:
        paper = lib.get(paper_id)
    if paper is None:
        raise fail(f"no such paper: {paper_id}")
    if as_json:
        emit_json(paper.to_dict())
        return
    typer.echo(paper.title)
    typer.echo(", ".join(paper.author_names) or (f"{paper.author_count} authors" if paper.author_count else ""))
    meta = [paper.id, paper.day.isoformat() if paper.day else None, f"{paper.upvotes or 0} upvotes"]
    if paper.organization_name or paper.organization:
        meta.append(paper.organization_name or paper.organization)
    if paper.categories:
        meta.append(" ".join(paper.categories))
    typer.echo(" · ".join(m for m in meta if m))
    typer.echo("")
    typer.echo(paper.abstract)


@app.command()
def daily(
    ctx: typer.Context,
    date: Annotated[str | None, typer.Option(help="YYYY-MM-DD (default: the latest day)")] = None,
    week: Annotated[str | None, typer.Option(help="YYYY-Www")] = None,
    month: Annotated[str | None, typer.Option(help="YYYY-MM")] = None,
    sort: Annotated[str, typer.Option(help="published | trending")] = "published",
    limit: Annotated[int | None, typer.Option(min=1)] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The papers of a day, week or month, most upvoted first."""
    with library(ctx) as lib:
        period, scored = lib.daily_scored(date, week, month, sort=sort, limit=limit)  # type: ignore[arg-type]
    if as_json:
        emit_json([{**p.to_dict(), "score": round(s, 6)} for p, s in scored])
        return
    if period is None:
        err.print("no papers yet: run `paperfeed import`", markup=False)
        return
    typer.echo(f"# {period.label}: {len(scored)} papers")
    for paper, _ in scored:
        print_paper_line(paper)


@app.command()
def stats(ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Counts, database size and the last import."""
    with library(ctx) as lib:
        data = lib.stats()
        data["imports"] = lib.import_log(limit=5)
    if as_json:
        emit_json(data)
        return
    for key, value in data.items():
        if key not in ("imports", "harvests"):
            typer.echo(f"{key}: {value}")
    for source, run in data.get("harvests", {}).items():  # issue 6: the last run of each source
        outcome = f"{run['status']}: {run['error']}" if run["error"] else f"{run['status']} {run['counts']}"
        typer.echo(f"harvest {source}: {run['finished_at'] or run['started_at']}  {outcome}")
    for entry in data["imports"]:
        status = f"error: {entry['error']}" if entry["error"] else entry["counts"]
        typer.echo(f"  {entry['finished_at']}  {entry['source']}  {status}")


@app.command()
def migrate(
    ctx: typer.Context,
    to: Annotated[str, typer.Option("--to", help="The PostgreSQL database: postgresql://…")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Copy this SQLite library (papers, vectors, users, votes, subscriptions, outbox, ...) into
    PostgreSQL, then count every table on both sides. Safe to re-run: it resumes."""
    with library(ctx) as lib, _count_progress(lib.migrate_rows(), "copying") as advance:
        result = lib.migrate_to(to, progress=advance)
    if as_json:
        emit_json(result)
    else:
        for table, counts in result["verified"].items():
            mark = "ok" if counts["sqlite"] == counts["postgresql"] else "MISMATCH"
            typer.echo(
                f"{table:<20} sqlite {counts['sqlite']:>9}  postgresql {counts['postgresql']:>9}  {mark}"
            )
    if not result["ok"]:
        raise fail("the copy does not match the source: see the counts above", code=1)


@app.command()
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
    schedule: Annotated[
        bool, typer.Option("--schedule", help="Also run the daily jobs (harvests, email digests).")
    ] = False,
) -> None:
    """Serve the web app and the JSON API."""
    import uvicorn

    from paperfeed.web.app import create_app, settled

    config = ctx.ensure_object(State).config()
    if schedule:  # one scheduler thread in this (parent) process, whatever the worker count
        from paperfeed.schedule import Scheduler, configured_jobs

        try:
            Scheduler(configured_jobs(config)).start()
        except PaperfeedError as exc:
            raise fail(str(exc)) from None
    if workers == 1:
        uvicorn.run(settled(create_app(config)), host=host, port=port, log_level="info")
        return
    import os

    os.environ["PAPERFEED_HOME"] = str(config.home)
    if config.database_url:
        os.environ["PAPERFEED_DATABASE_URL"] = config.database_url
    uvicorn.run(
        "paperfeed.web.app:app_from_env", factory=True, host=host, port=port, workers=workers
    )


users_app = typer.Typer(help="Accounts of the web app (issue 4).", no_args_is_help=True)
app.add_typer(users_app, name="users")


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return typer.prompt("Password", hide_input=True, confirmation_prompt=True)


@users_app.command("add")
def users_add(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument()],
    admin: Annotated[bool, typer.Option("--admin", help="Give the admin role.")] = False,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin (one line).")
    ] = False,
) -> None:
    """Create a user (prompts for the password). The first user is an admin anyway."""
    password = _read_password(password_stdin)
    with library(ctx) as lib:
        user = lib.accounts.signup(email, password, admin=True if admin else None)
    typer.echo(f"created {user.email}{' (admin)' if user.is_admin else ''}")


@users_app.command("set-admin")
def users_set_admin(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument()],
    revoke: Annotated[bool, typer.Option("--revoke", help="Take the admin role away.")] = False,
) -> None:
    """Give (or with --revoke take away) the admin role, who may import through the web."""
    with library(ctx) as lib:
        user = lib.accounts.set_admin(email, not revoke)
    typer.echo(f"{user.email}: {'admin' if user.is_admin else 'not admin'}")


@users_app.command("list")
def users_list(ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The users, oldest first."""
    with library(ctx) as lib:
        users = lib.accounts.users()
    if as_json:
        emit_json([{"email": u.email, "is_admin": u.is_admin, "created_at": u.created_at} for u in users])
        return
    for u in users:
        typer.echo(f"{u.created_at}  {u.email}{'  admin' if u.is_admin else ''}")


@users_app.command("export")
def users_export(ctx: typer.Context, email: Annotated[str, typer.Argument()]) -> None:
    """A user's own data (upvotes, ...) as JSON on stdout."""
    with library(ctx) as lib:
        emit_json(lib.accounts.export(lib.accounts.user(email)))


if __name__ == "__main__":  # `python -m paperfeed.cli`: the sub-apps below import this module by
    sys.modules.setdefault("paperfeed.cli", sys.modules[__name__])  # name; let them find this one

from paperfeed.cli_digest import digest_app, subscribers_app  # noqa: E402 - needs the helpers above

app.add_typer(subscribers_app, name="subscribers")
app.add_typer(digest_app, name="digest")

from paperfeed.cli_harvest import harvest_app  # noqa: E402 - needs the helpers above

app.add_typer(harvest_app, name="harvest")

from paperfeed.cli_library import library_app, recommend  # noqa: E402 - needs the helpers above

app.add_typer(library_app, name="library")
app.command("recommend")(recommend)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
