"""Two vector sets side by side: the instant static set at import, the quality set (minilm-int8)
filled afterwards and switched to atomically once complete; faults while filling it (a missing or
corrupt model file, a SIGKILL at measured progress, a full disk) never leave rankers on a
half-filled set and lose nothing."""

from __future__ import annotations

import os
import resource
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
from conftest import SAMPLE_DIR

from paperfeed.config import Config
from paperfeed.library import Library
from paperfeed.store.sqlite.vectors import table_name

QUALITY = "minilm-int8"


def quality_lib(home: Path, quality: str = QUALITY) -> Library:
    return Library(Config.from_env(home=home, env={"PAPERFEED_QUALITY_ENCODER": quality}))


def cli_env(**extra: str) -> dict[str, str]:
    return {**os.environ, "PAPERFEED_QUALITY_ENCODER": QUALITY, **extra}


def paperfeed(home: Path, *args: str, env: dict[str, str] | None = None,
              **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "paperfeed.cli", "--home", str(home), *args],
        capture_output=True, text=True, env=env or cli_env(), timeout=600, **kwargs,
    )


def here(home: Path, *args: str, **env: str):
    """The same command through the CLI app in this process (typer's runner, with `cli_env`'s
    settings): a command whose own process is not the point needs no start-up. The encoder cache
    is emptied first, so a model loaded by an earlier test is not reused."""
    from typer.testing import CliRunner

    from paperfeed.cli import app
    from paperfeed.embed import get_encoder

    get_encoder.cache_clear()
    return CliRunner().invoke(app, ["--home", str(home), *args], catch_exceptions=False,
                              env={"PAPERFEED_QUALITY_ENCODER": QUALITY, **env})


def set_count(home: Path, encoder: str) -> int:
    try:
        with sqlite3.connect(f"file:{home / 'paperfeed.db'}?mode=ro", uri=True, timeout=1) as conn:
            return conn.execute(f"SELECT count(*) FROM {table_name(encoder)}").fetchone()[0]
    except sqlite3.Error:
        return 0


def active_flag(home: Path) -> str | None:
    with sqlite3.connect(home / "paperfeed.db") as conn:
        row = conn.execute("SELECT value FROM meta WHERE key = 'vector_active'").fetchone()
    return row[0] if row else None


def import_sample(home: Path) -> None:
    with Library(Config.from_env(home=home, env={"PAPERFEED_QUALITY_ENCODER": "none"})) as lib:
        lib.import_files(sorted(SAMPLE_DIR.glob("*.txt")))


def test_the_quality_encoder_is_the_default() -> None:
    assert Config().quality_encoder == QUALITY
    assert Config.from_env(env={}).quality_encoder == QUALITY


def test_static_at_import_then_quality_switched_to_when_complete(home: Path) -> None:
    with quality_lib(home) as lib:
        lib.import_files(sorted(SAMPLE_DIR.glob("*.txt")), fill_quality=False)
        sem = lib.semantic
        status = lib.vector_status()
        cover = {s["encoder"]: s for s in status["sets"]}
        assert status["active"] == "minilm-static"
        assert cover["minilm-static"]["vectors"] == 86 and cover["minilm-static"]["active"]
        assert cover[QUALITY]["vectors"] == 0 and not cover[QUALITY]["active"]
        static_hits = [h.paper.id for h in lib.search("depth estimation", mode="semantic")]

        seen_active: list[str] = []

        def between() -> bool:  # after every batch of the quality fill: who do rankers read?
            seen_active.append(sem.active_name())
            assert lib.search("depth estimation", mode="semantic")  # queries go on meanwhile
            return True

        done = sem.fill(batch=16, between=between)
        assert done == {"minilm-static": 0, QUALITY: 86}
        assert seen_active and set(seen_active) == {"minilm-static"}  # never a half-filled set
        assert sem.active_name() == QUALITY
        view = sem.view()
        assert view.encoder.dim == 384 and view.vectors.encoder() == (QUALITY, 384)
        assert len(view.index) == 86
        quality_hits = [h.paper.id for h in lib.search("depth estimation", mode="semantic")]
        assert quality_hits and quality_hits != static_hits  # another encoder ranks
        stats = lib.stats()["vector_sets"]
        assert stats["active"] == QUALITY
        assert {s["encoder"]: s["coverage"] for s in stats["sets"]} == {
            "minilm-static": 1.0, QUALITY: 1.0}

        # New papers get both sets at import, so the active set stays complete.
        from paperfeed.records import Paper

        lib.store.upsert([Paper(id="2501.00001", title="Ornithopter flight dynamics",
                                abstract="Flapping-wing aircraft modelled as coupled oscillators.")])
        lib.semantic.embed_ids(["2501.00001"])
        assert lib.missing_vectors() == 0
        hits = lib.search("flapping wing ornithopter", mode="semantic", limit=1)
        assert hits[0].paper.id == "2501.00001"


