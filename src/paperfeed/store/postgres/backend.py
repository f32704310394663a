"""The PostgreSQL engine as a `Backend`: the store on a connection pool, its vectors and their
HNSW index in pgvector (so there is no index file; `<home>/vectors` only holds encoder files)."""

from __future__ import annotations

from paperfeed.config import Config
from paperfeed.embed.engine import SemanticEngine
from paperfeed.store.backend import Backend
from paperfeed.store.postgres.store import PostgresStore
from paperfeed.store.postgres.vectors import PgVectorSets


class PostgresBackend(Backend):
    store: PostgresStore

    @classmethod
    def open(cls, config: Config) -> PostgresBackend:
        store = PostgresStore(config.database_url or "")
        sets = PgVectorSets(store)
        return cls(store, SemanticEngine(sets, config.home / "vectors", config.encoder,
                                         config.quality_encoder))
