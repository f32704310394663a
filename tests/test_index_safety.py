"""The vector index file under damage, races and kills, for real (separate processes, SIGKILL at
measured progress): a damaged file is detected by its whole-file checksum and rebuilt (never
handed to faiss, which may crash on one), saves never collide, searches never write, papers a
killed import committed get their vectors, and keyword search heals after a killed bulk load."""

from __future__ import annotations

import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
from test_crash_safety import run_import, stored_count, write_part, write_snapshot
from typer.testing import CliRunner

import paperfeed
from paperfeed.cli import app
from paperfeed.records import Paper

N_PAPERS = 4_000  # an index file of ~5 MiB: a third of it damaged in its middle still spans MiBs
SNAPSHOT_RECORDS = 12_000  # the killed imports' snapshot (kills land at a few thousand papers)
QUERIES = ["graph neural networks for molecules", "topic 17 word42 word99", "diffusion sampling"]


def cli(home: Path, *args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "paperfeed.cli", "--home", str(home), *args],
        capture_output=True, text=True, timeout=600, **kwargs,
    )


# The searches of `semantic_scores`, all in one process (a start-up instead of one per query).
SEARCHES = """
import sys, orjson, paperfeed
with paperfeed.open(sys.argv[1]) as lib:
    hits = [lib.search(q, mode="semantic", limit=10) for q in sys.argv[2:]]
print(orjson.dumps([[h.score for h in found] for found in hits]).decode())
"""