def test_a_small_import_fills_the_quality_set_on_the_spot(home: Path) -> None:
    """Quality by default: 86 papers are within `PAPERFEED_QUALITY_AT_IMPORT`, so the import
    leaves the quality set complete and active, and related papers rank with it at once."""
    with quality_lib(home) as lib:
        lib.import_files(sorted(SAMPLE_DIR.glob("*.txt")))
        status = lib.vector_status()
        assert status["active"] == QUALITY
        assert {s["encoder"]: s["vectors"] for s in status["sets"]} == {
            "minilm-static": 86, QUALITY: 86}
        assert lib.semantic.view().encoder.dim == 384
        assert lib.quality_backlog() == 0 and lib.fill_quality() == 0  # nothing left to do
        paper_id = lib.search("depth estimation", mode="keyword", limit=1)[0].paper.id
        assert len(lib.related(paper_id, limit=5)) == 5


def test_a_large_backlog_is_left_to_serve_and_index(home: Path) -> None:
    env = {"PAPERFEED_QUALITY_ENCODER": QUALITY, "PAPERFEED_QUALITY_AT_IMPORT": "85"}
    with Library(Config.from_env(home=home, env=env)) as lib:
        lib.import_files(sorted(SAMPLE_DIR.glob("*.txt")))  # 86 papers: one too many
        assert lib.semantic.active_name() == "minilm-static"
        assert set_count(home, QUALITY) == 0 and lib.quality_backlog() == 0
        assert lib.index()["encoder"] == QUALITY
    off = {"PAPERFEED_QUALITY_ENCODER": QUALITY, "PAPERFEED_QUALITY_AT_IMPORT": "0"}
    other = home / "off"
    with Library(Config.from_env(home=other, env=off)) as lib:
        lib.import_files(sorted(SAMPLE_DIR.glob("*.txt")))
        assert lib.semantic.active_name() == "minilm-static"
        assert set_count(other, QUALITY) == 0


def test_an_import_leaves_the_fill_to_an_embedder_already_at_work(home: Path) -> None:
    """The background embedder of a running `serve` holds the store's embedder lock: the import
    does not fill the same set beside it."""
    with quality_lib(home) as lib:
        lock = lib.semantic.sets.try_embedder_lock()
        assert lock is not None
        try:
            lib.import_files(sorted(SAMPLE_DIR.glob("*.txt")))
            assert lib.semantic.active_name() == "minilm-static"
            assert set_count(home, QUALITY) == 0
        finally:
            lock.release()
        assert lib.fill_quality() == 86 and lib.semantic.active_name() == QUALITY


def test_the_import_command_fills_a_small_library_and_survives_a_broken_model(
        home: Path, tmp_path: Path) -> None:
    files = [str(p) for p in sorted(SAMPLE_DIR.glob("*.txt"))]
    broken = tmp_path / "model.onnx"
    broken.write_bytes(b"\x08\x07garbage" * 4096)
    run = here(home, "import", *files, PAPERFEED_ONNX_MODEL=str(broken))
    assert run.exit_code == 0, run.stderr  # the papers are imported; the static set serves
    assert active_flag(home) in (None, "minilm-static") and set_count(home, QUALITY) == 0
    assert set_count(home, "minilm-static") == 86
    again = here(home, "import", *files)  # the model is back: the next import fills the set
    assert again.exit_code == 0, again.stderr
    assert active_flag(home) == QUALITY and set_count(home, QUALITY) == 86


def test_changing_the_quality_encoder_is_blue_green(home: Path) -> None:
    import_sample(home)
    with quality_lib(home) as lib:
        lib.index()
        assert lib.semantic.active_name() == QUALITY
    with quality_lib(home, "minilm") as lib:  # the torch encoder: another set
        sem = lib.semantic
        assert sem.active_name() == QUALITY  # the old set serves until the new one is complete
        seen: list[str] = []
        sem.fill(batch=32, between=lambda: seen.append(sem.active_name()) or True)
        assert set(seen) == {QUALITY}
        assert sem.active_name() == "minilm"
        assert sorted(sem.sets.names()) == ["minilm", "minilm-static"]  # the old set dropped after
        assert set_count(home, QUALITY) == 0
        assert set_count(home, "minilm") == 86


