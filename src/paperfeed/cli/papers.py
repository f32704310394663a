"""The paper commands: import, search, related, index, eval, show, daily, trending, papers, stats,
migrate."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, cast

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

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
from paperfeed.records import Paper
from paperfeed.terminal import clean

if TYPE_CHECKING:
    from paperfeed.library import SearchMode

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
    with library(ctx) as lib:
        with _progress(total) as advance:
            report = lib.import_files(
                paths, fmt, progress=advance, index=not no_index, fill_quality=False
            )
        backlog = 0 if no_index else lib.quality_backlog()
        if backlog:
            with count_progress(backlog, "quality vectors") as advance_vectors:
                lib.fill_quality(advance_vectors)
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
    """Search papers by keyword, meaning, or both. An empty query with --author or
    --organization lists that author's or organization's papers, newest first."""
    if not query.strip() and (author or organization):
        with library(ctx) as lib:
            found = lib.papers_by(organization=organization, author=author, limit=limit)
        if as_json:
            emit_json([p.to_dict() for p in found])
            return
        if not found:
            err.print("no papers found", markup=False)
        for paper in found:
            print_paper_line(paper)
        return
    with library(ctx) as lib:
        hits = lib.search(
            query, mode=cast("SearchMode | None", mode),  # the Library checks it
            limit=limit, since=since, until=until, category=category,
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
        typer.Option(help="The set to fill and switch to, for this run (default: "
                     "PAPERFEED_QUALITY_ENCODER, minilm-int8): minilm-int8 (all-MiniLM-L6-v2 on "
                     "onnxruntime, CPU) | minilm (the same on torch; a GPU when present) | "
                     "minilm-static (the instant set alone). The active set keeps serving until "
                     "the new one is complete."),
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
    """Complete every vector set (the static one, then the quality encoder's) and switch the
    rankers to the quality set once it covers every paper; returns when all are complete. Also
    stores the recommender's text analysis of saved and dismissed papers that lack one."""
    from paperfeed.embed import get_encoder

    with library(ctx) as lib:
        if encoder is not None:
            get_encoder(encoder)  # a missing or broken model fails here, before any work
        sem = lib.semantic
        target = sem.target(encoder)
        active = sem.active_name()
        if target != active and target != sem.default_encoder:
            err.print(f"filling the {target} vector set beside {active} ({active} keeps serving "
                      "until it is complete)", markup=False)
        total = lib.missing_vectors(encoder)
        with count_progress(total, "embedding") as advance:
            result = lib.index(encoder, progress=advance, ray=ray, batch=batch)
        result["sets"] = lib.vector_status()["sets"]
    if as_json:
        emit_json(result)
        return
    err.print(
        f"embedded {result['embedded']} vectors; active set {result['encoder']} "
        f"({result['vectors']} vectors in its index)"
        + (f"; {result['analysed']} saved or dismissed papers' texts analysed for recommendations"
           if result.get("analysed") else ""),
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
    typer.echo(clean(_authors_line(paper)))
    meta = [paper.id, paper.day.isoformat() if paper.day else None, plural(paper.upvotes or 0, "upvote")]
    if paper.comments:
        meta.append(plural(paper.comments, "comment"))
    if paper.organization_name or paper.organization:
        meta.append(paper.organization_name or paper.organization)
    if paper.categories:
        meta.append(" ".join(paper.categories))
    if paper.withdrawn:
        meta.append("WITHDRAWN")
    typer.echo(clean(" · ".join(m for m in meta if m)))
    comment = paper.extra.get("comments")
    facts = [("DOI", paper.doi), ("Journal", paper.journal_ref),
             ("arXiv comment", comment if isinstance(comment, str) else None)]
    for label, link in _links(paper):
        facts.append((label, link))
    for label, value in facts:
        if value:
            typer.echo(clean(f"{label + ':':<15}{value}"))
    typer.echo("")
    typer.echo(clean(paper.abstract))


def plural(n: int, word: str) -> str:
    """`1 author`, `2 authors`, `1,234 upvotes`."""
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def _authors_line(paper: Paper) -> str:
    if paper.authors:
        names = [f"{a.name} ({a.affiliation})" if a.affiliation else a.name for a in paper.authors]
        return f"{plural(len(names), 'author')}: " + ", ".join(names)
    return f"{plural(paper.author_count, 'author')} (names not imported)" if paper.author_count else ""


def _links(paper: Paper) -> list[tuple[str, str]]:
    links: list[tuple[str, str]] = []
    if paper.arxiv_id:
        links += [("arXiv", f"https://arxiv.org/abs/{paper.arxiv_id}"),
                  ("PDF", f"https://arxiv.org/pdf/{paper.arxiv_id}")]
    if paper.doi:
        links.append(("DOI link", f"https://doi.org/{paper.doi}"))
    if paper.github_repo:
        stars = f" (★ {paper.github_stars:,})" if paper.github_stars else ""
        links.append(("Code", paper.github_repo + stars))
    if paper.project_page:
        links.append(("Project page", paper.project_page))
    return links


# The web's names ("by upvotes", "trending") and the Library's ("published") for the same orders.
SORT_NAMES = {"upvotes": "published", "published": "published", "trending": "trending"}


@app.command()
def daily(
    ctx: typer.Context,
    date: Annotated[str | None, typer.Option(help="YYYY-MM-DD (default: the latest day)")] = None,
    week: Annotated[str | None, typer.Option(help="YYYY-Www")] = None,
    month: Annotated[str | None, typer.Option(help="YYYY-MM")] = None,
    sort: Annotated[
        str, typer.Option(help="upvotes | trending, as on the web (`published` still means upvotes)")
    ] = "upvotes",
    limit: Annotated[int | None, typer.Option(min=1)] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The papers of a day, week or month, most upvoted first (or by trending score)."""
    if sort not in SORT_NAMES:
        raise fail(f"--sort must be one of upvotes, trending (not {sort[:40]!r})")
    with library(ctx) as lib:
        period, scored = lib.daily_scored(date, week, month, sort=SORT_NAMES[sort], limit=limit)  # type: ignore[arg-type]
    if as_json:
        emit_json([{**p.to_dict(), "score": round(s, 6)} for p, s in scored])
        return
    if period is None:
        err.print("no papers yet: run `paperfeed import`", markup=False)
        return
    typer.echo(f"# {period.label}: {plural(len(scored), 'paper')}")
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
    out = Console(highlight=False, width=None if sys.stdout.isatty() else 120)
    table = Table(title="paperfeed library", show_header=False, box=box.SIMPLE)
    table.add_column(style="bold")
    table.add_column()
    for key, value in data.items():
        if key in ("imports", "harvests", "last_import", "vector_sets"):
            continue
        shown = _size(value) if key == "database_bytes" and isinstance(value, int) else value
        text = "—" if shown is None else f"{shown:,}" if isinstance(shown, int) else shown
        table.add_row(key.replace("_", " "), clean(text))
    out.print(table)
    vectors = data["vector_sets"]
    sets = Table(title="vector sets", box=box.SIMPLE)
    for column in ("encoder", "vectors", "coverage", "active"):
        sets.add_column(column)
    for entry in vectors["sets"]:
        sets.add_row(clean(entry["encoder"]), f"{entry['vectors']:,} / {entry['papers']:,}",
                     f"{entry['coverage']:.0%}", "active" if entry["active"] else "")
    out.print(sets)
    if vectors["warning"]:
        err.print(f"warning: {clean(vectors['warning'])}", markup=False)
    if data.get("harvests"):
        runs = Table(title="last harvests", box=box.SIMPLE)
        for column in ("source", "when", "status", "records / error"):
            runs.add_column(column)
        for source, run in data["harvests"].items():
            detail = run["error"] or ", ".join(f"{k} {v:,}" for k, v in (run["counts"] or {}).items())
            runs.add_row(clean(source), clean(run["finished_at"] or run["started_at"]), clean(run["status"]),
                         clean(detail))
        out.print(runs)
    if data["imports"]:
        imports = Table(title="recent imports", box=box.SIMPLE)
        for column in ("finished", "source", "result"):
            imports.add_column(column)
        for entry in data["imports"]:
            result = f"error: {entry['error']}" if entry["error"] else ", ".join(
                f"{k} {v:,}" if isinstance(v, int) else f"{k} {v}" for k, v in (entry["counts"] or {}).items()
            )
            imports.add_row(clean(entry["finished_at"]), clean(entry["source"]), clean(result))
        out.print(imports)


def _size(n: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:,} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)


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
