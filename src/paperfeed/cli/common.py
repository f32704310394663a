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

# Messages are never cut into lines (rich wraps at 80 columns off a terminal): scripts read them.
err = Console(stderr=True, highlight=False, soft_wrap=True)
STORAGE_FAILED = 4
"""The exit code of a command the storage stopped: a full disk, a corrupt or unreadable database."""
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


def storage_failure(exc: BaseException) -> str | None:
    """A message for an error of the storage itself (full disk, corrupt database), else None."""
    import errno
    import sqlite3

    text = str(exc)
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return f"the disk is full ({text[:200]}); free space and rerun: what was committed is kept"
    if isinstance(exc, sqlite3.DatabaseError):
        low = text.lower()
        if "full" in low:
            return f"the disk is full ({text[:200]}); free space and rerun: what was committed is kept"
        if "disk i/o error" in low:
            return (f"the database could not be written ({text[:200]}): the disk is full or "
                    "failing; free space and rerun: what was committed is kept")
        if "malformed" in low or "not a database" in low or "corrupt" in low:
            return (f"the database is corrupt ({text[:200]}): restore it from a backup, or "
                    "recover it with `sqlite3 paperfeed.db .recover`")
        return f"the database failed: {text[:300]}"
    return None


@contextmanager
def library(ctx: typer.Context) -> Iterator[Library]:
    """Open the Library for a command; PaperfeedErrors become a message and exit 2, failures of
    the storage (full disk, corrupt database) a message and exit 4."""
    try:
        lib = Library(ctx.ensure_object(State).config())
    except PaperfeedError as exc:
        raise fail(str(exc)) from None
    except Exception as exc:
        message = storage_failure(exc)
        if message is None:
            raise
        raise fail(message, STORAGE_FAILED) from None
    try:
        yield lib
    except PaperfeedError as exc:
        raise fail(str(exc)) from None
    except Exception as exc:
        message = storage_failure(exc)
        if message is None:
            raise
        raise fail(message, STORAGE_FAILED) from None
    finally:
        try:
            lib.close()
        except Exception as exc:  # closing on a full disk: the message above says it
            if storage_failure(exc) is None:
                raise


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
