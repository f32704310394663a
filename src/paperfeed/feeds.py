"""Daily / weekly / monthly listings and the trending score.

Trending (documented in the README): a paper's votes decay with its age, as on news sites,

    score = upvotes / (age_hours + 2) ** GRAVITY,   GRAVITY = 1.5

where age is measured from noon UTC of the paper's day (submitted to daily, else published) to the
reference time (now, or the end of the period being looked at when that is in the past). A fresh
paper with few votes can outrank an older one with more, but votes still dominate within a day.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal

from paperfeed.errors import InvalidInput
from paperfeed.records import Paper
from paperfeed.store.base import Store

GRAVITY = 1.5
Sort = Literal["published", "trending"]
SORTS = ("published", "trending")

_WEEK_RE = re.compile(r"^(\d{4})-W(\d{2})$")
_MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July", "August",
                "September", "October", "November", "December")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True)
class Period:
    kind: Literal["day", "week", "month"]
    start: date
    end: date

    @property
    def label(self) -> str:
        if self.kind == "day":
            return self.start.isoformat()
        if self.kind == "week":
            year, week, _ = self.start.isocalendar()
            return f"{year}-W{week:02d}"
        return self.start.strftime("%Y-%m")

    @property
    def title(self) -> str:
        """The period as people read it: "Thu 4 Dec 2025", "1–7 Dec 2025", "December 2025"
        (`label`, the ISO form, is for URLs)."""
        if self.kind == "day":
            return day_title(self.start)
        if self.kind == "month":
            return f"{_MONTH_NAMES[self.start.month - 1]} {self.start.year}"
        return range_title(self.start, self.end)

    def shifted(self, direction: int) -> Period:
        """The previous (-1) or next (+1) period of the same kind."""
        if self.kind == "day":
            return day_period(self.start + timedelta(days=direction))
        if self.kind == "week":
            return week_period((self.start + timedelta(weeks=direction)).strftime("%G-W%V"))
        first = (self.start.replace(day=1) + timedelta(days=32 * direction if direction > 0 else -1))
        return month_period(first.strftime("%Y-%m"))


def day_title(day: date) -> str:
    """ "Thu 4 Dec 2025" (English names whatever the locale)."""
    return f"{_WEEKDAYS[day.weekday()]} {day.day} {_MONTHS[day.month - 1]} {day.year}"


def range_title(start: date, end: date) -> str:
    """ "1–7 Dec 2025", "29 Dec – 4 Jan 2026" or "29 Dec 2025 – 4 Jan 2026"."""
    first, last = f"{start.day} {_MONTHS[start.month - 1]}", f"{end.day} {_MONTHS[end.month - 1]} {end.year}"
    if start.year != end.year:
        return f"{first} {start.year} – {last}"
    if start.month != end.month:
        return f"{first} – {last}"
    return f"{start.day}–{last}"


def parse_date(text: str | date, what: str = "date") -> date:
    if isinstance(text, date):
        return text
    try:
        return date.fromisoformat(text)
    except (TypeError, ValueError):
        raise InvalidInput(f"{what} must be YYYY-MM-DD, not {str(text)[:40]!r}") from None


def day_period(day: str | date) -> Period:
    d = parse_date(day)
    return Period("day", d, d)


def week_period(week: str) -> Period:
    m = _WEEK_RE.match(week or "")
    try:
        if not m:
            raise ValueError
        start = date.fromisocalendar(int(m.group(1)), int(m.group(2)), 1)
    except ValueError:
        raise InvalidInput(f"week must be YYYY-Www (e.g. 2025-W09), not {week[:40]!r}") from None
    return Period("week", start, start + timedelta(days=6))


def month_period(month: str) -> Period:
    m = _MONTH_RE.match(month or "")
    if not m or not 1 <= int(m.group(2)) <= 12 or int(m.group(1)) < 1:
        raise InvalidInput(f"month must be YYYY-MM, not {month[:40]!r}")
    year, mon = int(m.group(1)), int(m.group(2))
    return Period("month", date(year, mon, 1), date(year, mon, calendar.monthrange(year, mon)[1]))


def resolve_period(
    store: Store, date_: str | date | None, week: str | None, month: str | None
) -> Period | None:
    """The period asked for; with none given, the latest day that has papers (None if empty)."""
    given = [x for x in (date_, week, month) if x]
    if len(given) > 1:
        raise InvalidInput("give at most one of date, week and month")
    if week:
        return week_period(week)
    if month:
        return month_period(month)
    if date_:
        return day_period(date_)
    latest = store.latest_day(datetime.now(UTC).date())
    return day_period(latest) if latest else None


def trending_score(paper: Paper, reference: datetime) -> float:
    day = paper.day
    if day is None:
        return 0.0
    born = datetime.combine(day, time(12), tzinfo=UTC)
    age_hours = max(0.0, (reference - born).total_seconds() / 3600)
    return (paper.upvotes or 0) / (age_hours + 2) ** GRAVITY


def reference_time(period_end: date, now: datetime | None = None) -> datetime:
    now = now or datetime.now(UTC)
    end = datetime.combine(period_end + timedelta(days=1), time(0), tzinfo=UTC)
    return min(now, end)


def listing(
    store: Store,
    period: Period,
    *,
    sort: Sort = "published",
    limit: int | None = None,
    offset: int = 0,
    now: datetime | None = None,
) -> list[tuple[Paper, float]]:
    """A period's papers with their score: by upvotes ("published", as Daily Papers orders a
    day), or by trending score."""
    if sort not in SORTS:
        raise InvalidInput(f"sort must be one of {', '.join(SORTS)}, not {str(sort)[:40]!r}")
    if sort == "published":
        papers = store.papers_between(period.start, period.end, limit=limit, offset=offset)
        return [(p, float(p.upvotes or 0)) for p in papers]
    ref = reference_time(period.end, now)
    papers = store.papers_between(period.start, period.end)
    scored = sorted(
        ((p, trending_score(p, ref)) for p in papers),
        key=lambda ps: (-ps[1], -(ps[0].upvotes or 0), ps[0].id),
    )
    end = None if limit is None else offset + limit
    return scored[offset:end]
