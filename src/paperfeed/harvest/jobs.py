"""The harvests `paperfeed serve --schedule` runs daily, from `PAPERFEED_HARVESTS`.

The value lists sources, comma-separated: `arxiv` (all of arXiv over OAI-PMH), `arxiv:SET`
(one set, e.g. `arxiv:cs` or `arxiv:physics:hep-th`), `hf` (Hugging Face daily papers, the last
7 days). Each runs at `PAPERFEED_HARVEST_AT` (UTC, default 04:00) and is incremental.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from paperfeed.config import Config
from paperfeed.errors import InvalidInput
from paperfeed.harvest.run import HarvestReport
from paperfeed.schedule import Job, parse_time_of_day

log = logging.getLogger("paperfeed.harvest")


def parse_harvests(spec: str) -> list[tuple[str, str | None]]:
    """`arxiv:cs,hf` → [("arxiv", "cs"), ("hf", None)]."""
    harvests = []
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        source, _, arg = part.partition(":")
        if source not in ("arxiv", "hf") or (source == "hf" and arg):
            raise InvalidInput(
                f"PAPERFEED_HARVESTS: {part[:40]!r} is not one of arxiv, arxiv:SET, hf"
            )
        harvests.append((source, arg or None))
    return harvests


def harvest_jobs(config: Config) -> list[Job]:
    at = parse_time_of_day(config.harvest.at, "PAPERFEED_HARVEST_AT")
    return [
        Job(f"harvest {source}{':' + arg if arg else ''}", at, _runner(config, source, arg))
        for source, arg in parse_harvests(config.harvest.scheduled)
    ]


def _runner(config: Config, source: str, arg: str | None) -> Callable[[], HarvestReport]:
    def run() -> HarvestReport:
        from paperfeed.library import Library

        with Library(config) as lib:
            report = lib.harvest_arxiv(set=arg) if source == "arxiv" else lib.harvest_hf()
        if report.error:
            log.error("harvest %s failed: %s", source, report.error)
        else:
            log.info("harvest %s: %s", source, report.summary())
        return report

    return run
