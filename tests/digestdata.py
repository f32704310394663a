"""Papers, a mail-ready library and a running SMTP server for the digest tests."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient

from paperfeed.config import Config
from paperfeed.library import Library
from paperfeed.records import Author, Paper
from paperfeed.web.app import create_app

DAY = date(2026, 11, 20)  # a Friday
BASE_URL = "https://papers.example.org"
MAIL_FROM = "paperfeed digest <digest@paperfeed.test>"


def paper(n: int, title: str, abstract: str = "An abstract.", *, upvotes: int = 0,
          day: date = DAY, authors: tuple[str, ...] = ("Ada Lovelace",)) -> Paper:
    return Paper(
        id=f"2611.{n:05d}", title=title, abstract=abstract,
        authors=[Author(a) for a in authors], published=day, upvotes=upvotes,
    )


# Trending: ten papers of the digest's week, upvoted 100, 90, ... 10.
TRENDING = [paper(i, f"Trending paper number {i}", upvotes=100 - 10 * i) for i in range(10)]


def later(minutes: int = 11) -> datetime:
    """A clock past the arrivals' settling time (papers of the last 10 minutes wait)."""
    return datetime.now(UTC) + timedelta(minutes=minutes)


def mail_env(monkeypatch, smtp_url: str) -> None:
    monkeypatch.setenv("PAPERFEED_SMTP_URL", smtp_url)
    monkeypatch.setenv("PAPERFEED_MAIL_FROM", MAIL_FROM)
    monkeypatch.setenv("PAPERFEED_BASE_URL", BASE_URL)
    monkeypatch.setenv("PAPERFEED_DIGEST_RETRY_SECONDS", "0")
    monkeypatch.delenv("PAPERFEED_SECRET_KEY", raising=False)


def add_papers(lib: Library, papers: list[Paper], arrived: datetime | None = None) -> None:
    """Store papers; `arrived` back- or post-dates their arrival (`added_at`) for the test's
    clock (SQLite store)."""
    lib.store.upsert(papers)
    if arrived is not None:
        stamp = arrived.astimezone(UTC).isoformat(timespec="seconds")
        for p in papers:
            lib.store.db.execute("UPDATE papers SET added_at = ? WHERE id = ?", (stamp, p.id))


def time_passes(lib: Library, delta: timedelta) -> None:
    """Move every rate counter's window back by `delta`, as if that much time went by."""
    rows = lib.store.db.query("SELECT key, opened_at FROM rate_counters")
    with lib.store.db.transaction() as tx:
        for key, opened in rows:
            moved = (datetime.fromisoformat(opened) - delta).isoformat(timespec="microseconds")
            tx.execute("UPDATE rate_counters SET opened_at = ? WHERE key = ?", (moved, key))


def mail_library(smtp, monkeypatch, home: Path) -> Iterator[Library]:
    """A fixture's body: a Library over `home` mailing through the SMTP sink."""
    mail_env(monkeypatch, smtp.url)
    with Library(Config.from_env(home=home)) as library:
        yield library


def from_client(lib: Library, host: str) -> TestClient:
    """The web app over `lib`, its requests coming from `host` (each client its own address)."""
    return TestClient(create_app(library=lib), base_url="https://testserver",
                      follow_redirects=False, client=(host, 40000))
