"""The PostgreSQL engine, for several app servers on one database and millions of papers: the
store (`store`), its keyword search (`keyword`), SQL spelling (`sql`), vectors in pgvector
(`vectors`), opened together as a `backend.PostgresBackend`. psycopg is imported only when this
package is."""

from paperfeed.store.postgres.store import PostgresStore

__all__ = ["PostgresStore"]
