"""The one configuration object. Read from the environment (and CLI flags) in one place: here."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


def default_home() -> Path:
    """`$PAPERFEED_HOME`, else `$XDG_DATA_HOME/paperfeed`, else `~/.local/share/paperfeed`."""
    if env := os.environ.get("PAPERFEED_HOME"):
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(xdg).expanduser() / "paperfeed"


@dataclass(frozen=True)
class Config:
    """Where data lives and how to reach the outside.

    `database_url` is `sqlite:///path` (default: `<home>/paperfeed.db`) or `postgresql://...`.
    """

    home: Path = field(default_factory=default_home)
    database_url: str | None = None
    base_url: str = "http://127.0.0.1:8000"
    smtp_url: str | None = None
    mail_from: str = "paperfeed <paperfeed@localhost>"
    encoder: str | None = None
    contact: str | None = None
    secret_key: str | None = None

    @classmethod
    def from_env(cls, home: Path | str | None = None, database_url: str | None = None) -> Config:
        env = os.environ
        return cls(
            home=Path(home).expanduser() if home else default_home(),
            database_url=database_url or env.get("PAPERFEED_DATABASE_URL") or None,
            base_url=env.get("PAPERFEED_BASE_URL", cls.base_url).rstrip("/"),
            smtp_url=env.get("PAPERFEED_SMTP_URL") or None,
            mail_from=env.get("PAPERFEED_MAIL_FROM", cls.mail_from),
            encoder=env.get("PAPERFEED_ENCODER") or None,
            contact=env.get("PAPERFEED_CONTACT") or None,
            secret_key=env.get("PAPERFEED_SECRET_KEY") or None,
        )

    @property
    def sqlite_path(self) -> Path:
        if self.database_url and self.database_url.startswith("sqlite:///"):
            return Path(self.database_url.removeprefix("sqlite:///"))
        return self.home / "paperfeed.db"

    @property
    def is_postgres(self) -> bool:
        return bool(self.database_url) and self.database_url.startswith(("postgresql:", "postgres:"))
