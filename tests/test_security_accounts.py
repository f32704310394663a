"""Accounts under hostile use: who becomes admin, what login reveals about which addresses have
accounts, and password hashing kept off the event loop. (Web sign-up, by emailed link:
tests/test_security_signup.py.)"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import httpx
import pytest
from digestdata import mail_env
from fastapi.testclient import TestClient
from smtp_sink import SmtpSink
from typer.testing import CliRunner
from webdata import CountingHasher, csrf_of

import paperfeed
from paperfeed import accounts
from paperfeed.cli import app as cli_app
from paperfeed.library import Library
from paperfeed.web.app import create_app


def _signup(client: TestClient, email: str, password: str) -> httpx.Response:
    token = csrf_of(client.get("/signup").text)
    return client.post("/signup", data={"csrf": token, "email": email, "password": password})


# -- the first admin -------------------------------------------------------------------------


def test_the_first_admin_is_made_on_the_command_line(home: Path) -> None:
    runner = CliRunner()
    r = runner.invoke(cli_app, ["--home", str(home), "users", "add", "ada@example.org", "--admin",
                                "--password-stdin"], input="correct horse\n")
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli_app, ["--home", str(home), "users", "add", "bob@example.org",
                                "--password-stdin"], input="battery staple\n")
    assert r.exit_code == 0 and "admin" not in r.stdout
    with paperfeed.open(home) as lib:
        assert lib.accounts.user("ada@example.org").is_admin
        assert not lib.accounts.user("bob@example.org").is_admin
        assert lib.accounts.has_admin()


def test_a_library_without_an_admin_says_how_to_make_one(lib: Library) -> None:
    assert not lib.accounts.has_admin()
    lib.accounts.signup("ada@example.org", "correct horse")
    assert not lib.accounts.has_admin()
    lib.accounts.set_admin("ada@example.org")
    assert lib.accounts.has_admin()


# -- account enumeration ---------------------------------------------------------------------


def test_a_wrong_password_does_the_same_work_for_unknown_accounts(
    lib: Library, counting: CountingHasher
) -> None:
    lib.accounts.signup("known@example.org", "the owner's pw")
    errors = []
    for email in ("known@example.org", "nobody@example.org"):
        before = counting.verifies
        with pytest.raises(accounts.InvalidInput) as exc:
            lib.accounts.login(email, "wrong password")
        assert counting.verifies == before + 1, email
        errors.append(str(exc.value))
    assert errors[0] == errors[1]


# -- hashing off the event loop ---------------------------------------------------------------


class BlockingHasher(accounts.PasswordHasher):
    """Hashing that waits until another request has been answered (or gives up after a while
    and records that it had to: the sign-off that hashing blocked the loop)."""

    def __init__(self) -> None:
        super().__init__()
        self.other_done = threading.Event()
        self.hashing = threading.Event()
        self.saw_other_first: bool | None = None

    def hash(self, password, *, salt=None):  # type: ignore[override]
        self.hashing.set()
        self.saw_other_first = self.other_done.wait(timeout=10)
        return super().hash(password, salt=salt)


def test_password_hashing_leaves_the_event_loop_free(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sink = SmtpSink().start()
    mail_env(monkeypatch, sink.url)  # sign-up is open (it emails a link)
    hasher = BlockingHasher()
    monkeypatch.setattr(accounts, "_hasher", hasher)
    with paperfeed.open(home) as mail_lib:
        try:
            _hash_during_another_request(create_app(library=mail_lib), hasher)
        finally:
            sink.stop()
    assert len(sink.recorder.to("ada@example.org")) == 1


def _hash_during_another_request(app: object, hasher: BlockingHasher) -> None:

    async def scenario() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://test") as c:
            token = csrf_of((await c.get("/signup")).text)
            signup = asyncio.create_task(
                c.post("/signup", data={"csrf": token, "email": "ada@example.org",
                                        "password": "correct horse"})
            )
            while not hasher.hashing.is_set():
                await asyncio.sleep(0.01)
                assert not signup.done(), (await signup).text
            other = await c.get("/about")
            assert other.status_code == 200
            hasher.other_done.set()
            assert (await signup).status_code == 200

    asyncio.run(scenario())
    assert hasher.saw_other_first is True
