"""A send run's digests composed by worker processes: the same digests as one process composes,
and a real `paperfeed digest send --workers 2` killed with SIGKILL mid-run, then run again,
delivers each digest exactly once to a real SMTP server (aiosmtpd on loopback), with each For you
paper recorded as sent once; the killed run's workers exit with it. A worker killed alone, after
some digests are composed: the run sends those, says why it stopped, and the next run composes
and sends the rest, each once."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from digestdata import DAY, mail_env
from librarydata import SAMPLE_DIR, page_ids
from smtp_sink import SmtpSink

import paperfeed
from paperfeed.digest.compose import DigestContent
from paperfeed.digest.workers import AUTO_MIN_DIGESTS, workers_for
from paperfeed.library import Library

READERS = 12


def readers(lib: Library, count: int = READERS) -> list[str]:
    """`count` accounts (default READERS), each with a collection of 5 papers of one of the sample's two pages
    chosen for the digest, a dismissal, and a confirmed subscription; every paper arrived after
    the subscriptions began (20 minutes ago: past the arrivals' settling time)."""
    a, b = page_ids()
    rng = random.Random(5)
    emails = []
    for n in range(count):
        email = f"reader{n:02d}@example.org"
        lib.accounts.signup(email, "correct horse")
        page = a if n % 2 else b
        for pid in rng.sample(page, 5):
            lib.library_add(pid, "Reading", email)
        lib.dismiss(rng.choice(page), email)
        uid = lib.user_of(email).id
        lib.personal.settings.set_digest_collections(uid, [c.id for c in lib.collections(email)])
        lib.subscribers.add(email, confirmed=True)
        emails.append(email)
    begun = (datetime.now(UTC) - timedelta(hours=1)).isoformat(timespec="seconds")
    arrived = (datetime.now(UTC) - timedelta(minutes=20)).isoformat(timespec="seconds")
    with lib.store.db.transaction() as tx:
        tx.execute("UPDATE subscribers SET since = ?", (begun,))
        tx.execute("UPDATE papers SET added_at = ?", (arrived,))
    return emails


@pytest.fixture
def mail_home(home: Path, smtp: SmtpSink, monkeypatch: pytest.MonkeyPatch) -> Path:
    mail_env(monkeypatch, smtp.url)
    with paperfeed.open(home) as lib:
        lib.import_files(sorted(SAMPLE_DIR.glob("*.txt")))
        readers(lib)
    return home


def outbox(lib: Library) -> dict[str, DigestContent]:
    rows = lib.store.db.query(
        "SELECT s.email, o.content FROM digest_outbox o JOIN subscribers s ON s.id = o.subscriber_id "
        "WHERE o.digest_date = ?", (DAY.isoformat(),))
    return {email: DigestContent.from_json(content) for email, content in rows}


def test_the_default_starts_workers_only_for_a_large_run() -> None:
    assert workers_for(None, AUTO_MIN_DIGESTS - 1) == 1
    assert workers_for(None, AUTO_MIN_DIGESTS) == min(os.cpu_count() or 1, 4)
    assert workers_for(2, 1) == 1  # never more workers than digests
    assert workers_for(3, 50) == 3


def test_two_workers_compose_the_digests_one_process_composes(mail_home: Path) -> None:
    with paperfeed.open(mail_home) as lib:
        now = datetime.now(UTC)
        assert lib.digests.compose(DAY, now, workers=1) == (READERS, 0)
        alone = outbox(lib)
        sent_alone = set(lib.store.db.query("SELECT user_id, paper_id FROM recommendations_sent"))
        with lib.store.db.transaction() as tx:
            tx.execute("DELETE FROM digest_outbox")
            tx.execute("DELETE FROM recommendations_sent")
        assert lib.digests.compose(DAY, now, workers=2) == (READERS, 0)
        together = outbox(lib)
        sent_together = set(lib.store.db.query("SELECT user_id, paper_id FROM recommendations_sent"))
        assert lib.digests.compose(DAY, now, workers=2) == (0, 0)  # composed once a day
    assert sum(bool(c.for_you) for c in alone.values()) >= READERS // 2, "For you sections to compare"
    # the same papers, in the same order, with the same reasons: the saved papers they are
    # close to and the terms named (term ids are the same in every process, so even terms of
    # exactly equal weight are named alike)
    assert {e: c.for_you for e, c in together.items()} == {e: c.for_you for e, c in alone.items()}
    assert any("terms: " in r for c in alone.values() for _, hits in c.for_you for _, rs in hits
               for r in rs)
    assert {e: (c.trending, c.topics) for e, c in together.items()} == {
        e: (c.trending, c.topics) for e, c in alone.items()}
    assert sent_together == sent_alone and sent_alone


def children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out.append(int(entry.name))
    return out


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_a_send_with_two_workers_killed_mid_run_delivers_each_digest_exactly_once(
    mail_home: Path, smtp: SmtpSink
) -> None:
    smtp.recorder.rcpt_delay = 0.3  # the server takes its time before accepting each recipient
    command = [str(Path(sys.executable).parent / "paperfeed"), "--home", str(mail_home),
               "digest", "send", "--date", DAY.isoformat(), "--workers", "2"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    workers: set[int] = set()
    try:
        deadline = time.monotonic() + 300  # a guard against a hang; a loaded machine starts slowly
        while smtp.recorder.count() < 4 and time.monotonic() < deadline:
            workers.update(p for p in children(proc.pid) if alive(p))
            time.sleep(0.01)
        time.sleep(0.1)  # into the next delivery (waiting on RCPT)
        assert proc.poll() is None, proc.communicate()
        workers.update(p for p in children(proc.pid) if alive(p))
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    killed_after = smtp.recorder.count()
    assert proc.returncode == -signal.SIGKILL
    assert 4 <= killed_after < READERS
    assert len(workers) >= 2, "the run composed in worker processes"
    gone = time.monotonic() + 30
    while any(alive(p) for p in workers) and time.monotonic() < gone:
        time.sleep(0.1)
    assert not any(alive(p) for p in workers), "a worker outlived the killed run"

    smtp.recorder.rcpt_delay = 0
    rerun = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    delivered = sorted(r for m in smtp.recorder.received for r in m.rcpt_tos)
    assert delivered == [f"reader{n:02d}@example.org" for n in range(READERS)]
    again = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and "sent 0" in again.stderr
    assert smtp.recorder.count() == READERS
    with paperfeed.open(mail_home) as lib:
        contents = outbox(lib)
        for email, content in contents.items():
            recorded = lib.personal.feedback.sent_ids(lib.user_of(email).id)
            assert recorded == set(content.recommended)
            [received] = [m for m in smtp.recorder.received if m.rcpt_tos == [email]]
            text = received.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
            for pid in content.recommended:
                assert pid in text
    assert any(c.recommended for c in contents.values())


def is_worker(pid: int) -> bool:
    """A composing worker (a spawned interpreter), not multiprocessing's resource tracker."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"spawn_main" in command and b"resource_tracker" not in command


def test_one_worker_killed_mid_compose_loses_nothing_and_repeats_nothing(
    home: Path, smtp: SmtpSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    import paperfeed.digest.workers as workers_module

    mail_env(monkeypatch, smtp.url)
    many = 30
    with paperfeed.open(home) as lib:
        lib.import_files(sorted(SAMPLE_DIR.glob("*.txt")))
        emails = readers(lib, many)
    monkeypatch.setattr(workers_module, "BATCH", 2)  # 15 tasks: the kill lands between them
    killed: list[int] = []
    queued_at_kill: list[int] = []

    def kill_a_worker_after_the_first_digests(lib: Library, stop: threading.Event) -> None:
        while not stop.is_set():
            row = lib.store.db.query_one("SELECT count(*) FROM digest_outbox")
            alive_workers = [p for p in children(os.getpid()) if alive(p) and is_worker(p)]
            if row and row[0] >= 2 and alive_workers:
                queued_at_kill.append(int(row[0]))
                os.kill(alive_workers[0], signal.SIGKILL)
                killed.append(alive_workers[0])
                return
            time.sleep(0.005)

    with paperfeed.open(home) as lib:
        stop = threading.Event()
        watcher = threading.Thread(target=kill_a_worker_after_the_first_digests, args=(lib, stop))
        watcher.start()
        try:
            first = lib.digests.send(DAY, workers=2)
        finally:
            stop.set()
            watcher.join()
        assert killed and queued_at_kill, "a worker was killed after measured progress"
        assert first.error and "worker" in first.error
        assert queued_at_kill[0] <= first.sent == first.composed < many, first
        assert smtp.recorder.count() == first.sent
        second = lib.digests.send(DAY, workers=2)
        assert second.error is None and second.sent == second.composed == many - first.sent
        assert lib.digests.send(DAY, workers=2).sent == 0
        delivered = sorted(r for m in smtp.recorder.received for r in m.rcpt_tos)
        assert delivered == sorted(emails), "every reader once"
        for email, content in outbox(lib).items():
            assert lib.personal.feedback.sent_ids(lib.user_of(email).id) == set(content.recommended)
