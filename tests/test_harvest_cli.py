"""`paperfeed harvest ...` as a user runs it: exit codes, messages, the log in `stats`, the daily
schedule, and a harvest killed with SIGKILL at random moments then run again."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from datetime import time as dtime
from pathlib import Path

import orjson
import pytest
from harvest_peers import OaiPeer, Peer, arxiv_record, slow, status
from typer.testing import CliRunner

import paperfeed
from paperfeed.cli import app
from paperfeed.cli.jobs import harvest_jobs
from paperfeed.config import Config, HarvestConfig
from paperfeed.errors import InvalidInput
from paperfeed.harvest.jobs import parse_harvests
from paperfeed.records import make_paper
from paperfeed.schedule import Job, Scheduler, next_run

ENV = {
    **os.environ,
    "PAPERFEED_ARXIV_INTERVAL": "0",
    "PAPERFEED_BACKOFF_BASE": "0.02",
    "PAPERFEED_HTTP_ATTEMPTS": "2",
    "PAPERFEED_HTTP_TIMEOUT": "5",
}


PAPERFEED = str(Path(sys.executable).with_name("paperfeed"))  # the installed command


def paperfeed_cli(home: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [PAPERFEED, "--home", str(home), *args],
        capture_output=True, text=True, env=ENV, timeout=600,  # a guard against a hang only
    )


def test_harvest_prints_a_summary_and_stats_show_the_run(home: Path) -> None:
    data = [arxiv_record(i) for i in range(4)]
    data[2] = arxiv_record(2, title="")
    with Peer(oai=OaiPeer(data, 10)) as peer:
        done = paperfeed_cli(home, "harvest", "arxiv", "--base-url", f"{peer.url}/oai", "--no-index")
    assert done.returncode == 1  # done, but a record was rejected
    assert "rejected page 1, entry 3: oai:arXiv.org:2401.00002: record has no title" in done.stderr
    assert "imported 3" in done.stderr

    stats = paperfeed_cli(home, "stats")
    assert "last harvests" in stats.stdout and "arxiv" in stats.stdout and "ok" in stats.stdout
    shown = json.loads(paperfeed_cli(home, "stats", "--json").stdout)
    assert shown["harvests"]["arxiv"]["status"] == "ok"
    data = orjson.loads(paperfeed_cli(home, "stats", "--json").stdout)
    assert data["harvests"]["arxiv"]["counts"]["imported"] == 3


def test_a_failed_harvest_exits_3_says_why_and_is_logged(home: Path) -> None:
    with Peer(oai=OaiPeer([arxiv_record(1)], 10)) as peer:
        peer.inject(status(503, retry_after="0"), when=lambda r: True, times=10)
        done = paperfeed_cli(home, "harvest", "arxiv", "--base-url", f"{peer.url}/oai", "--json")
    assert done.returncode == 3
    assert "arxiv harvest failed: HTTP 503" in done.stderr
    assert orjson.loads(done.stdout)["ok"] is False
    stats = orjson.loads(paperfeed_cli(home, "stats", "--json").stdout)
    assert stats["harvests"]["arxiv"]["status"] == "failed"


def test_usage_errors_exit_2(home: Path) -> None:
    done = paperfeed_cli(home, "harvest", "hf", "--date", "2024-02-30")
    assert done.returncode == 2 and "date must be YYYY-MM-DD" in done.stderr
    done = paperfeed_cli(home, "harvest", "arxiv-api")
    assert done.returncode == 2 and "give a --query or at least one --id" in done.stderr


# -- crash safety ------------------------------------------------------------------------------

N_RECORDS, DELETED = 600, 20


def crash_records() -> list:
    recs = [arxiv_record(i, title=f"Crash paper {i}") for i in range(N_RECORDS)]
    return recs + [arxiv_record(5000 + i, deleted=True) for i in range(DELETED)]


def seeded_home(home: Path) -> Path:
    """A library that already holds the papers the harvest will delete."""
    with paperfeed.open(home) as lib:
        lib.store.upsert([
            make_paper(title=f"Doomed {i}", arxiv_id=f"2401.{5000 + i:05d}", source="test")
            for i in range(DELETED)
        ])
    return home


def harvested(home: Path) -> int:
    """Papers of the crash harvest stored so far (read while the harvest writes: WAL)."""
    try:
        with sqlite3.connect(f"file:{home / 'paperfeed.db'}?mode=ro", uri=True, timeout=1) as conn:
            return conn.execute("SELECT count(*) FROM papers WHERE title LIKE 'Crash paper%'").fetchone()[0]
    except sqlite3.Error:
        return 0


def papers(home: Path) -> list[tuple]:
    with sqlite3.connect(home / "paperfeed.db") as conn:
        return conn.execute(
            "SELECT id, title, abstract, author_names, categories, published FROM papers ORDER BY id"
        ).fetchall()


def test_a_harvest_killed_at_any_moment_and_run_again_ends_as_an_uninterrupted_one(
    tmp_path: Path,
) -> None:
    rng = random.Random(6)
    oai = OaiPeer(crash_records(), page_size=20)
    with Peer(oai=oai) as peer:
        peer.inject(slow(0.06), when=lambda r: True, times=10_000)  # ~31 pages, ~2 s in all
        url = f"{peer.url}/oai"
        reference = seeded_home(tmp_path / "reference")  # harvested in this process (typer's runner)
        done = CliRunner().invoke(app, ["--home", str(reference), "harvest", "arxiv", "--base-url", url,
                                        "--no-index"], env=ENV, catch_exceptions=False)
        assert done.exit_code == 0, done.stderr

        crashed = seeded_home(tmp_path / "crashed")
        kills = 0
        for _ in range(5):
            process = subprocess.Popen(
                [PAPERFEED, "--home", str(crashed), "harvest", "arxiv",
                 "--base-url", url, "--no-index"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV,
            )
            # Kill once the harvest has stored a random number more papers (so every kill lands
            # mid-harvest, whatever the machine's speed), plus a few random milliseconds.
            target = min(harvested(crashed) + rng.randint(1, 120), N_RECORDS - 40)
            deadline = time.monotonic() + 60
            while harvested(crashed) < target and process.poll() is None and time.monotonic() < deadline:
                time.sleep(0.01)
            time.sleep(rng.uniform(0, 0.05))
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                kills += 1
            process.wait()
        final = paperfeed_cli(crashed, "harvest", "arxiv", "--base-url", url, "--no-index")

    assert final.returncode == 0, final.stderr
    assert kills >= 3
    assert papers(crashed) == papers(reference)
    assert len(papers(reference)) == N_RECORDS
    with paperfeed.open(crashed) as lib:
        statuses = [e["status"] for e in lib.harvest_log(limit=100)]
    assert statuses[0] == "ok"
    assert statuses.count("interrupted") >= 2  # killed mid-harvest (others died while starting)


# -- the daily schedule ------------------------------------------------------------------------

def test_the_configured_harvests_become_daily_jobs(home: Path) -> None:
    config = Config(home=home, harvest=HarvestConfig(scheduled="arxiv:cs, hf", at="05:30"))
    jobs = harvest_jobs(config)
    assert [(j.name, j.at.hour, j.at.minute) for j in jobs] == [
        ("harvest arxiv:cs", 5, 30), ("harvest hf", 5, 30),
    ]
    assert parse_harvests("") == []
    with pytest.raises(InvalidInput):
        parse_harvests("arxiv,zenodo")
    with pytest.raises(InvalidInput):
        harvest_jobs(Config(home=home, harvest=HarvestConfig(scheduled="hf", at="25:00")))


def test_the_scheduler_runs_each_job_once_a_day_at_its_time() -> None:
    at = dtime(4, 0, tzinfo=UTC)
    assert next_run(at, datetime(2025, 3, 1, 3, 59, tzinfo=UTC)) == datetime(2025, 3, 1, 4, 0, tzinfo=UTC)
    assert next_run(at, datetime(2025, 3, 1, 4, 1, tzinfo=UTC)) == datetime(2025, 3, 2, 4, 0, tzinfo=UTC)

    now = [datetime(2025, 3, 1, 3, 0, tzinfo=UTC)]
    ran: list[str] = []

    def broken() -> None:
        raise RuntimeError("the source is down")

    scheduler = Scheduler(
        [Job("harvest", at, lambda: ran.append("harvest")), Job("broken", at, broken)],
        clock=lambda: now[0],
    )
    assert scheduler.run_pending() == []
    now[0] = datetime(2025, 3, 1, 4, 0, 30, tzinfo=UTC)
    assert scheduler.run_pending() == ["harvest", "broken"]  # a failing job does not stop others
    assert scheduler.run_pending() == []  # not twice the same day
    now[0] = datetime(2025, 3, 2, 4, 0, 0, tzinfo=UTC)
    assert scheduler.run_pending() == ["harvest", "broken"]
    assert ran == ["harvest", "harvest"]
