"""Harvesting from the live sources: arXiv OAI-PMH (`oai`), the arXiv API (`arxiv_api`) and
Hugging Face daily papers (`hf`).

Every harvest runs under a per-source lock (`locks`), is written to the harvest log (`log`),
fetches through one polite HTTP client (`http`) and writes through the importer, so merging and
deletes behave as for files. The Library is the API: `Library.harvest_arxiv`, `harvest_arxiv_api`,
`harvest_hf`, `harvest_log`.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from paperfeed.config import HarvestConfig
from paperfeed.errors import InvalidInput
from paperfeed.harvest.arxiv_api import ApiParams, harvest_arxiv_api
from paperfeed.harvest.hf import HfParams, harvest_hf
from paperfeed.harvest.http import HttpClient, HttpSettings
from paperfeed.harvest.log import HarvestLog, HarvestLogEntry
from paperfeed.harvest.oai import METADATA_PREFIXES, OaiParams, harvest_oai
from paperfeed.harvest.run import HarvestReport, Progress, run_harvest
from paperfeed.importer import ChangeHook
from paperfeed.store.base import Store

__all__ = [
    "SOURCES",
    "ApiParams",
    "HarvestLog",
    "HarvestLogEntry",
    "HarvestReport",
    "HfParams",
    "OaiParams",
    "harvest",
    "make_client",
]

# Lock and log names: one lock per source, whatever the parameters.
SOURCES = ("arxiv", "arxiv-api", "hf")


def check_url(url: str, what: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidInput(f"{what} must be an http(s) URL, not {url[:80]!r}")
    return url


def make_client(
    config: HarvestConfig, contact: str | None, *, min_interval: float = 0.0,
    log: Callable[[str], None] | None = None,
) -> HttpClient:
    settings = HttpSettings(
        contact=contact,
        timeout=config.timeout,
        max_attempts=config.attempts,
        backoff_base=config.backoff_base,
        retry_after_max=config.retry_after_max,
        min_interval=min_interval,
        max_body_bytes=config.max_body_bytes,
    )
    return HttpClient(settings, log=log)


def harvest(
    store: Store,
    config: HarvestConfig,
    contact: str | None,
    params: OaiParams | ApiParams | HfParams,
    *,
    on_change: ChangeHook | None = None,
    progress: Progress | None = None,
    log: Callable[[str], None] | None = None,
) -> HarvestReport:
    """Run one harvest; the report says how it went (`report.error` when it failed)."""
    if isinstance(params, OaiParams):
        if params.metadata_prefix not in METADATA_PREFIXES:
            raise InvalidInput(f"metadata prefix must be one of {', '.join(METADATA_PREFIXES)}")
        if params.from_ and params.until and params.from_ > params.until:
            raise InvalidInput("--from is after --until")
        check_url(params.base_url, "the OAI-PMH base URL")
        source, interval = "arxiv", config.arxiv_interval
        run = lambda ctx: harvest_oai(ctx, params)  # noqa: E731
    elif isinstance(params, ApiParams):
        check_url(params.base_url, "the arXiv API URL")
        source, interval = "arxiv-api", config.arxiv_interval
        run = lambda ctx: harvest_arxiv_api(ctx, params)  # noqa: E731
    else:
        check_url(params.endpoint, "the Hugging Face endpoint")
        source, interval = "hf", 0.0
        run = lambda ctx: harvest_hf(ctx, params)  # noqa: E731
    with make_client(config, contact, min_interval=interval, log=log) as client:
        return run_harvest(
            store, client, source, params.to_dict(), run, on_change=on_change, progress=progress
        )