def semantic_scores(home: Path) -> list[list[float]]:
    """Each query's semantic top-10 cosines, searched in a separate process (a crash shows as its
    exit code, not as this test process dying)."""
    run = subprocess.run([sys.executable, "-c", SEARCHES, str(home), *QUERIES],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, (run.returncode, run.stderr[-2000:])
    return orjson.loads(run.stdout)


@pytest.fixture(scope="module")
def big_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("big") / "home"
    rng = random.Random(5)
    words = [f"word{i}" for i in range(3000)] + ["graph", "neural", "diffusion", "molecule",
                                                 "sampling", "network", "language", "model"]
    papers = [
        Paper(id=f"2402.{i:05d}", title=f"Paper {i} on topic {i % 89}",
              abstract=" ".join(rng.choice(words) for _ in range(60)))
        for i in range(N_PAPERS)
    ]
    with paperfeed.open(home) as lib:
        lib.store.upsert(papers)
        lib.index()
    return home


def index_file(home: Path) -> Path:
    (path,) = (home / "paperfeed.db.vectors").glob("*.ann")
    return path


@pytest.mark.parametrize(("what", "share"), [("random", 3), ("zeros", 0)])
def test_an_index_damaged_mid_file_is_rebuilt_not_trusted(big_home: Path, tmp_path: Path,
                                                           what: str, share: int) -> None:
    home = tmp_path / "home"
    shutil.copytree(big_home, home)
    before = semantic_scores(home)
    path = index_file(home)
    length = path.stat().st_size
    size = length // share if share else 64 << 10  # a third of the file, or one 64 KiB block
    assert length > 2 * size and size >= 64 << 10
    damage = os.urandom(size) if what == "random" else bytes(size)
    with path.open("r+b") as f:
        f.seek(length // 2 - size // 2)
        f.write(damage)
    after = semantic_scores(home)  # no crash (a separate process: a segfault would show here)
    # The same answers, up to the approximate index itself: faiss builds its graph on two
    # threads, so a rebuilt graph is not bit-identical to the first, and these random-word
    # abstracts tie a lot; the neighbours found are as near as before.
    for old, new in zip(before, after, strict=True):
        assert len(new) == len(old) == 10
        assert abs(sum(new) - sum(old)) / sum(old) < 0.03, (old, new)
    with paperfeed.open(home) as lib:
        lib.search(QUERIES[0], mode="semantic")
        lib.semantic.index.wait()  # the rebuild runs in the background (tests/test_index_warmup.py)
        assert lib.semantic.index.rebuilt == 1  # the damage was noticed, not served
        lib.index()  # a writer saves the rebuilt index
    with paperfeed.open(home) as lib:
        lib.search(QUERIES[0], mode="semantic")
        assert lib.semantic.index.rebuilt == 0


def test_a_search_never_writes_the_index(big_home: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    shutil.copytree(big_home, home)
    with paperfeed.open(home) as lib:  # vectors in the store that the index file lacks
        lib.store.upsert([Paper(id="2501.00001", title="Ornithopter flight dynamics",
                                abstract="Flapping-wing aircraft modelled as oscillators.")])
        vs = lib.semantic.view()
        rows = vs.vectors.texts(["2501.00001"])
        vs.vectors.put([rows[0][0]], vs.encoder.encode(["Ornithopter flight dynamics"]))
    directory = home / "paperfeed.db.vectors"
    files = {p.name: (p.stat().st_mtime_ns, p.stat().st_size) for p in directory.iterdir()}
    run = cli(home, "search", "ornithopter flapping", "--mode", "semantic", "--json")
    assert run.returncode == 0, run.stderr
    assert orjson.loads(run.stdout)[0]["id"] == "2501.00001"  # caught up in memory
    assert {p.name: (p.stat().st_mtime_ns, p.stat().st_size) for p in directory.iterdir()} == files


def test_stale_temp_files_of_a_killed_writer_are_removed(big_home: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    shutil.copytree(big_home, home)
    directory = home / "paperfeed.db.vectors"
    stale = directory / "minilm-static.ann.99999.deadbeef.tmp"
    stale.write_bytes(b"\0" * (1 << 20))
    (directory / "minilm-static.json.99999.deadbeef.tmp").write_text("{")
    with paperfeed.open(home) as lib:
        lib.search(QUERIES[0], mode="semantic")
    assert sorted(p.name for p in directory.glob("*.tmp")) == []


def test_concurrent_imports_and_searches_never_collide(tmp_path: Path) -> None:
    home = tmp_path / "home"
    files = [tmp_path / f"part{n}.jsonl" for n in range(2)]
    for n, path in enumerate(files):
        write_part(path, n, 3000)
    seed = cli(home, "import", str(files[0]))  # a store with vectors for the searcher
    assert seed.returncode == 0, seed.stderr
    searcher = subprocess.Popen(
        [sys.executable, "-c", (
            "import sys, paperfeed\n"
            "with paperfeed.open(sys.argv[1]) as lib:\n"
            "    for _ in range(400):\n"
            "        lib.search('topic 7 word12', mode='hybrid')\n"
            "        if open(sys.argv[2]).read(): break\n"
        ), str(home), str(tmp_path / "stop")],
        stderr=subprocess.PIPE,
    )
    (tmp_path / "stop").write_text("")
    imports = [
        subprocess.Popen(
            [sys.executable, "-m", "paperfeed.cli", "--home", str(home), "import", str(files[1])],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        for _ in range(2)
    ]
    for proc in imports:
        assert proc.wait(timeout=600) == 0, proc.stderr.read().decode()[-3000:]
    (tmp_path / "stop").write_text("stop")
    assert searcher.wait(timeout=600) == 0, searcher.stderr.read().decode()[-3000:]
    assert list((home / "paperfeed.db.vectors").glob("*.tmp")) == []
    with paperfeed.open(home) as lib:
        assert lib.missing_vectors() == 0
        assert len(lib.semantic.index) == lib.store.count() == 6000
        assert lib.semantic.index.rebuilt == 0  # the saved file matches its sidecar


def test_papers_a_killed_import_committed_get_their_vectors(tmp_path: Path) -> None:
    snapshot = tmp_path / "snapshot.jsonl"
    write_snapshot(snapshot, SNAPSHOT_RECORDS)
    home = tmp_path / "home"
    env = {**os.environ, "PAPERFEED_BULK_MIN_BYTES": str(1 << 40)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "paperfeed.cli", "--home", str(home), "import", str(snapshot)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env,
    )

    def vectors() -> int:
        try:
            with sqlite3.connect(f"file:{home / 'paperfeed.db'}?mode=ro", uri=True,
                                 timeout=1) as conn:
                return conn.execute("SELECT count(*) FROM vec_minilm_static").fetchone()[0]
        except sqlite3.Error:
            return 0

    deadline = time.monotonic() + 300
    # Kill once papers are committed beyond the vectors written for them.
    while proc.poll() is None and time.monotonic() < deadline:
        papers = stored_count(home)
        if papers > 2000 and papers > vectors():
            break
        time.sleep(0.002)
    assert proc.poll() is None, "the import finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait(timeout=60) == -signal.SIGKILL
    # `stats` and the rerun through the CLI app in this process (typer's runner): no start-ups
    runner = CliRunner()
    stats = orjson.loads(runner.invoke(app, ["--home", str(home), "stats", "--json"]).stdout)["vector_sets"]
    static = next(s for s in stats["sets"] if s["encoder"] == "minilm-static")
    assert static["missing"] > 0 and static["coverage"] < 1  # stats shows the gap
    rerun = runner.invoke(app, ["--home", str(home), "import", str(snapshot)], catch_exceptions=False,
                          env={"PAPERFEED_BULK_MIN_BYTES": str(1 << 40)})
    assert rerun.exit_code == 0, rerun.stderr
    stats = orjson.loads(runner.invoke(app, ["--home", str(home), "stats", "--json"]).stdout)["vector_sets"]
    static = next(s for s in stats["sets"] if s["encoder"] == "minilm-static")
    assert static["missing"] == 0 and static["coverage"] == 1.0


def test_keyword_search_after_a_killed_bulk_import_is_not_empty(tmp_path: Path) -> None:
    snapshot = tmp_path / "snapshot.jsonl"
    write_snapshot(snapshot, SNAPSHOT_RECORDS)
    home = tmp_path / "home"
    proc = run_import(home, snapshot, bulk=True)
    deadline = time.monotonic() + 300
    while stored_count(home) < 3000 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert proc.poll() is None, "the import finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait(timeout=60) == -signal.SIGKILL
    with sqlite3.connect(home / "paperfeed.db") as conn:
        assert conn.execute("SELECT value FROM meta WHERE key = 'fts_state'").fetchone() == (
            "rebuilding",)
    run = cli(home, "search", "Paper 12 about topic", "--mode", "keyword", "--json")
    assert run.returncode == 0, run.stderr
    assert len(orjson.loads(run.stdout)) > 0  # healed on open, not an empty answer
    with sqlite3.connect(home / "paperfeed.db") as conn:
        assert conn.execute("SELECT value FROM meta WHERE key = 'fts_state'").fetchone() is None