def test_a_store_from_before_sets_keeps_its_vectors(home: Path) -> None:
    import_sample(home)
    with Library(Config.from_env(home=home, env={"PAPERFEED_QUALITY_ENCODER": "none"})) as lib:
        before = [h.paper.id for h in lib.search("depth estimation", mode="semantic")]
        seq = lib.semantic.view().vectors.latest_seq()
    # Put the store back into the one-table layout of earlier versions.
    with sqlite3.connect(home / "paperfeed.db") as conn:
        conn.execute("DROP TRIGGER vec_minilm_static_stale")
        conn.execute("DROP INDEX vec_minilm_static_seq")
        conn.execute("ALTER TABLE vec_minilm_static RENAME TO embeddings")
        conn.execute("CREATE INDEX embeddings_seq ON embeddings(seq)")
        conn.execute("DELETE FROM meta WHERE key LIKE 'vector_%'")
        conn.execute("INSERT INTO meta VALUES ('vector_encoder', 'minilm-static:256')")
        conn.execute("INSERT INTO meta VALUES ('vector_seq', ?)", (str(seq),))
    with quality_lib(home) as lib:
        assert lib.semantic.active_name() == "minilm-static"
        assert set_count(home, "minilm-static") == 86
        assert lib.semantic.view().vectors.latest_seq() == seq  # nothing re-embedded
        assert [h.paper.id for h in lib.search("depth estimation", mode="semantic")] == before
        lib.index()
        assert lib.semantic.active_name() == QUALITY


@pytest.mark.parametrize("damage", ["missing", "corrupt"])
def test_a_broken_model_file_leaves_the_static_set_serving(home: Path, tmp_path: Path,
                                                           damage: str) -> None:
    import_sample(home)
    model = tmp_path / "model.onnx"
    if damage == "corrupt":
        model.write_bytes(b"\x08\x07garbage" * 4096)
    env = cli_env(PAPERFEED_ONNX_MODEL=str(model))
    run = paperfeed(home, "index", env=env)  # its own process: the failing command
    assert run.returncode == 2, run.stderr
    assert "ONNX model" in run.stderr and "Traceback" not in run.stderr
    assert active_flag(home) == "minilm-static"
    search = here(home, "search", "depth estimation", "--mode", "semantic", "--json",
                  PAPERFEED_ONNX_MODEL=str(model))
    assert search.exit_code == 0, search.stderr
    assert len(orjson.loads(search.stdout)) > 0
    stats = here(home, "stats", "--json", PAPERFEED_ONNX_MODEL=str(model))
    assert stats.exit_code == 0, stats.stderr
    data = orjson.loads(stats.stdout)["vector_sets"]
    assert data["active"] == "minilm-static"
    assert "unavailable" in data["warning"] and "ONNX model" in data["warning"]
    text = here(home, "stats", PAPERFEED_ONNX_MODEL=str(model))
    assert "unavailable" in text.stderr and "minilm-static" in text.stdout and "86 / 86" in text.stdout


