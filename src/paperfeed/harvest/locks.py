"""A per-source lock so two harvests of one source never overlap, across processes and hosts.

It is a lease row in the database (`harvest_locks`), so it works for several app servers on one
PostgreSQL as well as for processes sharing a SQLite file. The lease expires unless renewed (the
harvester renews it after every page); a holder on this host whose process is gone (killed with
SIGKILL, say) is recognised at once, so a rerun need not wait for the expiry.
"""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime, timedelta

from paperfeed.store.db import Database, new_id

DEFAULT_TTL = timedelta(minutes=15)


class SourceLocked(Exception):
    """Another harvest of this source holds the lock."""


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class SourceLock:
    """`with SourceLock(db, "arxiv"):` ... holds the lease on `arxiv`; raises SourceLocked."""

    def __init__(self, db: Database, source: str, ttl: timedelta = DEFAULT_TTL) -> None:
        self.db = db
        self.source = source
        self.ttl = ttl
        self.owner = new_id()
        self.host = socket.gethostname()
        self.pid = os.getpid()

    def __enter__(self) -> SourceLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def acquire(self) -> None:
        now = datetime.now(UTC)
        with self.db.transaction() as tx:
            row = tx.query_one(
                "SELECT owner, host, pid, acquired_at, expires_at FROM harvest_locks WHERE source = ?",
                (self.source,),
            )
            if row is not None and not self._stale(row, now):
                raise SourceLocked(
                    f"another {self.source} harvest is running (host {row[1]}, pid {row[2]}, "
                    f"since {row[3][:19]}Z)"
                )
            # Compare-and-swap, so two racing processes cannot both win (also under READ
            # COMMITTED on PostgreSQL): insert if absent, else replace the stale owner we saw.
            values = (self.owner, self.host, self.pid, _iso(now), _iso(now + self.ttl))
            if row is None:
                won = tx.execute(
                    "INSERT INTO harvest_locks (owner, host, pid, acquired_at, expires_at, source) "
                    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (source) DO NOTHING",
                    (*values, self.source),
                )
            else:
                won = tx.execute(
                    "UPDATE harvest_locks SET owner = ?, host = ?, pid = ?, acquired_at = ?, "
                    "expires_at = ? WHERE source = ? AND owner = ?",
                    (*values, self.source, row[0]),
                )
            if won != 1:
                raise SourceLocked(f"another {self.source} harvest has just started")

    def _stale(self, row: tuple, now: datetime) -> bool:
        _owner, host, pid, _acquired, expires = row
        if datetime.fromisoformat(expires) < now:
            return True
        return host == self.host and pid != self.pid and not _pid_alive(int(pid))

    def renew(self) -> None:
        """Push the expiry forward; raises SourceLocked if the lease was lost meanwhile."""
        changed = self.db.execute(
            "UPDATE harvest_locks SET expires_at = ? WHERE source = ? AND owner = ?",
            (_iso(datetime.now(UTC) + self.ttl), self.source, self.owner),
        )
        if changed != 1:
            raise SourceLocked(f"the {self.source} harvest lost its lock (it expired)")

    def release(self) -> None:
        self.db.execute(
            "DELETE FROM harvest_locks WHERE source = ? AND owner = ?", (self.source, self.owner)
        )
