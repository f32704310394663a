"""The SQLite engine as a `Backend`: the store file, its vectors table, and an ANN index file
beside the database."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from paperfeed.config import Config
from paperfeed.embed.engine import SemanticEngine
from paperfeed.store.backend import Backend
from paperfeed.store.sqlite.store import SQLiteStore
from paperfeed.store.sqlite.vectors import SQLiteVectorSets


class SQLiteBackend(Backend):
    store: SQLiteStore

    @classmethod
    def open(cls, config: Config) -> SQLiteBackend:
        store = SQLiteStore(config.sqlite_path)
        directory = store.path.with_name(store.path.name + ".vectors")
        sets = SQLiteVectorSets(store)
        return cls(store, SemanticEngine(sets, directory, config.encoder, config.quality_encoder))

    def migrate_rows(self) -> int:
        from paperfeed.migrate import rows_to_copy  # the one module that knows both engines

        return rows_to_copy(self.store)

    def migrate_to(self, url: str, progress: Callable[[int], None] | None = None) -> dict[str, Any]:
        from paperfeed.migrate import migrate

        self.semantic.save()
        return migrate(self.store, url, progress).to_dict()
