"""Harvesting Hugging Face daily papers (`GET {endpoint}/api/daily_papers?date=D`), day by day.

Each day is read in pages (`limit` 100, `p` from 0) until a short page. Papers already known
get the newest upvotes, comments, GitHub stars and organization (the merge rules treat the
incoming record as the newest observation); new ones are added.

Without `date`/`since`, a run reads the last `days` days through today (upvotes keep changing
for about a week), reaching back further to the last harvested day if a run was missed (at
most `MAX_CATCH_UP` days).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from paperfeed.errors import InvalidInput
from paperfeed.harvest.run import HarvestContext
from paperfeed.sources.hf_daily import read_hf_daily

PAGE_LIMIT = 100
DEFAULT_DAYS = 7
MAX_DAYS = 366
MAX_CATCH_UP = 60
Day = date  # the field `date` shadows the type inside HfParams


@dataclass(frozen=True)
class HfParams:
    endpoint: str
    date: date | None = None
    since: Day | None = None
    until: Day | None = None
    days: int = DEFAULT_DAYS

    def __post_init__(self) -> None:
        if self.date and (self.since or self.until):
            raise InvalidInput("give either --date or --since/--until, not both")
        if self.since and self.until and self.since > self.until:
            raise InvalidInput("--since is after --until")
        if self.since and ((self.until or today()) - self.since).days >= MAX_DAYS:
            raise InvalidInput(f"at most {MAX_DAYS} days in one harvest")

    def to_dict(self) -> dict[str, Any]:
        def iso(d: date | None) -> str | None:
            return d.isoformat() if d else None

        return {"endpoint": self.endpoint, "date": iso(self.date), "since": iso(self.since),
                "until": iso(self.until)}

    @property
    def key(self) -> str:
        return f"hf|{self.endpoint}"


def today() -> date:
    return datetime.now(UTC).date()


def days_to_harvest(params: HfParams, mark: str | None) -> list[date]:
    if params.date:
        return [params.date]
    last = params.until or today()
    if params.since:
        first = params.since
    else:
        first = last - timedelta(days=params.days - 1)
        if mark and (caught_up := date.fromisoformat(mark)) < first:
            first = max(caught_up, last - timedelta(days=MAX_CATCH_UP))
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def harvest_hf(ctx: HarvestContext, params: HfParams) -> None:
    mark_key = f"mark|{params.key}"
    days = days_to_harvest(params, ctx.state.get(mark_key))
    url = params.endpoint.rstrip("/") + "/api/daily_papers"
    for day in days:
        page = 0
        while True:
            request = {"date": day.isoformat(), "limit": str(PAGE_LIMIT), "p": str(page)}
            data = ctx.client.get(url, request).content
            items = list(read_hf_daily(io.BytesIO(data), "daily papers"))
            ctx.write(items, f"{day} page {page}")
            ctx.tick(None)
            if len(items) < PAGE_LIMIT:
                break
            page += 1
        ctx.lock.renew()
    if not params.date and not params.since and days:
        ctx.state.set(mark_key, days[-1].isoformat())
