"""Subscribers: who gets a digest, about what, how often.

A subscriber has an email address, an optional name, the trending section on or off, any number of
topics (saved searches) and a frequency: `weekdays` (daily, skipping Saturday and Sunday: the
default) or `weekly` (Mondays). Status: `pending` (waiting for the double opt-in confirmation),
`active`, `unsubscribed`, or `bounced` (a permanent SMTP failure: no more digests until an admin
adds the address again).

Everything a user gives is checked here: addresses by `email-validator` (syntax only, no DNS), and
any CR, LF or other control character in an address, name or topic is refused, so nothing can
smuggle a header into a message.
"""

from __future__ import annotations

import builtins
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from email_validator import EmailNotValidError, validate_email

from paperfeed.errors import InvalidInput, NotFound
from paperfeed.store.db import Database, new_id, now_iso

# `added_at` has whole seconds: a paper that arrived in the second of subscribing counts as new.
_SINCE_EARLIER = timedelta(seconds=1)


def _since_now() -> str:
    return (datetime.now(UTC) - _SINCE_EARLIER).isoformat(timespec="seconds")

FREQUENCIES = ("weekdays", "weekly")
STATUSES = ("pending", "active", "unsubscribed", "bounced")
MAX_TOPICS = 20
MAX_TOPIC_CHARS = 200
MAX_NAME_CHARS = 100


@dataclass
class Subscriber:
    id: str
    email: str
    name: str | None
    status: str
    trending: bool
    frequency: str
    created_at: str
    confirmed_at: str | None
    since: str  # arrivals after this count as new for the first digest
    last_error: str | None = None
    last_error_at: str | None = None
    topics: list[str] = field(default_factory=list)

    def due_on(self, day: date) -> bool:
        """Whether a digest for `day` is due, by frequency."""
        if self.frequency == "weekly":
            return day.weekday() == 0
        return day.weekday() < 5

    def to_dict(self) -> dict[str, Any]:
        return {
            "email": self.email, "name": self.name, "status": self.status,
            "trending": self.trending, "frequency": self.frequency, "topics": self.topics,
            "created_at": self.created_at, "confirmed_at": self.confirmed_at,
            "last_error": self.last_error, "last_error_at": self.last_error_at,
        }


def _has_control(text: str) -> bool:
    return any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in text)


