"""The daily jobs `paperfeed serve --schedule` runs (see `paperfeed.schedule`), each opening the
Library for its run: the configured harvests (`PAPERFEED_HARVESTS` at `PAPERFEED_HARVEST_AT`) and
the email digests (at `PAPERFEED_DIGEST_HOUR`, UTC, default 07:00, when SMTP is configured)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, date, datetime

from paperfeed.config import Config
from paperfeed.digest.send import SendReport
from paperfeed.harvest.jobs import parse_harvests
from paperfeed.harvest.run import HarvestReport
from paperfeed.library import Library
from paperfeed.schedule import Job, parse_time_of_day

log = logging.getLogger("paperfeed.schedule")


def today() -> date:
    """The digest day of a scheduled run: the UTC date (a name tests can replace)."""
    return datetime.now(UTC).date()


def harvest_jobs(config: Config) -> list[Job]:
    at = parse_time_of_day(config.harvest.at, "PAPERFEED_HARVEST_AT")
    return [
        Job(f"harvest {source}{':' + arg if arg else ''}", at, _harvest_runner(config, source, arg))
        for source, arg in parse_harvests(config.harvest.scheduled)
    ]


def _harvest_runner(config: Config, source: str, arg: str | None) -> Callable[[], HarvestReport]:
    def run() -> HarvestReport:
        with Library(config) as lib:
            report = lib.harvest_arxiv(set=arg) if source == "arxiv" else lib.harvest_hf()
        if report.error:
            log.error("harvest %s failed: %s", source, report.error)
        else:
            log.info("harvest %s: %s", source, report.summary())
        return report

    return run


def digest_jobs(config: Config) -> list[Job]:
    if not config.smtp_url:
        return []
    at = parse_time_of_day(config.digest_at, "PAPERFEED_DIGEST_HOUR")

    def run() -> SendReport:
        with Library(config) as lib:
            report = lib.digests.send(today())
        log.info("digests %s", report.locked or report.summary())
        return report

    return [Job("email digests", at, run)]


# Job factories, each `f(config) -> list[Job]`; add a feature's daily jobs here.
FACTORIES: list[Callable[[Config], list[Job]]] = [harvest_jobs, digest_jobs]


def configured_jobs(config: Config) -> list[Job]:
    return [job for factory in FACTORIES for job in factory(config)]
