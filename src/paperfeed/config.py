"""The one configuration object, and the one place the environment is read.

Every `PAPERFEED_*` variable is declared once in `SETTINGS` (name, type, default, help, and the
`Config` field it sets); `Config.from_env` reads them all through `read_settings`, and a bad value
is an `InvalidInput` that names the variable. CLI flags (`--home`, `--database`) override the
environment. `Config.to_env()` renders a configuration back as variables, so worker processes
(`serve --workers N`) rebuild exactly the parent's configuration. README's settings table is
`settings_markdown()` (a test keeps them equal).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from paperfeed.errors import InvalidInput


def default_home(env: Mapping[str, str] | None = None) -> Path:
    """`$PAPERFEED_HOME`, else `$XDG_DATA_HOME/paperfeed`, else `~/.local/share/paperfeed`."""
    env = os.environ if env is None else env
    if home := read_settings(env).get("home"):
        return home
    xdg = env.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(xdg).expanduser() / "paperfeed"


def _digest_at(raw: str) -> str:
    """PAPERFEED_DIGEST_HOUR: an hour `7` or a time `07:30` (UTC)."""
    text = raw.strip()
    if text.isdigit() and 0 <= int(text) <= 23:
        return f"{int(text):02d}:00"
    return text  # checked as HH:MM by schedule.parse_time_of_day when the job is made


def _no_trailing_slash(raw: str) -> str:
    return raw.rstrip("/")


@dataclass(frozen=True)
class Setting:
    """One environment variable: what it sets (`field` of `Config`, `harvest.x` of its
    `HarvestConfig`), its type, default (None: unset) and meaning."""

    name: str
    field: str
    type: type
    default: Any
    help: str
    minimum: float | None = None
    clean: Callable[[str], str] | None = None  # normalises a text value

    def parse(self, raw: str) -> Any:
        text = self.clean(raw) if self.clean else raw
        if self.type is str:
            return text
        if self.type is Path:
            return Path(text).expanduser()
        if self.type is tuple:  # a comma-separated list
            return tuple(p.strip() for p in text.split(",") if p.strip())
        kind = "a whole number" if self.type is int else "a number"
        try:
            value = self.type(text.strip())
        except ValueError:
            raise InvalidInput(f"{self.name} must be {kind}, not {raw[:40]!r}") from None
        if self.minimum is not None and value < self.minimum:
            raise InvalidInput(f"{self.name} must be at least {self.minimum:g}, not {raw[:40]!r}")
        return value


SETTINGS: tuple[Setting, ...] = (
    # where data lives
    Setting("PAPERFEED_HOME", "home", Path, None,
            "the data directory (`--home`); default `$XDG_DATA_HOME/paperfeed` or `~/.local/share/paperfeed`"),
    Setting("PAPERFEED_DATABASE_URL", "database_url", str, None,
            "`sqlite:///path` or `postgresql://…` (`--database`); default `<home>/paperfeed.db`"),
    Setting("PAPERFEED_ENCODER", "encoder", str, None,
            "the instant encoder every paper gets at import (default `minilm-static`)"),
    Setting("PAPERFEED_QUALITY_ENCODER", "quality_encoder", str, "minilm-int8",
            "the quality encoder filling its own vector set after import (`serve` in the background, "
            "`index` in the foreground), used once it covers every paper: `minilm-int8`, `minilm` "
            "(torch, a GPU when present) or `none`"),
    Setting("PAPERFEED_QUALITY_AT_IMPORT", "quality_at_import", int, 1000,
            "an import or harvest after which the quality set lacks at most this many vectors fills "
            "it on the spot (~25 abstracts/s on 2 cores) and switches to it; a larger backlog is "
            "left to `serve` and `index` (0: never at import)",
            minimum=0),
    Setting("PAPERFEED_BULK_MIN_BYTES", "bulk_min_bytes", int, 64 * 1024 * 1024,
            "imports of at least this many bytes into an empty store build the keyword index in one pass",
            minimum=0),
    Setting("PAPERFEED_SEARCH_CACHE", "search_cache", int, 60_000,
            "search results (papers) cached per process, emptied when the store changes (0: none)",
            minimum=0),
    # the web app and email
    Setting("PAPERFEED_BASE_URL", "base_url", str, "http://127.0.0.1:8000",
            "where the links in emails and feeds point (`https://papers.example.org`)",
            clean=_no_trailing_slash),
    Setting("PAPERFEED_SECRET_KEY", "secret_key", str, None,
            "signs confirmation and unsubscribe links; without it a key is made once in `<home>/secret_key`"),
    Setting("PAPERFEED_SMTP_URL", "smtp_url", str, None,
            "the digests' SMTP server: `smtp://user:pass@host:587` (STARTTLS) or `smtps://host:465`"),
    Setting("PAPERFEED_MAIL_FROM", "mail_from", str, "paperfeed <paperfeed@localhost>",
            "the digests' sender, `name <address>` or `address`"),
    Setting("PAPERFEED_SMTP_CAFILE", "smtp_cafile", str, None,
            "a CA file to trust for the SMTP server's certificate (default: the system's)"),
    Setting("PAPERFEED_DIGEST_HOUR", "digest_at", str, "07:00",
            "when `serve --schedule` sends digests, UTC: `7` or `07:30`", clean=_digest_at),
    Setting("PAPERFEED_DIGEST_RETRY_SECONDS", "digest_retry_seconds", float, 600.0,
            "first delay before retrying a transient SMTP failure, doubled each attempt", minimum=0),
    Setting("PAPERFEED_DIGEST_WORKERS", "digest_workers", int, 0,
            "processes that compose a send run's digests (`digest send --workers`); 0: one per "
            "core (at most 4) for a run of 200 digests or more, else the sending process alone",
            minimum=0),
    # harvesting
    Setting("PAPERFEED_CONTACT", "contact", str, None,
            "an email (or URL) put in the User-Agent of harvests, as arXiv asks"),
    Setting("PAPERFEED_OAI_URL", "harvest.oai_url", str, "https://oaipmh.arxiv.org/oai",
            "arXiv's OAI-PMH base URL"),
    Setting("PAPERFEED_ARXIV_API_URL", "harvest.arxiv_api_url", str, "https://export.arxiv.org/api/query",
            "the arXiv API"),
    Setting("PAPERFEED_HF_ENDPOINT", "harvest.hf_endpoint", str, "https://huggingface.co",
            "the Hugging Face Hub (`/api/daily_papers` under it)", clean=_no_trailing_slash),
    Setting("PAPERFEED_ARXIV_INTERVAL", "harvest.arxiv_interval", float, 3.0,
            "seconds between arXiv requests (API and OAI-PMH)", minimum=0),
    Setting("PAPERFEED_HTTP_TIMEOUT", "harvest.timeout", float, 60.0, "seconds per harvest request",
            minimum=0.01),
    Setting("PAPERFEED_HTTP_ATTEMPTS", "harvest.attempts", int, 6,
            "tries per harvest request (timeouts, connection errors, 429, 5xx)", minimum=1),
    Setting("PAPERFEED_BACKOFF_BASE", "harvest.backoff_base", float, 2.0,
            "retry backoff: between half and all of `base × 2^(try-1)` s, at most 120 s", minimum=0),
    Setting("PAPERFEED_RETRY_AFTER_MAX", "harvest.retry_after_max", float, 300.0,
            "the longest `Retry-After` honoured, in seconds", minimum=0),
    Setting("PAPERFEED_HARVESTS", "harvest.scheduled", str, "",
            "what `serve --schedule` harvests daily: `arxiv`, `arxiv:SET`, `hf`, comma-separated"),
    Setting("PAPERFEED_HARVEST_AT", "harvest.at", str, "04:00", "when the daily harvests run (UTC, `HH:MM`)"),
    Setting("PAPERFEED_ONNX_MODEL", "onnx_model", Path, None,
            "an int8 ONNX model for `minilm-int8` (a .onnx file with tokenizer.json beside it); "
            "default: the bundled one"),
    Setting("PAPERFEED_ONNX_THREADS", "onnx_threads", int, None,
            "onnxruntime's threads for `minilm-int8`; default: the usable cores, at most 4 "
            "(`serve`'s background embedder keeps to its own one-thread session)", 1),
    Setting("PAPERFEED_MAX_RECORD_BYTES", "max_record_bytes", int, 16 * 1024 * 1024,
            "the longest record (line) of a JSON-lines snapshot accepted, in bytes", 1024),
    Setting("PAPERFEED_MAX_DOCUMENT_BYTES", "max_document_bytes", int, 256 * 1024 * 1024,
            "the largest single document of a file (HF JSON, Atom, OAI-PMH, BibTeX, a page), "
            "decompressed, in bytes",
            1024),
    Setting("PAPERFEED_MAX_RESPONSE_BYTES", "harvest.max_body_bytes", int, 256 * 1024 * 1024,
            "the largest harvested HTTP response accepted, decompressed, in bytes", 1024),
    Setting("PAPERFEED_MAX_FORM_BYTES", "max_form_bytes", int, 64 * 1024,
            "the largest form body a web route reads, in bytes", 1024),
    Setting("PAPERFEED_MAX_UPLOAD_BYTES", "max_upload_bytes", int, 512 * 1024 * 1024,
            "the largest admin import upload, in bytes (checked after the admin check)", 1024),
    Setting("PAPERFEED_SUBMIT_DAILY_CAP", "submit_daily_cap", int, 5,
            "papers a member may submit to the daily list per day (UTC)", 0),
    Setting("PAPERFEED_SUBMIT_MAX_AGE_DAYS", "submit_max_age_days", int, 14,
            "only papers published within this many days can be submitted", 0),
    Setting("PAPERFEED_COMMENT_MAX_CHARS", "comment_max_chars", int, 5000,
            "the longest comment accepted, in characters", 1),
    Setting("PAPERFEED_COMMENT_RATE", "comment_rate", int, 10,
            "comments a member may post per 10 minutes", 1),
    Setting("PAPERFEED_TRUSTED_PROXIES", "trusted_proxies", tuple, (),
            "reverse proxies whose `X-Forwarded-For` is believed (addresses or networks, "
            "comma-separated; `*` for any); none by default"),
)


def setting(field_name: str, env: Mapping[str, str] | None = None) -> Any:
    """One setting's value from the environment (`os.environ` unless given), else its default:
    for code that runs where no `Config` is at hand (an encoder built by name in a worker)."""
    env = os.environ if env is None else env
    for s in SETTINGS:
        if s.field == field_name:
            return s.parse(env[s.name]) if env.get(s.name) else s.default
    raise KeyError(field_name)


def read_settings(env: Mapping[str, str]) -> dict[str, Any]:
    """The value of every variable set (and not empty) in `env`, by `Setting.field`."""
    return {s.field: s.parse(env[s.name]) for s in SETTINGS if env.get(s.name)}


def settings_markdown() -> str:
    """The settings table of README.md."""
    lines = ["| variable | type | default | what |", "|---|---|---|---|"]
    for s in SETTINGS:
        unset = s.default is None or s.default == ()
        default = "none" if unset else "empty" if s.default == "" else f"`{s.default}`"
        kind = {str: "text", int: "integer", float: "number", Path: "path", tuple: "list"}[s.type]
        lines.append(f"| `{s.name}` | {kind} | {default} | {s.help} |")
    return "\n".join(lines)


@dataclass(frozen=True)
class HarvestConfig:
    """Where the live sources are and how politely to ask them (the `harvest.*` settings)."""

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
    # The largest harvested response accepted, decompressed (PAPERFEED_MAX_RESPONSE_BYTES).
    max_body_bytes: int = 256 * 1024 * 1024


@dataclass(frozen=True)
class Config:
    """Where data lives and how to reach the outside (see `SETTINGS` for each field's variable).

    `database_url` is `sqlite:///path` (default: `<home>/paperfeed.db`) or `postgresql://...`.
    """

    home: Path = field(default_factory=default_home)
    database_url: str | None = None
    base_url: str = "http://127.0.0.1:8000"
    smtp_url: str | None = None
    mail_from: str = "paperfeed <paperfeed@localhost>"
    encoder: str | None = None
    quality_encoder: str | None = "minilm-int8"
    quality_at_import: int = 1000
    contact: str | None = None
    secret_key: str | None = None
    bulk_min_bytes: int = 64 * 1024 * 1024
    harvest: HarvestConfig = field(default_factory=HarvestConfig)
    digest_at: str = "07:00"
    digest_retry_seconds: float = 600.0
    digest_workers: int = 0
    smtp_cafile: str | None = None
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
    # The reading room: submissions to the daily list and comments (see submissions.py, comments.py).
    submit_daily_cap: int = 5
    submit_max_age_days: int = 14
    comment_max_chars: int = 5000
    comment_rate: int = 10
    # The quality encoder's model file and threads (None: the bundled model, the usable cores).
    onnx_model: Path | None = None
    onnx_threads: int | None = None

    @classmethod
    def from_env(
        cls,
        home: Path | str | None = None,
        database_url: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> Config:
        """The configuration of the environment (`os.environ` unless given), with `home` and
        `database_url` (the CLI's flags) overriding theirs."""
        env = os.environ if env is None else env
        values = read_settings(env)
        harvest = {k.removeprefix("harvest."): v for k, v in values.items() if k.startswith("harvest.")}
        top = {k: v for k, v in values.items() if not k.startswith("harvest.")}
        top["home"] = Path(home).expanduser() if home else top.get("home") or default_home(env)
        if database_url:
            top["database_url"] = database_url
        return cls(**top, harvest=HarvestConfig(**harvest))

    def to_env(self) -> dict[str, str]:
        """Every setting of this configuration as environment variables (unset ones left out):
        `Config.from_env(env=c.to_env()) == c`."""
        out: dict[str, str] = {}
        for s in SETTINGS:
            owner: Any = self
            name = s.field
            if name.startswith("harvest."):
                owner, name = self.harvest, name.removeprefix("harvest.")
            value = getattr(owner, name)
            if isinstance(value, tuple):
                value = ",".join(value)
            if value is not None and value != "":
                out[s.name] = str(value)
        return out

    @property
    def sqlite_path(self) -> Path:
        if self.database_url and self.database_url.startswith("sqlite:///"):
            return Path(self.database_url.removeprefix("sqlite:///"))
        return self.home / "paperfeed.db"

    @property
    def is_postgres(self) -> bool:
        return self.database_url is not None and self.database_url.startswith(("postgresql:", "postgres:"))
