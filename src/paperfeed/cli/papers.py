"""The paper commands: import, search, related, index, eval, show, daily, trending, papers, stats,
migrate."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from paperfeed.cli.common import (
    MAX_REJECTS_SHOWN,
    count_progress,
    emit_json,
    err,
    fail,
    library,
    print_paper_line,
)
from paperfeed.errors import PaperfeedError
from paperfeed.terminal import clean

app = typer.Typer()


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
            help="auto | arxiv-snapshot | arxiv-atom | arxiv-oai | hf-daily | hf-page | bibtex | ris"
            " | csl-json",
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
            err.print(f"[red]error:[/red] {escape(clean(f.error))}", markup=True, highlight=False)
        for r in f.rejected:
            if shown < MAX_REJECTS_SHOWN:
                err.print(clean(f"rejected {f.path}:{r.where}: {r.reason}"), markup=False, highlight=False)
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
def _progress(total: int) -> Iterator[Callable[[int], None] | None]:
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
        missing = lib.missing_arxiv_id(query)
    if missing:
        err.print(f"arXiv:{missing} is not in the library; fetch it with "
                  f"`paperfeed harvest arxiv-api --id {missing}`", markup=False, highlight=False,
                  soft_wrap=True)
    elif not hits:
        shown = "".join(c for c in " ".join(query.split()) if c.isprintable())[:80]
        err.print(f"No papers match {shown!r}", markup=False, highlight=False, soft_wrap=True)
    if as_json:
        emit_json([h.to_dict() for h in hits])
        return
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
        typer.Option(help="minilm-static (fast, default) | minilm-int8 (all-MiniLM-L6-v2 on "
                     "onnxruntime, CPU) | minilm (the same on torch; a GPU when present). "
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
    from paperfeed.embed import canonical_name, get_encoder

    with library(ctx) as lib:
        if encoder is not None:
            get_encoder(encoder)  # a missing or broken model fails here, before any work
        total = lib.missing_vectors()
        current = lib.semantic.encoder_name if lib.semantic and lib.has_vectors() else None
        if encoder is not None and current and canonical_name(encoder) != current:
            err.print(f"switching encoder {current} -> {canonical_name(encoder)}: "
                      "re-embedding every paper", markup=False)
            total = lib.store.count()
        with count_progress(total, "embedding") as advance:
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

@app.command("eval")
def eval_(
    directory: Annotated[Path, typer.Argument(metavar="DIR", help="A BEIR-layout directory.")],
    mode: Annotated[str, typer.Option(help="hybrid | keyword | semantic")] = "hybrid",
    encoder: Annotated[str | None, typer.Option(help="minilm-static | minilm-int8 | minilm")] = None,
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
    typer.echo(clean(paper.title))
    authors = ", ".join(paper.author_names) or (f"{paper.author_count} authors" if paper.author_count else "")
    typer.echo(clean(authors))
    meta = [paper.id, paper.day.isoformat() if paper.day else None, f"{paper.upvotes or 0} upvotes"]
    if paper.organization_name or paper.organization:
        meta.append(paper.organization_name or paper.organization)
    if paper.categories:
        meta.append(" ".join(paper.categories))
    typer.echo(clean(" · ".join(m for m in meta if m)))
    typer.echo("")
    typer.echo(clean(paper.abstract))


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
def trending(
    ctx: typer.Context,
    days: Annotated[int, typer.Option(min=1, max=366, help="Days with papers to look back over.")] = 7,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The trending papers of the last days (upvotes, local votes included, decayed by age)."""
    with library(ctx) as lib:
        scored = lib.trending(days=days, limit=limit)
    if as_json:
        emit_json([{**p.to_dict(), "score": round(s, 6)} for p, s in scored])
        return
    if not scored:
        err.print("no papers yet: run `paperfeed import`", markup=False)
    for paper, score in scored:
        print_paper_line(paper, score)


@app.command()
def papers(
    ctx: typer.Context,
    organization: Annotated[str | None, typer.Option(help="An organization's name or HF handle.")] = None,
    author: Annotated[str | None, typer.Option(help="A part of an author's name.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    offset: Annotated[int, typer.Option(min=0)] = 0,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """An organization's or an author's papers, newest first."""
    with library(ctx) as lib:
        found = lib.papers_by(organization=organization, author=author, limit=limit, offset=offset)
    if as_json:
        emit_json([p.to_dict() for p in found])
        return
    if not found:
        err.print("no papers found", markup=False)
    for paper in found:
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
    for source, run in data.get("harvests", {}).items():  # the last run of each source
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
    with library(ctx) as lib, count_progress(lib.migrate_rows(), "copying") as advance:
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