def test_the_web_status_line_warns_of_a_broken_model(home: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from fastapi.testclient import TestClient

    from paperfeed.embed import get_encoder
    from paperfeed.web.app import create_app

    import_sample(home)
    monkeypatch.setenv("PAPERFEED_ONNX_MODEL", str(tmp_path / "absent.onnx"))
    get_encoder.cache_clear()  # the process may have loaded the good file before
    try:
        with TestClient(create_app(library=quality_lib(home))) as client:
            page = client.get("/")
            assert page.status_code == 200
            assert "Search quality reduced" in page.text and "ONNX model missing" in page.text
            found = client.get("/api/papers/search", params={"q": "depth estimation"})
            assert found.status_code == 200 and found.json()
    finally:
        get_encoder.cache_clear()


def test_a_killed_quality_fill_resumes_and_never_activates_half_a_set(home: Path) -> None:
    import_sample(home)
    proc = subprocess.Popen(
        [sys.executable, "-m", "paperfeed.cli", "--home", str(home), "index", "--batch", "4"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=cli_env(),
    )
    deadline = time.monotonic() + 300
    while set_count(home, QUALITY) < 12 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    assert proc.poll() is None, "the fill finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait(timeout=60) == -signal.SIGKILL
    done_before = set_count(home, QUALITY)
    assert 12 <= done_before < 86
    assert active_flag(home) == "minilm-static"  # a half-filled set is never active
    with quality_lib(home) as lib:
        assert lib.semantic.active_name() == "minilm-static"
        assert lib.search("depth estimation", mode="semantic")
    run = here(home, "index", "--json")
    assert run.exit_code == 0, run.stderr
    result = orjson.loads(run.stdout)
    assert result["encoder"] == QUALITY and result["switched"]
    assert result["embedded"] == 86 - done_before  # resumed where it was
    assert set_count(home, QUALITY) == 86 and active_flag(home) == QUALITY


def _limit_file_size(limit: int):
    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


def test_a_full_disk_while_re_embedding_loses_nothing(home: Path) -> None:
    """RLIMIT_FSIZE stands for the full disk: the process may not grow any file past a size just
    above the store's, so the quality set's writes fail half-way (EFBIG / SQLITE_FULL)."""
    import_sample(home)
    db = home / "paperfeed.db"
    here(home, "stats")  # checkpointed, settled
    before = here(home, "search", "depth estimation", "--mode", "semantic", "--json").stdout
    limit = 64 * 1024  # the WAL (emptied by the last checkpoint) cannot grow past it
    # its own process, the one whose files may not grow
    run = paperfeed(home, "index", "--batch", "8", preexec_fn=_limit_file_size(limit))
    assert run.returncode == 4, run.stderr
    assert "disk is full" in run.stderr and "Traceback" not in run.stderr
    assert "what was committed is kept" in run.stderr
    assert active_flag(home) == "minilm-static"
    after = here(home, "search", "depth estimation", "--mode", "semantic", "--json")
    assert after.exit_code == 0 and after.stdout == before  # the active set keeps serving
    rerun = here(home, "index", "--json")
    assert rerun.exit_code == 0, rerun.stderr
    assert orjson.loads(rerun.stdout)["encoder"] == QUALITY
    assert set_count(home, QUALITY) == 86 and set_count(home, "minilm-static") == 86
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert conn.execute("SELECT count(*) FROM papers").fetchone() == (86,)


def test_serve_fills_the_quality_set_in_the_background(home: Path) -> None:
    import socket
    import urllib.request

    import_sample(home)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "paperfeed.cli", "--home", str(home), "serve", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=cli_env(),
    )
    try:
        deadline = time.monotonic() + 900  # a low-priority thread on a shared machine
        answered = 0
        while time.monotonic() < deadline and server.poll() is None:
            try:
                url = f"http://127.0.0.1:{port}/api/papers/search?q=depth+estimation"
                with urllib.request.urlopen(url, timeout=30) as r:
                    assert r.status == 200 and orjson.loads(r.read())
                    answered += 1
            except OSError:
                pass  # not listening yet
            if active_flag(home) == QUALITY:
                break
        assert server.poll() is None, server.stderr.read().decode()[-3000:]
        assert active_flag(home) == QUALITY and set_count(home, QUALITY) == 86
        assert answered > 0  # it answered searches meanwhile
    finally:
        server.terminate()
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=60)


def test_the_background_embedder_fills_with_its_own_one_thread_session(home: Path) -> None:
    """`serve`'s embedder encodes with its own single-threaded onnxruntime session (the work runs
    in its low-priority thread, leaving the other core to requests): the same model, so the
    vectors are the shared session's, and the set switches once complete."""
    import threading

    from paperfeed.embed import get_encoder, paper_text
    from paperfeed.embed.background import BackgroundEmbedder

    import_sample(home)
    get_encoder.cache_clear()
    with quality_lib(home) as lib:
        embedder = BackgroundEmbedder(lib.semantic, poll=3600, pause=0.0, threads=1, nice=12).start()
        try:
            thread = next(t for t in threading.enumerate() if t.name == "embedder")
            deadline = time.monotonic() + 600
            while lib.semantic.active_name() != QUALITY and time.monotonic() < deadline:
                time.sleep(0.1)
            niceness = os.getpriority(os.PRIO_PROCESS, thread.native_id or 0)
        finally:
            embedder.stop(timeout=120)
        assert embedder.error is None
        assert lib.semantic.active_name() == QUALITY and set_count(home, QUALITY) == 86
        own = os.getpriority(os.PRIO_PROCESS, 0)  # raising a priority takes root
        assert niceness == (12 if os.geteuid() == 0 or own <= 12 else own)
        assert embedder._own is not None and embedder._own.threads == 1
        store = lib.semantic.vector_set(QUALITY).vectors
        assert store.count_missing() == 0
        keys, stored = next(iter(store.iter_vectors()))
        papers = lib.store.get_by_keys([int(k) for k in keys])
        texts = [paper_text(papers[int(k)].title, papers[int(k)].abstract) for k in keys]
        shared = get_encoder(QUALITY)
        assert shared is not embedder._own
        cosines = (stored * shared.encode(texts)).sum(axis=1)
        assert len(keys) == 86 and cosines.min() > 0.999
