"""`open_backend(config)`: the storage engine a configuration names (`sqlite:///…`, the default,
or `postgresql://…`). Each engine's package is imported only when it is used, so an SQLite library
never loads psycopg."""

from __future__ import annotations

from paperfeed.config import Config
from paperfeed.store.backend import Backend


def open_backend(config: Config) -> Backend:
    """The store and vector engine of `config.database_url` (or the SQLite file in its home)."""
    if config.is_postgres:
        from paperfeed.store.postgres.backend import PostgresBackend

        return PostgresBackend.open(config)
    from paperfeed.store.sqlite.backend import SQLiteBackend

    return SQLiteBackend.open(config)
