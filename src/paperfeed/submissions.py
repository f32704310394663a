"""Members submit papers to today's daily list by arXiv id or URL, as on Hugging Face's Daily Papers.

A paper the store lacks is fetched through the arXiv API harvester (its lock, log, one connection
and the 3-second spacing); a paper it holds is put on the list without a fetch. The limits are
Hugging Face's, configurable: a paper once per daily list (and a paper already on an earlier daily
list stays there), a per-member cap per day, and only papers published in the last N days.
Withdrawn papers are refused. Checks run before anything is written, so a refused or failed
submission leaves the store as it was.

The submission is kept twice: in `submissions` (who, when: the cap and the once-per-list rule) and
on the paper (`submitted_to_daily` = today, `extra["submitted_by"]`), so every list, page and API
shows it as it shows an imported Hugging Face submission.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from paperfeed.errors import InvalidInput, NotFound, PaperfeedError
from paperfeed.members import display_name
from paperfeed.records import Paper, is_withdrawn, parse_arxiv_id
from paperfeed.store.base import Store
from paperfeed.store.db import now_iso

if TYPE_CHECKING:
    from paperfeed.accounts import User


class SourceUnavailable(PaperfeedError, RuntimeError):
    """The arXiv API could not be reached or answered an error (HTTP 503 to our clients)."""


class SubmitLimit(InvalidInput):
    """A submission the limits refuse (over the daily cap, already listed, too old)."""


@dataclass(frozen=True)
class Limits:
    daily_cap: int = 5
    max_age_days: int = 14


@dataclass(frozen=True)
class Submission:
    paper: Paper
    user: User
    day: date
    fetched: bool  # whether the arXiv API was asked

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.paper.id,
            "title": self.paper.title,
            "day": self.day.isoformat(),
            "submitted_by": display_name(self.user.email),
            "fetched": self.fetched,
        }


def submitter_name(paper: Paper) -> str | None:
    """Who put a paper on its daily list: a local member or Hugging Face's `submittedOnDailyBy`."""
    who = paper.extra.get("submitted_by") if isinstance(paper.extra, dict) else None
    if isinstance(who, dict):
        who = who.get("fullname") or who.get("name")
    return who.strip()[:80] if isinstance(who, str) and who.strip() else None


Fetch = Callable[[str], Paper | None]


class Submissions:
    def __init__(self, store: Store, limits: Limits) -> None:
        self.store = store
        self.db = store.db
        self.limits = limits

    def count_today(self, user: User, today: date) -> int:
        row = self.db.query_one(
            "SELECT count(*) FROM submissions WHERE user_id = ? AND day = ?", (user.id, today.isoformat())
        )
        return int(row[0]) if row else 0

    def submit(self, raw_id: str, user: User, fetch: Fetch, *, today: date | None = None) -> Submission:
        today = today or datetime.now(UTC).date()
        parsed = parse_arxiv_id(str(raw_id)[:200]) if raw_id else None
        if not parsed:
            raise InvalidInput(f"not an arXiv id or URL: {str(raw_id)[:60]!r} (e.g. 2401.01234)")
        arxiv_id = parsed[0]
        if self.count_today(user, today) >= self.limits.daily_cap:
            raise SubmitLimit(
                f"you have submitted {self.limits.daily_cap} papers today, the most a member may: "
                "try again tomorrow"
            )
        paper = self.store.get(arxiv_id)
        fetched = paper is None
        if paper is None:
            paper = fetch(arxiv_id)
            if paper is None:
                raise NotFound(f"arXiv does not know {arxiv_id}")
        self._check(paper, today)
        row = self.db.query_one("SELECT day FROM submissions WHERE paper_id = ?", (paper.id,))
        if row is not None:
            raise SubmitLimit(f"{paper.id} was already submitted, to the daily list of {row[0]}")
        listed = replace(
            paper, submitted_to_daily=today,
            extra={**paper.extra, "submitted_by": display_name(user.email)},
        )
        with self.db.transaction() as tx:
            tx.execute(
                "INSERT INTO submissions (paper_id, day, user_id, created_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (paper_id) DO NOTHING",
                (paper.id, today.isoformat(), user.id, now_iso()),
            )
        self.store.upsert([listed])
        return Submission(self.store.get(paper.id) or listed, user, today, fetched)

    def _check(self, paper: Paper, today: date) -> None:
        if is_withdrawn(paper):
            raise SubmitLimit(f"{paper.id} has been withdrawn by its authors")
        if paper.submitted_to_daily is not None:
            when = "today's" if paper.submitted_to_daily == today else f"the {paper.submitted_to_daily}"
            raise SubmitLimit(f"{paper.id} is already on {when} daily list")
        oldest = today - timedelta(days=self.limits.max_age_days)
        if paper.published is None or paper.published < oldest:
            published = paper.published.isoformat() if paper.published else "an unknown day"
            raise SubmitLimit(
                f"{paper.id} was published on {published}: only papers of the last "
                f"{self.limits.max_age_days} days can be submitted"
            )

    def of_user(self, user: User) -> list[tuple[str, str]]:
        """(paper id, day) of a member's submissions, newest first (for their data export)."""
        rows = self.db.query(
            "SELECT paper_id, day FROM submissions WHERE user_id = ? ORDER BY created_at DESC", (user.id,)
        )
        return [(r[0], r[1]) for r in rows]