def check_email(address: str) -> str:
    """The normalised address, or InvalidInput. Line breaks and control characters are refused
    outright (not stripped): such an address is an injection attempt or a mistake."""
    if not isinstance(address, str) or _has_control(address):
        raise InvalidInput("an email address cannot contain line breaks or control characters")
    try:
        result = validate_email(address.strip(), check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        raise InvalidInput(f"not a valid email address: {exc}") from None
    # One subscription per mailbox: addresses are kept lower-cased (every common provider
    # ignores case in the local part, though RFC 5321 allows otherwise).
    return (result.ascii_email or result.normalized).lower()


def check_name(name: str | None) -> str | None:
    if name is None or not name.strip():
        return None
    if _has_control(name):
        raise InvalidInput("a name cannot contain line breaks or control characters")
    if len(name) > MAX_NAME_CHARS:
        raise InvalidInput(f"a name is at most {MAX_NAME_CHARS} characters")
    return name.strip()


def check_topics(topics: list[str]) -> list[str]:
    clean: list[str] = []
    for topic in topics:
        if _has_control(topic):
            raise InvalidInput("a topic cannot contain line breaks or control characters")
        text = " ".join(topic.split())
        if len(text) > MAX_TOPIC_CHARS:
            raise InvalidInput(f"a topic is at most {MAX_TOPIC_CHARS} characters")
        if text and text not in clean:
            clean.append(text)
    if len(clean) > MAX_TOPICS:
        raise InvalidInput(f"at most {MAX_TOPICS} topics")
    return clean


def check_frequency(frequency: str) -> str:
    if frequency not in FREQUENCIES:
        raise InvalidInput(f"frequency must be one of {', '.join(FREQUENCIES)}")
    return frequency


_COLUMNS = (
    "id, email, name, status, trending, frequency, created_at, confirmed_at, since, "
    "last_error, last_error_at"
)


def _row(row: tuple[Any, ...]) -> Subscriber:
    sid, email, name, status, trending, freq, created, confirmed, since, err, err_at = row
    return Subscriber(sid, email, name, status, bool(trending), freq, created, confirmed, since, err, err_at)


class Subscriptions:
    """Subscribers in the database (`lib.subscribers`)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def add(
        self,
        email: str,
        topics: list[str] = (),  # type: ignore[assignment]
        *,
        name: str | None = None,
        trending: bool = True,
        frequency: str = "weekdays",
        confirmed: bool = False,
    ) -> Subscriber:
        """Create a subscription, or update one with this address (its topics are replaced).
        Unconfirmed (`pending`) unless `confirmed`; an already active subscriber stays active.
        Adding a bounced or unsubscribed address again makes it pending (or active if
        `confirmed`) and clears its last error."""
        address = check_email(email)
        name = check_name(name)
        topics = check_topics(list(topics))
        frequency = check_frequency(frequency)
        now = now_iso()
        with self.db.transaction() as tx:
            row = tx.query_one("SELECT id, status FROM subscribers WHERE email = ?", (address,))
            if row is None:
                sid = new_id()
                status = "active" if confirmed else "pending"
                tx.execute(
                    f"INSERT INTO subscribers ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL)",
                    (sid, address, name, status, int(trending), frequency, now,
                     now if confirmed else None, _since_now()),
                )
            else:
                sid, old = row
                status = "active" if confirmed or old == "active" else "pending"
                tx.execute(
                    "UPDATE subscribers SET name = ?, status = ?, trending = ?, frequency = ?, "
                    "confirmed_at = CASE WHEN ? = 'active' AND confirmed_at IS NULL THEN ? "
                    "ELSE confirmed_at END, last_error = NULL, last_error_at = NULL WHERE id = ?",
                    (name, status, int(trending), frequency, status, now, sid),
                )
                tx.execute("DELETE FROM subscriber_topics WHERE subscriber_id = ?", (sid,))
            for position, topic in enumerate(topics):
                tx.execute(
                    "INSERT INTO subscriber_topics (subscriber_id, position, topic) VALUES (?, ?, ?)",
                    (sid, position, topic),
                )
        return self.by_id(sid)

    def confirm(self, subscriber_id: str) -> Subscriber:
        """Double opt-in: a pending subscription becomes active; new papers count from now."""
        now = now_iso()
        self.db.execute(
            "UPDATE subscribers SET status = 'active', confirmed_at = ?, since = ? "
            "WHERE id = ? AND status = 'pending'",
            (now, _since_now(), subscriber_id),
        )
        return self.by_id(subscriber_id)

    def unsubscribe(self, subscriber_id: str) -> Subscriber | None:
        """Stop digests to this subscriber (idempotent); None if it no longer exists."""
        self.db.execute(
            "UPDATE subscribers SET status = 'unsubscribed' WHERE id = ?", (subscriber_id,)
        )
        return self.find_id(subscriber_id)

    def remove(self, email: str) -> None:
        """Forget a subscriber entirely: the row, its topics and its outbox."""
        sub = self.get(email)
        with self.db.transaction() as tx:
            tx.execute("DELETE FROM subscriber_topics WHERE subscriber_id = ?", (sub.id,))
            tx.execute("DELETE FROM digest_outbox WHERE subscriber_id = ?", (sub.id,))
            tx.execute("DELETE FROM subscribers WHERE id = ?", (sub.id,))

    def record_bounce(self, subscriber_id: str, error: str) -> None:
        self.db.execute(
            "UPDATE subscribers SET status = 'bounced', last_error = ?, last_error_at = ? WHERE id = ?",
            (error[:500], now_iso(), subscriber_id),
        )

    def record_error(self, subscriber_id: str, error: str) -> None:
        self.db.execute(
            "UPDATE subscribers SET last_error = ?, last_error_at = ? WHERE id = ?",
            (error[:500], now_iso(), subscriber_id),
        )

    def get(self, email: str) -> Subscriber:
        address = check_email(email)
        row = self.db.query_one(f"SELECT {_COLUMNS} FROM subscribers WHERE email = ?", (address,))
        if row is None:
            raise NotFound(f"no subscriber {address}")
        return self._with_topics([_row(row)])[0]

    def find_id(self, subscriber_id: str) -> Subscriber | None:
        row = self.db.query_one(f"SELECT {_COLUMNS} FROM subscribers WHERE id = ?", (subscriber_id,))
        return self._with_topics([_row(row)])[0] if row else None

    def by_id(self, subscriber_id: str) -> Subscriber:
        sub = self.find_id(subscriber_id)
        if sub is None:
            raise NotFound("no such subscriber (it was removed)")
        return sub

    def list(self, status: str | None = None) -> list[Subscriber]:
        if status is not None and status not in STATUSES:
            raise InvalidInput(f"status must be one of {', '.join(STATUSES)}")
        sql = f"SELECT {_COLUMNS} FROM subscribers"
        rows = self.db.query(sql + " WHERE status = ? ORDER BY email" if status else sql + " ORDER BY email",
                             (status,) if status else ())
        return self._with_topics([_row(r) for r in rows])

    def _with_topics(self, subs: builtins.list[Subscriber]) -> builtins.list[Subscriber]:
        if not subs:
            return subs
        by_id = {s.id: s for s in subs}
        if len(subs) == 1:
            rows = self.db.query(
                "SELECT subscriber_id, topic FROM subscriber_topics WHERE subscriber_id = ? "
                "ORDER BY position", (subs[0].id,),
            )
        else:
            rows = self.db.query(
                "SELECT subscriber_id, topic FROM subscriber_topics ORDER BY subscriber_id, position"
            )
        for sid, topic in rows:
            if sid in by_id:
                by_id[sid].topics.append(topic)
        return subs
