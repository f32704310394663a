"""Rate limits kept in the database (the portable `store/db.py` layer, table `rate_events`), so
every worker process and app server counts the same events.

A rule allows `limit` events per key within a `window` that opens at the key's first event and
closes `window` later (the next event after that opens a new one). Used for what a stranger could
otherwise make the server do in a loop: confirmation emails (per requester and address, per
address, per client), sign-ups (per client), comments (per member).

Checking and counting are one statement, `INSERT ... ON CONFLICT (key) DO UPDATE ... RETURNING`
on the key's counter row, with the window logic in SQL: PostgreSQL locks the row for the update
and evaluates it on the latest committed version, SQLite runs it under its write lock, so N
requests at once against a limit of L admit exactly L on either engine. Refused attempts are
counted too (the count only ever compares with the limit); nothing else is stored per event.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from paperfeed.errors import InvalidInput
from paperfeed.store.db import Database

__all__ = ["RateLimited", "RateLimiter", "Rule", "Window", "client_key", "timedelta"]


class RateLimited(InvalidInput):
    """Too many attempts of something within a while (HTTP 429)."""


@dataclass(frozen=True)
class Rule:
    name: str
    limit: int
    window: timedelta
    message: str


# Confirmation emails for subscriptions (`digest.requests`), as sign-up emails are: an address's
# are counted per requester first, so a stranger's repeats use up their own allowance for it, not
# the owner's; then one email per cooldown and a daily cap for the address from all requesters.
CONFIRM_MAILS_PER_CLIENT = Rule(
    "confirm-mail-client", 10, timedelta(hours=1),
    "too many subscriptions from your address: try again in an hour",
)
CONFIRM_MAILS_PER_ADDRESS = Rule(
    "confirm-mail-client-address", 3, timedelta(hours=24),
    "too many confirmation emails to this address from your address",
)
CONFIRM_MAIL_COOLDOWN = Rule(
    "confirm-mail-cooldown", 1, timedelta(minutes=10), "a confirmation email went out a few minutes ago"
)
CONFIRM_MAILS_PER_ADDRESS_ALL = Rule(
    "confirm-mail-address", 10, timedelta(hours=24), "too many confirmation emails to this address"
)
SIGNUPS_PER_CLIENT = Rule(
    "signup-client", 10, timedelta(hours=1), "too many sign-ups from your address: try again in an hour"
)
# Sign-up emails to one address are counted per requester first, then for all requesters: a
# stranger repeating sign-ups for someone's address uses up their own allowance for it, not the
# owner's (`Signups.request`). Only what the first rule lets through counts towards the second.
SIGNUP_MAILS_PER_ADDRESS = Rule(
    "signup-mail-client-address", 3, timedelta(hours=24),
    "too many sign-up emails to this address from your address",
)
SIGNUP_MAILS_PER_ADDRESS_ALL = Rule(
    "signup-mail-address", 10, timedelta(hours=24), "too many sign-up emails to this address"
)


@dataclass(frozen=True)
class Window:
    """A key's counting window under a rule: when it opened, the events in it, when it closes."""

    opened_at: datetime
    count: int
    closes_at: datetime


def _iso(when: datetime) -> str:
    return when.isoformat(timespec="microseconds")


class RateLimiter:
    def __init__(self, db: Database) -> None:
        self.db = db

    def allow(self, rule: Rule, key: str, *, now: datetime | None = None) -> bool:
        """Record one event for `key` under `rule` if the rule allows it; whether it did."""
        return self.record(rule, key, now=now) <= rule.limit

    def record(self, rule: Rule, key: str, *, now: datetime | None = None) -> int:
        """Record one event for `key` under `rule`: the events in its window, this one included
        (the rule allowed it if that is at most the limit)."""
        now = now or datetime.now(UTC)
        opened_before = _iso(now - rule.window)  # a window opened before this has closed
        with self.db.transaction() as tx:
            row = tx.query_one(
                "INSERT INTO rate_counters (key, opened_at, count) VALUES (?, ?, 1) "
                "ON CONFLICT (key) DO UPDATE SET "
                "count = CASE WHEN rate_counters.opened_at < ? THEN 1 "
                "ELSE rate_counters.count + 1 END, "
                "opened_at = CASE WHEN rate_counters.opened_at < ? THEN excluded.opened_at "
                "ELSE rate_counters.opened_at END "
                "RETURNING count",
                (_key(rule, key), _iso(now), opened_before, opened_before),
            )
        assert row is not None  # RETURNING gives the counter's row
        return int(row[0])

    def last_window(self, rule: Rule, key: str) -> Window | None:
        """The key's latest window under `rule`, open or closed (None if it never had an
        event); nothing is recorded."""
        row = self.db.query_one("SELECT opened_at, count FROM rate_counters WHERE key = ?", (_key(rule, key),))
        if row is None:
            return None
        opened = datetime.fromisoformat(str(row[0]))
        return Window(opened, int(row[1]), opened + rule.window)

    def exhausted(self, rule: Rule, key: str, *, now: datetime | None = None) -> bool:
        """Whether `key` has used up `rule` (nothing is recorded)."""
        opened_before = _iso((now or datetime.now(UTC)) - rule.window)
        row = self.db.query_one(
            "SELECT count FROM rate_counters WHERE key = ? AND opened_at >= ?",
            (_key(rule, key), opened_before),
        )
        return row is not None and int(row[0]) >= rule.limit

    def check(self, rule: Rule, key: str, *, now: datetime | None = None) -> None:
        """Record one event, or raise RateLimited when the rule allows no more."""
        if not self.allow(rule, key, now=now):
            raise RateLimited(rule.message)


def client_key(host: str) -> str:
    """A client address as per-client limits count it: IPv4 as it is, IPv6 by its /64 (one
    home or server gets a whole /64 and may send from any address in it), an IPv4-mapped IPv6
    address as the IPv4 one."""
    try:
        ip = ipaddress.ip_address(host.strip())
    except ValueError:
        return host[:100]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def _key(rule: Rule, key: str) -> str:
    return f"{rule.name}:{key[:300]}"
