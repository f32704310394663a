"""The one configuration object. Read from the environment (and CLI flags) in one place: here."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from paperfeed.errors import InvalidInput


def default_home() -> Path:
    """`$PAPERFEED_HOME`, else `$XDG_DATA_HOME/paperfeed`, else `~/.local/share/paperfeed`."""
    if env := os.environ.get("PAPERFEED_HOME"):
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(xdg).expanduser() / "paperfeed"


def _env_float(env: Mapping[str, str], name: str, default: float, low: float = 0.0) -> float:
    raw = env.get(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise InvalidInput(f"{name} must be a number, not {raw[:40]!r}") from None
    if value < low:
        raise InvalidInput(f"{name} must be at least {low:g}")
    return value


@dataclass(frozen=True)
class HarvestConfig:
    """Where the live sources are and how politely to ask them (issue 6). Env variables:
    PAPERFEED_OAI_URL, PAPERFEED_ARXIV_API_URL, PAPERFEED_HF_ENDPOINT, PAPERFEED_ARXIV_INTERVAL
    (seconds between arXiv requests, default 3), PAPERFEED_HTTP_TIMEOUT, PAPERFEED_HTTP_ATTEMPTS,
    PAPERFEED_BACKOFF_BASE, PAPERFEED_RETRY_AFTER_MAX (the longest Retry-After honoured),
    PAPERFEED_HARVESTS (what `serve --schedule` runs daily, e.g. `arxiv:cs,arxiv:math,hf`) and
    PAPERFEED_HARVEST_AT (when, `HH:MM` UTC, default 04:00)."""

    oai_url: str = "https://oaipmh.arxiv.org/oai"
    arxiv_api_url: str = "https://export.arxiv.org/api/query"
    hf_endpoint: str = "https://huggingface.co"
    arxiv_interval: float = 3.0
    timeout: float = 60.0
    attempts: int = 6
    backoff_base: float = 2.0
    retry_after_max: float = 300.0
    scheduled: str = ""
    at: str = "04:00"
    # The largest response accepted, decompressed (PAPERFEED_MAX_DOCUMENT_BYTES, as for files).
    max_body_bytes: int = 256 * 1024 * 1024

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> HarvestConfig:
        return cls(
            oai_url=env.get("PAPERFEED_OAI_URL") or cls.oai_url,
            arxiv_api_url=env.get("PAPERFEED_ARXIV_API_URL") or cls.arxiv_api_url,
            hf_endpoint=(env.get("PAPERFEED_HF_ENDPOINT") or cls.hf_endpoint).rstrip("/"),
            arxiv_interval=_env_float(env, "PAPERFEED_ARXIV_INTERVAL", cls.arxiv_interval),
            timeout=_env_float(env, "PAPERFEED_HTTP_TIMEOUT", cls.timeout, 0.01),
            attempts=int(_env_float(env, "PAPERFEED_HTTP_ATTEMPTS", cls.attempts, 1)),
            backoff_base=_env_float(env, "PAPERFEED_BACKOFF_BASE", cls.backoff_base),
            retry_after_max=_env_float(env, "PAPERFEED_RETRY_AFTER_MAX", cls.retry_after_max),
            scheduled=env.get("PAPERFEED_HARVESTS", cls.scheduled),
            at=env.get("PAPERFEED_HARVEST_AT") or cls.at,
            max_body_bytes=int(
                _env_float(env, "PAPERFEED_MAX_DOCUMENT_BYTES", cls.max_body_bytes, 1024)
            ),
        )


def _digest_at(raw: str | None) -> str | None:
    """PAPERFEED_DIGEST_HOUR: an hour `7` or a time `07:30` (UTC)."""
    if not raw:
        return None
    text = raw.strip()
    if text.isdigit() and 0 <= int(text) <= 23:
        return f"{int(text):02d}:00"
    return text  # checked as HH:MM by schedule.parse_time_of_day when the job is made


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
    # Imports of at least this many bytes into an empty store build the keyword index in one pass.
    bulk_min_bytes: int = 64 * 1024 * 1024
    harvest: HarvestConfig = field(default_factory=HarvestConfig)
    # Email digests (issue 5): when `serve --schedule` sends them (UTC), the first retry delay of
    # a transient SMTP failure (doubled per attempt), a CA file to trust for the SMTP server.
    digest_at: str = "07:00"
    digest_retry_seconds: float = 600.0
    smtp_cafile: str | None = None
    # Search results (papers) cached per process, ~1.3 KB each compressed (0: none); emptied
    # whenever the store changes. 60,000 is ~3,000 pages of 20 results, ~80 MB.
    search_cache: int = 60_000
    # Hostile-input bounds: the longest line (record) of a JSON-lines snapshot, and the largest
    # single document (HF JSON, Atom, OAI-PMH, BibTeX, a saved page), in decompressed bytes.
    max_record_bytes: int = 16 * 1024 * 1024
    max_document_bytes: int = 256 * 1024 * 1024
    # Request bodies: every form, and the admin's import by upload (files in all).
    max_form_bytes: int = 64 * 1024
    max_upload_bytes: int = 512 * 1024 * 1024
    # Reverse proxies whose X-Forwarded-For / X-Forwarded-Proto are believed (addresses or
    # networks, comma-separated; `*` for any). None by default: the client is the peer address.
    trusted_proxies: tuple[str, ...] = ()

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
            bulk_min_bytes=int(env.get("PAPERFEED_BULK_MIN_BYTES") or cls.bulk_min_bytes),
            harvest=HarvestConfig.from_env(env),
            digest_at=_digest_at(env.get("PAPERFEED_DIGEST_HOUR")) or cls.digest_at,
            digest_retry_seconds=_env_float(
                env, "PAPERFEED_DIGEST_RETRY_SECONDS", cls.digest_retry_seconds
            ),
            smtp_cafile=env.get("PAPERFEED_SMTP_CAFILE") or None,
            search_cache=int(_env_float(env, "PAPERFEED_SEARCH_CACHE", cls.search_cache)),
            max_record_bytes=int(
                _env_float(env, "PAPERFEED_MAX_RECORD_BYTES", cls.max_record_bytes, 1024)
            ),
            max_document_bytes=int(
                _env_float(env, "PAPERFEED_MAX_DOCUMENT_BYTES", cls.max_document_bytes, 1024)
            ),
            trusted_proxies=tuple(
                p.strip() for p in env.get("PAPERFEED_TRUSTED_PROXIES", "").split(",") if p.strip()
            ),
            max_form_bytes=int(_env_float(env, "PAPERFEED_MAX_FORM_BYTES", cls.max_form_bytes, 1024)),
            max_upload_bytes=int(
                _env_float(env, "PAPERFEED_MAX_UPLOAD_BYTES", cls.max_upload_bytes, 1024)
            ),
        )

    @property
    def sqlite_path(self) -> Path:
        if self.database_url and self.database_url.startswith("sqlite:///"):
            return Path(self.database_url.removeprefix("sqlite:///"))
        return self.home / "paperfeed.db"

    @property
    def is_postgres(self) -> bool:
        return bool(self.database_url) and self.database_url.startswith(("postgresql:", "postgres:"))
