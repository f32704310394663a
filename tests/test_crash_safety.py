"""An import killed with SIGKILL at a random moment and run again ends with exactly the store an
uninterrupted import gives: same papers, no duplicates, FTS in step with the table."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from paperfeed.store.sqlite.store import SQLiteStore

N_RECORDS = 30_000


def write_snapshot(path: Path, records: int = N_RECORDS) -> None:
    """Records with repeated ids (a later version of an earlier paper) to exercise merging."""
    rng = random.Random(3)
    with path.open("wb") as f:
        for i in range(records):
            n = i if i % 10 else rng.randrange(max(i, 1))  # every tenth repeats an earlier id
            version = 1 if i % 10 else 2
            rec = {
                "id": f"2401.{n:05d}",
                "title": f"Paper {n} about topic {n % 97} version {version}",
                "abstract": " ".join(f"word{rng.randrange(5000)}" for _ in range(120)),
                "authors": "A. Author, B. Author",
                "authors_parsed": [["Author", "A.", ""], ["Author", "B.", ""]],
                "categories": "cs.LG",
                "versions": [{"version": f"v{v}", "created": "Mon, 1 Jan 2024 10:00:00 GMT"}
                             for v in range(1, version + 1)],
                "update_date": "2024-01-02",
            }
            f.write(orjson.dumps(rec) + b"\n")


def write_part(path: Path, n: int, count: int) -> None:
    """`count` arXiv-snapshot records of part `n` (ids 24<n>1.xxxxx), random-word abstracts."""
    rng = random.Random(n)
    with path.open("wb") as f:
        for i in range(count):
            f.write(orjson.dumps({
                "id": f"24{n}1.{i:05d}", "title": f"Part {n} paper {i} topic {i % 31}",
                "abstract": " ".join(f"word{rng.randrange(2000)}" for _ in range(50)),
                "authors": "A. Author", "categories": "cs.LG",
                "versions": [{"version": "v1", "created": "Mon, 1 Jan 2024 10:00:00 GMT"}],
            }) + b"\n")


def run_import(home: Path, snapshot: Path, *, bulk: bool = False) -> subprocess.Popen:
    """`paperfeed import` in its own process. `bulk` lowers the size from which a load into an
    empty store defers keyword indexing to one rebuild at the end (64 MB by default)."""
    env = {**os.environ, "PAPERFEED_BULK_MIN_BYTES": "1" if bulk else str(1 << 40)}
    return subprocess.Popen(
        [sys.executable, "-m", "paperfeed.cli", "--home", str(home), "import", str(snapshot),
         "--no-index"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
    )


def import_here(home: Path, snapshot: Path, *, bulk: bool = False) -> None:
    """The same `paperfeed import` as `run_import`, through the CLI app in this process (typer's
    runner): for the imports that are not killed, which then need no start-up of their own."""
    from typer.testing import CliRunner

    from paperfeed.cli import app

    env = {"PAPERFEED_BULK_MIN_BYTES": "1" if bulk else str(1 << 40)}
    done = CliRunner().invoke(app, ["--home", str(home), "import", str(snapshot), "--no-index"], env=env,
                              catch_exceptions=False)
    assert done.exit_code == 0, done.stderr


def stored_count(home: Path) -> int:
    try:
        with sqlite3.connect(f"file:{home / 'paperfeed.db'}?mode=ro", uri=True, timeout=1) as conn:
            return conn.execute("SELECT count(*) FROM papers").fetchone()[0]
    except sqlite3.Error:
        return 0


def snapshot_of_store(home: Path) -> tuple[list[tuple], dict[str, int]]:
    store = SQLiteStore(home / "paperfeed.db")
    integrity = store.integrity()
    store.close()
    with sqlite3.connect(home / "paperfeed.db") as conn:
        rows = conn.execute(
            "SELECT id, title, abstract, author_names, categories, published, version, upvotes "
            "FROM papers ORDER BY id"
        ).fetchall()
    return rows, integrity


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("snap") / "snapshot.jsonl"
    write_snapshot(path)
    return path


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory, snapshot: Path):
    home = tmp_path_factory.mktemp("reference")
    import_here(home, snapshot)
    return snapshot_of_store(home)


@pytest.mark.parametrize(("seed", "bulk"), [(1, False), (2, False), (3, True), (4, True)])
def test_sigkill_then_rerun_gives_the_uninterrupted_store(
    tmp_path: Path, snapshot: Path, reference, seed: int, bulk: bool
) -> None:
    expected_rows, expected_integrity = reference
    home = tmp_path / "home"
    proc = run_import(home, snapshot, bulk=bulk)
    # Kill at a random point of the import: once a random share of the papers is stored, plus a
    # random few milliseconds so the kill lands inside a later transaction as often as not.
    rng = random.Random(seed)
    target = int(rng.uniform(0.05, 0.85) * N_RECORDS * 0.9)
    deadline = time.monotonic() + 300
    while stored_count(home) < target and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(rng.uniform(0, 0.05))
    assert proc.poll() is None, "the import finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait(timeout=60) == -signal.SIGKILL
    if bulk:  # killed half-way through a bulk load: the keyword index is not rebuilt yet
        with sqlite3.connect(home / "paperfeed.db") as conn:
            state = conn.execute("SELECT value FROM meta WHERE key = 'fts_state'").fetchone()
        assert state == ("rebuilding",)
    import_here(home, snapshot, bulk=bulk)  # run again
    rows, integrity = snapshot_of_store(home)
    assert len(rows) == len(expected_rows)
    assert rows == expected_rows
    assert integrity == expected_integrity
    assert integrity["papers"] == integrity["fts_rows"]
