"""The command line, as a user drives it: import, search, show, daily, stats, and exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import paperfeed
from paperfeed.cli import app

SAMPLE_DIR = Path(paperfeed.__file__).parent / "sample"

runner = CliRunner()


def cli(home: Path, *args: str):
    return runner.invoke(app, ["--home", str(home), *args], catch_exceptions=False)


@pytest.fixture
def sample_home(home: Path) -> Path:
    result = cli(home, "import", "--sample")
    assert result.exit_code == 0, result.output
    return home


def test_import_reports_a_summary_and_the_sample_holds_86_distinct_papers(home: Path) -> None:
    result = cli(home, "import", *map(str, sorted(SAMPLE_DIR.glob("*.txt"))))
    assert result.exit_code == 0
    assert "imported 86" in result.stderr
    stats = json.loads(cli(home, "stats", "--json").stdout)
    assert stats["papers"] == 86
    # Importing again changes nothing and duplicates nothing.
    again = cli(home, "import", "--sample")
    assert "imported 0" in again.stderr and "unchanged 94" in again.stderr
    assert json.loads(cli(home, "stats", "--json").stdout)["papers"] == 86


def test_search_json_follows_the_contract(sample_home: Path) -> None:
    result = cli(sample_home, "search", "model merging alignment", "--json", "--limit", "5")
    assert result.exit_code == 0
    hits = json.loads(result.stdout)
    assert 1 <= len(hits) <= 5
    for hit in hits:
        assert {"id", "title", "abstract", "authors", "published", "upvotes", "score"} <= hit.keys()
        assert isinstance(hit["authors"], list)
    assert hits[0]["title"].startswith("Mix Data or Merge Models?")
    scores = [h["score"] for h in hits]
    assert scores == sorted(scores, reverse=True)


def test_an_exact_title_finds_its_paper_first(sample_home: Path) -> None:
    title = "Is Oracle Pruning the True Oracle?"
    hits = json.loads(cli(sample_home, "search", title, "--json").stdout)
    assert hits[0]["title"] == title


def test_show_by_id_and_unknown_ids(sample_home: Path) -> None:
    hits = json.loads(cli(sample_home, "search", "FRUGAL", "--json").stdout)
    shown = json.loads(cli(sample_home, "show", hits[0]["id"], "--json").stdout)
    assert shown["title"].startswith("FRUGAL")
    missing = cli(sample_home, "show", "2501.99999")
    assert missing.exit_code == 2 and "no such paper" in missing.stderr


def test_daily_lists_the_latest_day_by_upvotes(sample_home: Path) -> None:
    papers = json.loads(cli(sample_home, "daily", "--json").stdout)
    assert papers, "the sample has dated papers"
    days = {p["submitted_to_daily"] or p["published"] for p in papers}
    assert len(days) == 1
    votes = [p["upvotes"] for p in papers]
    assert votes == sorted(votes, reverse=True)
    month = json.loads(cli(sample_home, "daily", "--month", "2025-09", "--json").stdout)
    assert any(p["title"].startswith("RGB-Only Supervised Camera") for p in month)
    trending = cli(sample_home, "daily", "--month", "2025-09", "--sort", "trending", "--json")
    assert trending.exit_code == 0


@pytest.mark.parametrize(
    "args",
    [
        ("daily", "--date", "2025-13-45"),
        ("daily", "--week", "2025-W60"),
        ("daily", "--month", "last month"),
        ("daily", "--date", "2025-01-01", "--week", "2025-W01"),
        ("daily", "--sort", "best"),
        ("search", "x", "--mode", "psychic"),
        ("search", "x", "--since", "yesterday"),
        ("import",),
        ("import", "/no/such/file.json"),
    ],
)
def test_usage_errors_exit_2_with_a_message(home: Path, args: tuple[str, ...]) -> None:
    result = cli(home, *args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output


def test_the_installed_command_prints_no_traceback_on_bad_input(tmp_path: Path) -> None:
    # A path longer than a line: the message names it whole (never wrapped off a terminal).
    bad = tmp_path / ("d" * 90) / "bad.json"
    bad.parent.mkdir()
    bad.write_bytes(os.urandom(4096))
    env = {**os.environ, "PAPERFEED_HOME": str(tmp_path / "home")}
    proc = subprocess.run(
        [sys.executable, "-m", "paperfeed.cli", "import", str(bad)],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert str(bad) in proc.stderr


def _snapshot_file(path: Path, n: int) -> Path:
    lines = [
        json.dumps({
            "id": f"2403.{i:05d}", "title": f"Progress paper {i}", "abstract": "Words. " * 200,
            "authors": "A. B", "versions": [{"version": "v1", "created": "Fri, 1 Mar 2024 10:00:00 GMT"}],
        })
        for i in range(n)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_import_shows_progress_on_a_terminal_and_stays_quiet_when_piped(tmp_path: Path) -> None:
    import pty

    snapshot = _snapshot_file(tmp_path / "snap.jsonl", 3_000)
    env = {**os.environ, "PAPERFEED_HOME": str(tmp_path / "home"), "COLUMNS": "100"}
    command = [sys.executable, "-m", "paperfeed.cli", "import", "--no-index", str(snapshot)]

    piped = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert piped.returncode == 0
    assert piped.stderr.strip() == "imported 3000, updated 0, unchanged 0, rejected 0"
    assert "importing" not in piped.stderr

    env["PAPERFEED_HOME"] = str(tmp_path / "home-tty")
    leader, follower = pty.openpty()
    proc = subprocess.Popen(command, stdin=follower, stdout=follower, stderr=follower, env=env)
    os.close(follower)
    seen = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    assert proc.wait(timeout=120) == 0
    text = seen.decode(errors="replace")
    assert "importing" in text  # the progress bar was drawn
    assert "imported 3000" in text
