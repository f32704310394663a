"""The digest outbox: one row per subscriber and digest day, in the database.

The unique key (subscriber_id, digest_date) makes composing idempotent: a second run for the same
day inserts nothing (`ON CONFLICT DO NOTHING`) and finds nothing pending, so it sends nothing.
A row moves `pending → sending → sent`, or `failed` (permanent 5xx, or transient failures beyond
MAX_ATTEMPTS), or back to `pending` with a later `next_attempt_at` (transient: backoff doubling
from `Config.digest_retry_seconds`). `empty` marks a day with nothing new for a subscriber;
`cancelled` a digest whose subscriber left before it went out.

Each claim is a compare-and-swap (`UPDATE ... WHERE status = 'pending'`), and send runs hold a lease
lock, so one row is sent by one process. A row left `sending` by a killed run is made pending
again by the next run (which holds the lock, so the old run is gone): its message was not
acknowledged when the process died, except in the instant between the server's 250 and our
commit, the one window where SMTP itself cannot tell (a resend then reuses the same Message-ID).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import cast

from paperfeed.digest.compose import SENT_MEMORY_DAYS, DigestContent
from paperfeed.store.db import Database, Transaction, new_id, now_iso

MAX_ATTEMPTS = 8
BATCH = 500


@dataclass
class OutboxRow:
    id: str
    subscriber_id: str
    digest_date: date
    content: DigestContent
    message_id: str
    attempts: int


@dataclass
class NewDigest:
    subscriber_id: str
    content: DigestContent
    cutoff: str
    message_id: str
    user_id: str | None = None  # the subscriber's account, whose For you papers are recorded


# Records a digest's For you papers as sent, in the transaction that inserts its outbox row.
RecordSent = Callable[[Transaction, str, list[str]], None]


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


class Outbox:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- composing ---------------------------------------------------------------------------

    def composed(self, day: date) -> set[str]:
        rows = self.db.query(
            "SELECT subscriber_id FROM digest_outbox WHERE digest_date = ?", (day.isoformat(),)
        )
        return {r[0] for r in rows}

    def last_cutoffs(self, day: date) -> dict[str, str]:
        """Each subscriber's newest cutoff before `day`: arrivals after it are new."""
        rows = self.db.query(
            "SELECT subscriber_id, max(cutoff) FROM digest_outbox WHERE digest_date < ? "
            "GROUP BY subscriber_id", (day.isoformat(),),
        )
        return {sid: cutoff for sid, cutoff in rows}

    def recently_sent(self, day: date, subscriber_ids: Iterable[str] | None = None) -> dict[str, set[str]]:
        """Paper ids already in each subscriber's digests of the last SENT_MEMORY_DAYS days."""
        start = (day - timedelta(days=SENT_MEMORY_DAYS)).isoformat()
        sql = ("SELECT subscriber_id, content FROM digest_outbox WHERE digest_date >= ? "
               "AND digest_date < ? AND status IN ('pending', 'sending', 'sent')")
        params: list[object] = [start, day.isoformat()]
        wanted = set(subscriber_ids) if subscriber_ids is not None else None
        if wanted is not None and len(wanted) == 1:
            sql += " AND subscriber_id = ?"
            params.append(next(iter(wanted)))
        sent: dict[str, set[str]] = {}
        for sid, content in self.db.query(sql, params):
            if wanted is None or sid in wanted:
                sent.setdefault(sid, set()).update(DigestContent.from_json(content).paper_ids)
        return sent

    def find(self, subscriber_id: str, day: date) -> OutboxRow | None:
        row = self.db.query_one(
            "SELECT id, subscriber_id, digest_date, content, message_id, attempts FROM digest_outbox "
            "WHERE subscriber_id = ? AND digest_date = ?", (subscriber_id, day.isoformat()),
        )
        return _row(row) if row else None

    def enqueue(self, day: date, digests: Sequence[NewDigest], record: RecordSent | None = None) -> int:
        """Insert the day's digests (pending, or empty); existing (subscriber, day) rows win.
        A new row's For you papers are recorded as sent (`record`) in the same transaction, so
        they are never recommended again exactly when the digest holding them exists."""
        now = now_iso()
        inserted = 0
        for start in range(0, len(digests), BATCH):
            with self.db.transaction() as tx:
                for d in digests[start:start + BATCH]:
                    new = tx.execute(
                        "INSERT INTO digest_outbox (id, subscriber_id, digest_date, status, content, "
                        "cutoff, message_id, attempts, next_attempt_at, created_at) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?) "
                        "ON CONFLICT (subscriber_id, digest_date) DO NOTHING",
                        (new_id(), d.subscriber_id, day.isoformat(),
                         "empty" if d.content.empty else "pending", d.content.to_json(),
                         d.cutoff, d.message_id, now, now),
                    )
                    inserted += new
                    if new and record is not None and d.user_id and d.content.recommended:
                        record(tx, d.user_id, d.content.recommended)
        return inserted

    # -- sending -----------------------------------------------------------------------------

    def recover(self) -> int:
        """Rows a killed run left `sending` become pending again (call holding the send lock)."""
        return self.db.execute("UPDATE digest_outbox SET status = 'pending' WHERE status = 'sending'")

    def due(self, now: datetime) -> list[OutboxRow]:
        rows = self.db.query(
            "SELECT id, subscriber_id, digest_date, content, message_id, attempts FROM digest_outbox "
            "WHERE status = 'pending' AND next_attempt_at <= ? ORDER BY digest_date, id",
            (_iso(now),),
        )
        return [_row(r) for r in rows]

    def pending_count(self) -> int:
        row = self.db.query_one("SELECT count(*) FROM digest_outbox WHERE status = 'pending'")
        return int(row[0]) if row else 0

    def claim(self, row_id: str) -> bool:
        return self.db.execute(
            "UPDATE digest_outbox SET status = 'sending', attempts = attempts + 1 "
            "WHERE id = ? AND status = 'pending'", (row_id,),
        ) == 1

    def mark_sent(self, row_id: str) -> None:
        self.db.execute(
            "UPDATE digest_outbox SET status = 'sent', sent_at = ?, error = NULL WHERE id = ?",
            (now_iso(), row_id),
        )

    def mark_failed(self, row_id: str, error: str, status: str = "failed") -> None:
        self.db.execute(
            "UPDATE digest_outbox SET status = ?, error = ? WHERE id = ?", (status, error[:500], row_id)
        )

    def mark_retry(self, row_id: str, error: str, attempts: int, base_seconds: float, now: datetime) -> bool:
        """Back to pending after a transient failure, due after base · 2^(attempts-1); after
        MAX_ATTEMPTS the row fails for good. Returns whether it will be retried."""
        if attempts >= MAX_ATTEMPTS:
            self.mark_failed(row_id, f"gave up after {attempts} attempts: {error}")
            return False
        delay = timedelta(seconds=base_seconds * 2 ** (attempts - 1))
        self.db.execute(
            "UPDATE digest_outbox SET status = 'pending', error = ?, next_attempt_at = ? WHERE id = ?",
            (error[:500], _iso(now + delay), row_id),
        )
        return True

    def history(self, subscriber_id: str, limit: int = 10) -> list[dict[str, object]]:
        rows = self.db.query(
            "SELECT digest_date, status, attempts, error, sent_at, content FROM digest_outbox "
            "WHERE subscriber_id = ? ORDER BY digest_date DESC LIMIT ?", (subscriber_id, limit),
        )
        return [
            {"date": d, "status": s, "attempts": a, "error": e, "sent_at": t,
             "papers": len(DigestContent.from_json(c).paper_ids)}
            for d, s, a, e, t, c in rows
        ]


def _row(row: tuple[object, ...]) -> OutboxRow:
    rid, sid, day, content, message_id, attempts = row
    return OutboxRow(str(rid), str(sid), date.fromisoformat(str(day)),
                     DigestContent.from_json(str(content)), str(message_id), int(cast(int, attempts)))



