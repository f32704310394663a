"""What every SQL backend does the same way, written once: the reads and writes whose SQL is
portable (`?` placeholders, run through the backend's `Database`, see `store.db`). A backend
names its integer key column and how it orders ids; engine-specific work (merging writes,
keyword search, bulk loads, vectors) stays in its own package."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import ClassVar, Literal

import orjson

from paperfeed.records import Paper
from paperfeed.store.base import Filters, ImportLogEntry, Store
from paperfeed.store.rows import COLUMNS, row_to_paper
from paperfeed.store.rows import day as to_day


class SqlStore(Store):
    """A `Store` over a papers table of `store.rows.COLUMNS`, keyed by `key_column`."""

    key_column: ClassVar[str]  # the integer key vectors and hybrid search know a paper by
    id_order: ClassVar[str] = "id"  # ids ordered byte-wise (PostgreSQL needs COLLATE "C")
    no_limit: ClassVar[int | None] = None  # the LIMIT meaning "all rows"

    @property
    def select_sql(self) -> str:
        """`SELECT key, <COLUMNS> FROM papers`: the rows `store.rows.row_to_paper` reads."""
        return f"SELECT {self.key_column}, " + ", ".join(COLUMNS) + " FROM papers"

    # -- reads --------------------------------------------------------------------------------

    def get(self, paper_id: str) -> Paper | None:
        row = self.db.query_one(f"{self.select_sql} WHERE id = ?", (paper_id,))
        return row_to_paper(row) if row else None

    def find_by_title_key(self, key: str) -> list[Paper]:
        rows = self.db.query(
            f"{self.select_sql} WHERE title_key = ? ORDER BY {self.key_column}", (key,)
        )
        return [row_to_paper(r) for r in rows]

    def keyword_search(
        self,
        terms: Sequence[str],
        *,
        limit: int = 10,
        filters: Filters = Filters(),
    ) -> list[tuple[Paper, float]]:
        """`keyword_keys` with the papers fetched."""
        found = self.keyword_keys(terms, limit=limit, filters=filters)
        papers = self.get_by_keys([k for k, _ in found])
        return [(papers[k], s) for k, s in found if k in papers]

    def papers_between(
        self, start: date, end: date, *, limit: int | None = None, offset: int = 0
    ) -> list[Paper]:
        rows = self.db.query(
            f"{self.select_sql} WHERE day BETWEEN ? AND ? "
            f"ORDER BY coalesce(upvotes, 0) DESC, day DESC, {self.id_order} LIMIT ? OFFSET ?",
            (start.isoformat(), end.isoformat(), self.no_limit if limit is None else limit, offset),
        )
        return [row_to_paper(r) for r in rows]

    def papers_undated(self, *, limit: int = 50, offset: int = 0) -> list[Paper]:
        rows = self.db.query(
            f"{self.select_sql} WHERE day IS NULL "
            f"ORDER BY coalesce(upvotes, 0) DESC, {self.id_order} LIMIT ? OFFSET ?",
            (limit, offset),
        )
        return [row_to_paper(r) for r in rows]

    def papers_added_between(
        self, after: str, until: str, *, limit: int = 10_000
    ) -> list[tuple[Paper, str]]:
        """Papers that arrived in the store (`added_at`, ISO UTC) in (after, until], newest
        first, with their arrival time: the candidates of an email digest."""
        rows = self.db.query(
            f"{self.select_sql.replace(' FROM papers', ', added_at FROM papers')} "
            f"WHERE added_at > ? AND added_at <= ? ORDER BY added_at DESC, {self.key_column} DESC "
            "LIMIT ?",
            (after, until, limit),
        )
        return [(row_to_paper(r[:-1]), r[-1]) for r in rows]

    def latest_day(self, on_or_before: date | None = None) -> date | None:
        if on_or_before is None:
            row = self.db.query_one("SELECT max(day) FROM papers")
        else:
            row = self.db.query_one(
                "SELECT max(day) FROM papers WHERE day <= ?", (on_or_before.isoformat(),)
            )
        return to_day(row[0]) if row else None

    def adjacent_day(self, day: date, direction: Literal[-1, 1]) -> date | None:
        sql = (
            "SELECT max(day) FROM papers WHERE day < ?"
            if direction < 0
            else "SELECT min(day) FROM papers WHERE day > ?"
        )
        row = self.db.query_one(sql, (day.isoformat(),))
        return to_day(row[0]) if row else None

    def count(self) -> int:
        row = self.db.query_one("SELECT count(*) FROM papers")
        return row[0] if row else 0

    # -- import log and service state ---------------------------------------------------------

    def log_import(self, entry: ImportLogEntry) -> None:
        self.db.execute(
            "INSERT INTO import_log (source, started_at, finished_at, counts, error) "
            "VALUES (?, ?, ?, ?, ?)",
            (
                entry.source,
                entry.started_at.isoformat(timespec="seconds"),
                entry.finished_at.isoformat(timespec="seconds") if entry.finished_at else None,
                orjson.dumps(entry.counts).decode(),
                entry.error,
            ),
        )

    def import_log(self, limit: int = 10) -> list[ImportLogEntry]:
        rows = self.db.query(
            "SELECT source, started_at, finished_at, counts, error FROM import_log "
            f"ORDER BY {self.key_column} DESC LIMIT ?",
            (limit,),
        )
        return [
            ImportLogEntry(
                source=r[0],
                started_at=datetime.fromisoformat(r[1]),
                finished_at=datetime.fromisoformat(r[2]) if r[2] else None,
                counts=orjson.loads(r[3]),
                error=r[4],
            )
            for r in rows
        ]

    def get_meta(self, key: str) -> str | None:
        row = self.db.query_one("SELECT value FROM meta WHERE key = ?", (key,))
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )
