"""The daily digest job for `paperfeed serve --schedule` (see `paperfeed.schedule`): at
`PAPERFEED_DIGEST_HOUR` (UTC, default 07:00) send the day's due digests, when SMTP is configured."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime

from paperfeed.config import Config
from paperfeed.digest.send import SendReport
from paperfeed.schedule import Job, parse_time_of_day

log = logging.getLogger("paperfeed.digest")


def today() -> date:
    """The digest day of a scheduled run: the UTC date (a name tests can replace)."""
    return datetime.now(UTC).date()


def digest_jobs(config: Config) -> list[Job]:
    if not config.smtp_url:
        return []
    at = parse_time_of_day(config.digest_at, "PAPERFEED_DIGEST_HOUR")

    def run() -> SendReport:
        from paperfeed.library import Library

        with Library(config) as lib:
            report = lib.digests.send(today())
        log.info("digests %s", report.locked or report.summary())
        return report

    return [Job("email digests", at, run)]
