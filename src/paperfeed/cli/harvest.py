"""`paperfeed harvest arxiv | arxiv-api | hf`: the command-line face of the harvesters.

Exit codes: 0 done, 1 done but some records were rejected (listed on stderr), 2 a usage error,
3 the harvest failed (the source could not be reached or answered with an error): it says why
on stderr and the failure is in the harvest log (`paperfeed stats`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from paperfeed.cli.common import MAX_REJECTS_SHOWN, emit_json, err, library
from paperfeed.harvest.run import HarvestReport
from paperfeed.terminal import clean

HARVEST_FAILED = 3

harvest_app = typer.Typer(
    help="Harvest papers from the live sources (arXiv OAI-PMH, the arXiv API, HF daily papers).",
    no_args_is_help=True,
)

NoIndex = Annotated[bool, typer.Option("--no-index", help="Do not embed new papers.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print the report as JSON.")]


@harvest_app.command("arxiv")
def harvest_arxiv(
    ctx: typer.Context,
    base_url: Annotated[str | None, typer.Option(help="OAI-PMH base URL ($PAPERFEED_OAI_URL).")] = None,
    set_: Annotated[str | None, typer.Option("--set", help="e.g. cs, math, physics:hep-th")] = None,
    from_: Annotated[
        str | None, typer.Option("--from", help="YYYY-MM-DD (default: the last complete harvest)")
    ] = None,
    until: Annotated[str | None, typer.Option(help="YYYY-MM-DD")] = None,
    metadata_prefix: Annotated[str, typer.Option(help="arXiv | arXivRaw | oai_dc")] = "arXiv",
    no_index: NoIndex = False,
    as_json: AsJson = False,
) -> None:
    """Harvest arXiv over OAI-PMH: incremental, resumable, deletions applied."""
    with library(ctx) as lib, _progress("arxiv") as progress:
        report = lib.harvest_arxiv(
            set_, from_, until, metadata_prefix, base_url,
            progress=progress, index=not no_index, log=_say,
        )
    _finish(report, as_json)


@harvest_app.command("arxiv-api")
def harvest_arxiv_api(
    ctx: typer.Context,
    query: Annotated[
        str | None, typer.Option(help='An arXiv search query, e.g. "cat:cs.LG AND ti:quantization"')
    ] = None,
    ids: Annotated[list[str] | None, typer.Option("--id", help="An arXiv id (repeatable).")] = None,
    max_results: Annotated[int, typer.Option(min=1, max=30_000)] = 100,
    base_url: Annotated[str | None, typer.Option(help="API URL ($PAPERFEED_ARXIV_API_URL).")] = None,
    no_index: NoIndex = False,
    as_json: AsJson = False,
) -> None:
    """Fetch papers from the arXiv API, one request every 3 seconds at most."""
    with library(ctx) as lib, _progress("arxiv-api") as progress:
        report = lib.harvest_arxiv_api(
            query, ids or (), max_results, base_url,
            progress=progress, index=not no_index, log=_say,
        )
    _finish(report, as_json)


@harvest_app.command("hf")
def harvest_hf(
    ctx: typer.Context,
    date: Annotated[str | None, typer.Option(help="One day, YYYY-MM-DD.")] = None,
    since: Annotated[str | None, typer.Option(help="Every day from this one, YYYY-MM-DD.")] = None,
    until: Annotated[str | None, typer.Option(help="Last day with --since (default today).")] = None,
    endpoint: Annotated[str | None, typer.Option(help="Hub URL ($PAPERFEED_HF_ENDPOINT).")] = None,
    no_index: NoIndex = False,
    as_json: AsJson = False,
) -> None:
    """Harvest Hugging Face daily papers (default: the last 7 days), updating upvotes."""
    with library(ctx) as lib, _progress("hf") as progress:
        report = lib.harvest_hf(
            date, since, until, endpoint, progress=progress, index=not no_index, log=_say
        )
    _finish(report, as_json)


@harvest_app.command("log")
def harvest_log(
    ctx: typer.Context,
    source: Annotated[str | None, typer.Option(help="Only this source: arxiv, arxiv-api or hf.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 10,
    as_json: AsJson = False,
) -> None:
    """The latest harvest runs, newest first: source, parameters, status, counts, error."""
    with library(ctx) as lib:
        runs = lib.harvest_log(limit=limit, source=source)
    if as_json:
        emit_json(runs)
        return
    for run in runs:
        outcome = f"{run['status']}: {run['error']}" if run["error"] else f"{run['status']} {run['counts']}"
        typer.echo(f"{run['started_at']}  {run['source']}  {outcome}")


def _say(message: str) -> None:
    err.print(clean(message), markup=False, highlight=False)


@contextmanager
def _progress(source: str) -> Iterator[Callable[[int, int | None], None] | None]:
    """A records counter on a terminal; nothing when stderr is piped."""
    if not err.is_terminal:
        yield None
        return
    columns = (TextColumn(f"harvesting {source}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task(source, total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)


def _finish(report: HarvestReport, as_json: bool) -> None:
    if as_json:
        emit_json(report.to_dict())
    for note in report.notes:
        _say(note)
    for shown, r in enumerate(report.rejected):
        if shown >= MAX_REJECTS_SHOWN:
            _say(f"… and {report.rejected_total - shown} more rejected records")
            break
        _say(f"rejected {r.where}: {r.reason}")
    s = report.summary()
    _say(
        f"{report.source}: {s['records']} records in {s['requests']} requests; imported "
        f"{s['imported']}, updated {s['updated']}, unchanged {s['unchanged']}, deleted "
        f"{s['deleted']}, rejected {s['rejected']}"
    )
    if report.error:
        err.print(f"[red]error:[/red] {report.source} harvest failed: {escape(clean(report.error))}",
                  markup=True, highlight=False, soft_wrap=True)
        raise typer.Exit(HARVEST_FAILED)
    if report.rejected_total:
        raise typer.Exit(1)
