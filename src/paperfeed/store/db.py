"""A small portable SQL layer for the feature tables (users, votes, subscriptions, outbox,
harvest log, ...), so each feature writes its SQL once for SQLite and PostgreSQL.

Papers, the keyword index and vectors are engine-specific and live behind `Store`; everything else
goes through `Database`:

- SQL uses `?` placeholders; the PostgreSQL backend rewrites them to `%s`.
- Portable DDL only: TEXT / INTEGER / BIGINT / REAL / BOOLEAN-as-INTEGER columns, TEXT primary keys
  made in Python (`new_id()`), `ON CONFLICT ... DO UPDATE/NOTHING`, `RETURNING`. No AUTOINCREMENT,
  no SERIAL, no engine functions; timestamps are ISO-8601 UTC text (`now_iso()`).
- Feature migrations are named and registered in `FEATURE_MIGRATIONS` (append-only); each backend
  applies those it has not applied yet, recorded in `schema_migrations`.
"""

from __future__ import annotations

import secrets
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any

Row = tuple[Any, ...]

# (name, portable DDL). Append new ones at the end; never edit one that has shipped.
FEATURE_MIGRATIONS: list[tuple[str, str]] = []


def new_id() -> str:
    return secrets.token_hex(12)


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class Database(ABC):
    """Portable access to the feature tables. `transaction()` yields a `Cursorish` whose
    `execute` runs inside one transaction, committed on success, rolled back on error."""

    dialect: str

    @abstractmethod
    def transaction(self) -> AbstractContextManager[Transaction]: ...

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement in its own transaction; returns the affected row count."""
        with self.transaction() as tx:
            return tx.execute(sql, params)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        with self.transaction() as tx:
            return tx.query(sql, params)

    def query_one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        rows = self.query(sql, params)
        return rows[0] if rows else None


class Transaction(ABC):
    @abstractmethod
    def execute(self, sql: str, params: Sequence[Any] = ()) -> int: ...

    @abstractmethod
    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]: ...

    def query_one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        rows = self.query(sql, params)
        return rows[0] if rows else None


def split_statements(script: str) -> Iterator[str]:
    """Statements of a portable migration (no triggers or functions: split on `;`)."""
    for statement in script.split(";"):
        if statement.strip():
            yield statement.strip()
