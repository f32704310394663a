"""Rate limits kept in the database (the portable `store/db.py` layer, table `rate_events`), so
every worker process and app server counts the same events.

A rule allows `limit` events per key within a sliding `window`. Used for what a stranger could
otherwise make the server do in a loop: confirmation emails (per address, per client) and
sign-ups (per client). Counting and recording are one transaction; on PostgreSQL two concurrent
requests may both see the count just under the limit, so the limit can be passed by at most the
number of requests in flight at once, which is fine for this purpose.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from paperfeed.errors import InvalidInput
from paperfeed.store.db import Database, new_id

__all__ = ["RateLimited", "RateLimiter", "Rule", "timedelta"]


class RateLimited(InvalidInput):
    """Too many attempts of something within a while (HTTP 429)."""


@dataclass(frozen=True)
class Rule:
    name: str
    limit: int
    window: timedelta
    message: str


CONFIRM_MAILS_PER_ADDRESS = Rule(
    "confirm-mail-address", 3, timedelta(hours=24), "too many confirmation emails to this address"
)
CONFIRM_MAILS_PER_CLIENT = Rule(
    "confirm-mail-client", 10, timedelta(hours=1),
    "too many subscriptions from your address: try again in an hour",
)
SIGNUPS_PER_CLIENT = Rule(
    "signup-client", 10, timedelta(hours=1), "too many sign-ups from your address: try again in an hour"
)


def _iso(when: datetime) -> str:
    return when.isoformat(timespec="microseconds")


class RateLimiter:
    def __init__(self, db: Database) -> None:
        self.db = db

    def allow(self, rule: Rule, key: str, *, now: datetime | None = None) -> bool:
        """Record one event for `key` under `rule` if the rule allows it; whether it did."""
        now = now or datetime.now(UTC)
        full_key = f"{rule.name}:{key[:300]}"
        since = _iso(now - rule.window)
        with self.db.transaction() as tx:
            tx.execute("DELETE FROM rate_events WHERE key = ? AND at < ?", (full_key, since))
            count = tx.query(
                "SELECT count(*) FROM rate_events WHERE key = ? AND at >= ?", (full_key, since)
            )[0][0]
            if count >= rule.limit:
                return False
            tx.execute(
                "INSERT INTO rate_events (id, key, at) VALUES (?, ?, ?)", (new_id(), full_key, _iso(now))
            )
        return True

    def exhausted(self, rule: Rule, key: str, *, now: datetime | None = None) -> bool:
        """Whether `key` has used up `rule` (nothing is recorded)."""
        since = _iso((now or datetime.now(UTC)) - rule.window)
        count = self.db.query(
            "SELECT count(*) FROM rate_events WHERE key = ? AND at >= ?",
            (f"{rule.name}:{key[:300]}", since),
        )[0][0]
        return count >= rule.limit

    def check(self, rule: Rule, key: str) -> None:
        """Record one event, or raise RateLimited when the rule allows no more."""
        if not self.allow(rule, key):
            raise RateLimited(rule.message)
