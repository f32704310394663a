"""Small persistent harvest state (the `harvest_state` feature table): the incremental mark of a
source ("harvested up to this datestamp") and the checkpoint of a list in progress."""

from __future__ import annotations

from typing import Any

import orjson

from paperfeed.store.db import Database, now_iso


class HarvestState:
    def __init__(self, db: Database) -> None:
        self.db = db

    def get(self, key: str) -> Any:
        row = self.db.query_one("SELECT value FROM harvest_state WHERE key = ?", (key,))
        return orjson.loads(row[0]) if row else None

    def set(self, key: str, value: Any) -> None:
        self.db.execute(
            "INSERT INTO harvest_state (key, value, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            (key, orjson.dumps(value).decode(), now_iso()),
        )

    def delete(self, key: str) -> None:
        self.db.execute("DELETE FROM harvest_state WHERE key = ?", (key,))
