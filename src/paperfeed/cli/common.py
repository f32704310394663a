"""What every command group shares: the global options' state, opening the Library for a
command (its errors become a message and exit 2), JSON and paper-line output, progress bars."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from paperfeed.config import Config
from paperfeed.errors import PaperfeedError
from paperfeed.library import Library
from paperfeed.records import Paper
from paperfeed.terminal import clean, safe_json

err = Console(stderr=True, highlight=False)
MAX_REJECTS_SHOWN = 50


@dataclass
class State:
    home: Path | None = None
    database: str | None = None

    def config(self) -> Config:
        return Config.from_env(home=self.home, database_url=self.database)


def fail(message: str, code: int = 2) -> typer.Exit:
    err.print(f"[red]error:[/red] {escape(clean(message))}", markup=True, highlight=False, soft_wrap=True)
    return typer.Exit(code)


@contextmanager
def library(ctx: typer.Context) -> Iterator[Library]:
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
    sys.stdout.buffer.write(safe_json(orjson.dumps(data, option=orjson.OPT_INDENT_2)) + b"\n")
    sys.stdout.flush()


def print_paper_line(paper: Paper, score: float | None = None) -> None:
    date = paper.day.isoformat() if paper.day else "          "
    votes = f"{paper.upvotes or 0:>4}▲"
    head = f"{score:8.3f} " if score is not None else ""
    typer.echo(clean(f"{head}{votes} {date}  {paper.id:<18} {paper.title}"))



@contextmanager
def count_progress(total: int, label: str) -> Iterator[Callable[[int], None] | None]:
    """A count progress bar on a terminal; nothing when stderr is piped."""
    if not err.is_terminal or total <= 0:
        yield None
        return
    columns = (TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.advance(task, n)
