"""The embedded default engine: one SQLite file (`store`), its FTS5 keyword index (`keyword`),
bulk loads that index on the other core (`bulk`), vectors in the same file (`vectors`), all
opened together as a `backend.SQLiteBackend`."""

from paperfeed.store.sqlite.store import SQLiteStore

__all__ = ["SQLiteStore"]
