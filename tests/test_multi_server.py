"""Several app servers on one PostgreSQL: two `paperfeed serve` processes answer while an import
writes, upvotes sent to both at once are neither lost nor doubled, and a lease (the harvest lock)
raced for by many processes is held by exactly one."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from paperfeed.config import Config
from paperfeed.library import Library
from paperfeed.store.postgres.store import PostgresStore

USERS = 24


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli(url: str, *args: str) -> list[str]:
    return [str(Path(sys.executable).with_name("paperfeed")), "--database", url, *args]


def snapshot(path: Path, n: int) -> Path:
    """n records in the arXiv bulk-snapshot format."""
    with path.open("wb") as out:
        for i in range(n):
            out.write(orjson.dumps({
                "id": f"2403.{i:05d}", "title": f"Concurrent paper number {i}",
                "authors": "Ada Lovelace, Alan Turing", "categories": "cs.DB",
                "abstract": f"We study concurrency control, case {i}.",
                "versions": [{"version": "v1", "created": "Mon, 4 Mar 2024 10:00:00 GMT"}],
                "update_date": "2024-03-04",
            }) + b"\n")
    return path


def wait_up(base: str, proc: subprocess.Popen) -> None:
    for _ in range(300):
        if proc.poll() is not None:
            raise AssertionError(f"server exited: {proc.stderr.read().decode()[-2000:]}")
        try:
            if httpx.get(base + "/api/daily_papers", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError("server did not start")


@pytest.fixture
def two_servers(pg_server, tmp_path: Path):
    url = pg_server.new_database()
    with Library(Config.from_env(home=tmp_path / "setup", database_url=url)) as lib:
        assert subprocess.run(cli(url, "import", "--sample"), capture_output=True).returncode == 0
        sessions = [
            lib.accounts.open_session(lib.accounts.signup(f"u{i}@example.org", "long enough pw"))
            for i in range(USERS)
        ]
    procs, bases = [], []
    for _ in range(2):
        port = free_port()
        procs.append(subprocess.Popen(
            cli(url, "serve", "--host", "127.0.0.1", "--port", str(port)),
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        ))
        bases.append(f"http://127.0.0.1:{port}")
    try:
        for base, proc in zip(bases, procs, strict=True):
            wait_up(base, proc)
        yield url, bases, sessions
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=30)


def test_upvotes_on_two_servers_during_an_import_are_counted_exactly_once(
    two_servers, tmp_path: Path
) -> None:
    url, bases, sessions = two_servers
    paper = httpx.get(bases[0] + "/api/daily_papers").json()[0]["paper"]
    before = paper["upvotes"]
    importing = subprocess.Popen(
        cli(url, "import", "--no-index", str(snapshot(tmp_path / "snap.jsonl", 8000))),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )

    def vote(i: int) -> int:
        """User i upvotes the paper on one server and a paper the import just wrote on the
        other, reading the first paper back from each."""
        s = sessions[i]
        cookies = {"pf_session": s.token}
        statuses = []
        for base, pid in ((bases[i % 2], paper["id"]), (bases[(i + 1) % 2], "2403.00000")):
            with httpx.Client(base_url=base, cookies=cookies) as client:
                statuses.append(client.post(f"/papers/{pid}/upvote", data={"csrf": s.csrf}).status_code)
                statuses.append(client.get(f"/api/papers/{paper['id']}").status_code)
        return max(statuses)

    deadline = time.time() + 600  # a guard only: the import starts slowly on a loaded machine
    while httpx.get(f"{bases[1]}/api/papers/2403.00000").status_code != 200:  # import under way
        assert time.time() < deadline and importing.poll() in (None, 0)
        time.sleep(0.05)
    with ThreadPoolExecutor(12) as pool:
        statuses = list(pool.map(vote, range(USERS)))
    assert all(s < 400 for s in statuses)
    assert importing.wait(timeout=300) == 0, importing.stderr.read().decode()[-2000:]

    for base in bases:  # both servers see every vote exactly once, and the whole import
        assert httpx.get(f"{base}/api/papers/{paper['id']}").json()["upvotes"] == before + USERS
        assert httpx.get(f"{base}/api/papers/2403.00000").json()["upvotes"] == USERS
        assert httpx.get(f"{base}/api/papers/2403.07999").status_code == 200
    with Library(Config.from_env(home=tmp_path / "check", database_url=url)) as lib:
        assert lib.store.count() == 86 + 8000
        votes = lib.store.db.query("SELECT count(*) FROM votes")[0][0]
        assert votes == 2 * USERS


RACERS = 6


def _try_lease(url: str, start: Any, tried: Any) -> bool:
    """In a separate process: take the arXiv harvest lease once every racer is ready (`start`, a
    barrier), and hold it until every racer has tried (`tried`, a shared list): a process that
    spawned slowly still finds it taken instead of taking it after the winner let go."""
    from paperfeed.harvest.locks import SourceLock, SourceLocked

    store = PostgresStore(url, max_size=1)
    try:
        start.wait(timeout=300)
        try:
            with SourceLock(store.db, "arxiv"):
                tried.append(True)
                deadline = time.monotonic() + 300
                while len(tried) < RACERS and time.monotonic() < deadline:
                    time.sleep(0.05)
                return True
        except SourceLocked:
            tried.append(False)
            return False
    finally:
        store.close()


def test_a_harvest_lease_is_held_by_one_process_of_many(pg_server) -> None:
    """Processes on several app servers race for the same harvest lease: exactly one wins."""
    import multiprocessing

    url = pg_server.new_database()
    PostgresStore(url).close()  # migrated once before the race
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager, context.Pool(RACERS) as pool:
        start, tried = manager.Barrier(RACERS), manager.list()
        won = pool.starmap(_try_lease, [(url, start, tried)] * RACERS)
        assert len(tried) == RACERS
    assert sorted(won) == [False] * (RACERS - 1) + [True]


def _send_digests(url: str, smtp_url: str, start_at: float, home: str) -> int:
    """In a separate process (another app server): run the day's digest send at `start_at`."""
    import os

    from digestdata import BASE_URL, DAY, MAIL_FROM, later

    os.environ.update(PAPERFEED_SMTP_URL=smtp_url, PAPERFEED_MAIL_FROM=MAIL_FROM,
                      PAPERFEED_BASE_URL=BASE_URL, PAPERFEED_DIGEST_RETRY_SECONDS="0")
    with Library(Config.from_env(home=Path(home) / str(os.getpid()), database_url=url)) as lib:
        time.sleep(max(0.0, start_at - time.time()))
        return lib.digests.send(DAY, now=later()).sent


def test_digests_sent_from_several_processes_at_once_go_out_exactly_once(pg_server, tmp_path: Path) -> None:
    """The outbox and its send lock hold across processes on PostgreSQL: three senders started
    together, then three more, deliver one digest per subscriber in all."""
    import multiprocessing

    from digestdata import TRENDING
    from smtp_sink import SmtpSink

    url = pg_server.new_database()
    sink = SmtpSink().start()
    try:
        with Library(Config.from_env(home=tmp_path / "setup", database_url=url)) as lib:
            lib.store.upsert(TRENDING)
            for i in range(12):
                lib.subscribers.add(f"reader{i}@example.org", confirmed=True)
        with multiprocessing.get_context("spawn").Pool(3) as pool:
            for _ in range(2):
                start_at = time.time() + 4.0
                sent = pool.starmap(_send_digests, [(url, sink.url, start_at, str(tmp_path))] * 3)
                assert sum(sent) in (0, 12)
        assert sink.recorder.count() == 12
        assert all(len(sink.recorder.to(f"reader{i}@example.org")) == 1 for i in range(12))
    finally:
        sink.stop()
