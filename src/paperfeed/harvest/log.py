"""The harvest log: one row per harvest run (what, when, how many, how it ended), in the
`harvest_log` feature table. A run writes its row as `running` first, so a run killed outright
leaves a trace; the next run of that source marks such rows `interrupted`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from paperfeed.store.db import Database, new_id

RUNNING, OK, FAILED, INTERRUPTED = "running", "ok", "failed", "interrupted"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


@dataclass
class HarvestLogEntry:
    id: str
    source: str
    params: dict[str, Any]
    started_at: str
    finished_at: str | None
    status: str
    counts: dict[str, int] = field(default_factory=dict)
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "params": self.params,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "status": self.status,
            "counts": self.counts,
            "error": self.error,
        }


class HarvestLog:
    def __init__(self, db: Database) -> None:
        self.db = db

    def start(self, source: str, params: dict[str, Any]) -> str:
        entry_id = new_id()
        self.db.execute(
            "INSERT INTO harvest_log (id, source, params, started_at, status, counts) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (entry_id, source, _json(params), _now(), RUNNING, "{}"),
        )
        return entry_id

    def finish(
        self, entry_id: str, counts: dict[str, int], error: str | None = None
    ) -> None:
        self.db.execute(
            "UPDATE harvest_log SET finished_at = ?, status = ?, counts = ?, error = ? "
            "WHERE id = ?",
            (_now(), FAILED if error else OK, _json(counts), error, entry_id),
        )

    def record_failure(self, source: str, params: dict[str, Any], error: str) -> None:
        """A run that failed before it could start (e.g. the source was locked)."""
        self.finish(self.start(source, params), {}, error)

    def mark_interrupted(self, source: str) -> int:
        """Rows of `source` still `running`: their process died (call while holding the lock)."""
        return self.db.execute(
            "UPDATE harvest_log SET status = ?, error = ? WHERE source = ? AND status = ?",
            (INTERRUPTED, "the harvest was interrupted before it finished", source, RUNNING),
        )

    def entries(self, limit: int = 10, source: str | None = None) -> list[HarvestLogEntry]:
        where, params = ("WHERE source = ? ", [source]) if source else ("", [])
        rows = self.db.query(
            "SELECT id, source, params, started_at, finished_at, status, counts, error "
            f"FROM harvest_log {where}ORDER BY started_at DESC, id DESC LIMIT ?",
            [*params, limit],
        )
        return [
            HarvestLogEntry(r[0], r[1], orjson.loads(r[2]), r[3], r[4], r[5], orjson.loads(r[6]), r[7])
            for r in rows
        ]

    def latest_by_source(self) -> dict[str, HarvestLogEntry]:
        """The newest run of each source."""
        latest: dict[str, HarvestLogEntry] = {}
        for source in [r[0] for r in self.db.query("SELECT DISTINCT source FROM harvest_log")]:
            latest[source] = self.entries(1, source)[0]
        return dict(sorted(latest.items()))


def _json(value: Any) -> str:
    return orjson.dumps(value, default=str).decode()
