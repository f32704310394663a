"""`paperfeed subscribers ...` and `paperfeed digest ...` on the command line, and a real
`paperfeed digest send` process killed with SIGKILL in the middle of a run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from digestdata import DAY, TRENDING, add_papers, mail_env
from smtp_sink import SmtpSink
from typer.testing import CliRunner

import paperfeed
from paperfeed.cli import app

runner = CliRunner()


def cli(home: Path, *args: str):
    return runner.invoke(app, ["--home", str(home), *args], catch_exceptions=False)


@pytest.fixture
def mail_home(home: Path, smtp: SmtpSink, monkeypatch: pytest.MonkeyPatch) -> Path:
    mail_env(monkeypatch, smtp.url)
    with paperfeed.open(home) as lib:
        add_papers(lib, TRENDING)
    return home


def test_subscribers_add_list_remove(mail_home: Path, smtp: SmtpSink) -> None:
    r = cli(mail_home, "subscribers", "add", "Ada@Example.org", "--topic", "diffusion", "--topic", "RLHF",
            "--confirmed")
    assert r.exit_code == 0, r.output
    r = cli(mail_home, "subscribers", "add", "bob@example.org", "--weekly", "--no-trending")
    assert r.exit_code == 0 and "confirmation email sent" in r.output
    assert [m.rcpt_tos for m in smtp.recorder.received] == [["bob@example.org"]]

    listing = cli(mail_home, "subscribers", "list").output.splitlines()
    assert listing[0].split("\t")[:4] == ["ada@example.org", "active", "weekdays", "trending=on"]
    assert "topics: diffusion; RLHF" in listing[0]
    assert listing[1].split("\t")[:4] == ["bob@example.org", "pending", "weekly", "trending=off"]

    # The admin changes an active subscription in place (no new confirmation).
    assert cli(mail_home, "subscribers", "add", "ada@example.org", "--topic", "LLM agents").exit_code == 0
    assert "active" in cli(mail_home, "subscribers", "list").output.splitlines()[0]
    assert "topics: LLM agents" in cli(mail_home, "subscribers", "list").output.splitlines()[0]
    assert smtp.recorder.count() == 1

    assert cli(mail_home, "subscribers", "remove", "bob@example.org").exit_code == 0
    assert len(cli(mail_home, "subscribers", "list").output.splitlines()) == 1
    assert cli(mail_home, "subscribers", "remove", "bob@example.org").exit_code == 2


@pytest.mark.parametrize(
    "args",
    [
        ("subscribers", "add", "ada@example.org\r\nBcc: x@example.org", "--confirmed"),
        ("subscribers", "add", "ada@example.org", "--name", "Ada\nBcc: x@example.org"),
        ("subscribers", "add", "ada@example.org", "--topic", "rl\r\nBcc: x@example.org"),
        ("subscribers", "add", "no-at-sign", "--confirmed"),
        ("digest", "preview", "nobody@example.org"),
        ("digest", "preview", "ada@example.org", "--date", "yesterday"),
    ],
)
def test_bad_input_exits_2_with_a_message(mail_home: Path, args: tuple[str, ...]) -> None:
    r = cli(mail_home, *args)
    assert r.exit_code == 2 and "error:" in r.output
    assert "Traceback" not in r.output


def test_a_bounce_is_shown_in_the_list_and_send_exits_1(mail_home: Path, smtp: SmtpSink) -> None:
    cli(mail_home, "subscribers", "add", "gone@example.org", "--confirmed")
    smtp.recorder.replies["gone@example.org"] = ["550 5.1.1 No such user"]
    r = cli(mail_home, "digest", "send", "--date", DAY.isoformat())
    assert r.exit_code == 1 and "failed 1" in r.output
    line = cli(mail_home, "subscribers", "list").output
    assert "bounced" in line and "550 5.1.1 No such user" in line


def test_preview_prints_the_message_and_send_delivers_it_once(mail_home: Path, smtp: SmtpSink) -> None:
    cli(mail_home, "subscribers", "add", "ada@example.org", "--confirmed")
    preview = cli(mail_home, "digest", "preview", "ada@example.org", "--date", DAY.isoformat(), "--raw").output
    assert "List-Unsubscribe-Post: List-Unsubscribe=One-Click" in preview
    assert "Content-Type: multipart/alternative" in preview
    decoded = cli(mail_home, "digest", "preview", "ada@example.org", "--date", DAY.isoformat()).output
    assert "List-Unsubscribe-Post: List-Unsubscribe=One-Click" in decoded
    assert "Content-Type" not in decoded and "Content-Transfer-Encoding" not in decoded
    assert "=C2=B7" not in decoded and " · " in decoded  # the text, not quoted-printable
    assert "/unsubscribe" in decoded  # the plain text itself
    assert smtp.recorder.count() == 0
    for _ in range(2):
        assert cli(mail_home, "digest", "send", "--date", DAY.isoformat()).exit_code == 0
    assert smtp.recorder.count() == 1


SUBSCRIBERS = 12


def test_a_send_killed_mid_run_and_run_again_delivers_each_digest_exactly_once(
    mail_home: Path, smtp: SmtpSink
) -> None:
    with paperfeed.open(mail_home) as lib:
        for n in range(SUBSCRIBERS):
            lib.subscribers.add(f"reader{n:02d}@example.org", confirmed=True)
    smtp.recorder.rcpt_delay = 0.3  # the server takes its time before accepting each recipient
    command = [str(Path(sys.executable).parent / "paperfeed"), "--home", str(mail_home),
               "digest", "send", "--date", DAY.isoformat()]
    env = {**os.environ}
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 300  # a guard against a hang; a loaded machine starts slowly
        while smtp.recorder.count() < 4 and time.monotonic() < deadline:
            time.sleep(0.01)
        # Let the sender record that delivery and get into the next one (waiting on RCPT).
        time.sleep(0.1)
        assert proc.poll() is None, proc.communicate()
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    killed_after = smtp.recorder.count()
    assert proc.returncode == -signal.SIGKILL
    assert 4 <= killed_after < SUBSCRIBERS

    smtp.recorder.rcpt_delay = 0
    rerun = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    delivered = sorted(r for m in smtp.recorder.received for r in m.rcpt_tos)
    assert delivered == [f"reader{n:02d}@example.org" for n in range(SUBSCRIBERS)]
    # And a third run sends nothing.
    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and "sent 0" in again.stderr
    assert smtp.recorder.count() == SUBSCRIBERS
