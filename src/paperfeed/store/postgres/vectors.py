"""The PostgreSQL implementation of `VectorStore`: pgvector `halfvec` columns (float16, like the
SQLite blobs) with an HNSW index (inner product on unit vectors) inside the database.

On PostgreSQL the database *is* the ANN index: `nearest` runs the k-nearest query in SQL (with the
filters applied during the HNSW scan: pgvector 0.8's iterative scans), so every app server sees
the same index and there is no index file to keep in step. `own_index` gives the engine a
`PgIndex`, a stand-in for `embed.index.VectorIndex` whose upkeep is the database's.

Each encoder's set is its own table (`vec_<encoder>`, made when the set is, because the column's
dimension is the encoder's) with its own HNSW index; meta keys as on SQLite
(`store.sqlite.vectors`). A database made before sets existed has one `embeddings` table: opening
it renames that table to its encoder's set and makes it active.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import numpy as np

from paperfeed.embed.vectors import Fingerprint
from paperfeed.store.base import Filters
from paperfeed.store.postgres import data_version
from paperfeed.store.postgres.sql import pg_filter_sql
from paperfeed.store.postgres.store import PostgresStore
from paperfeed.store.vector_common import (
    SET_KEY,
    SqlVectors,
    SqlVectorSets,
    adopt_legacy_table,
    table_name,
)

__all__ = ["HNSW_EF_CONSTRUCTION", "HNSW_M", "PgIndex", "PgVectorSets", "PgVectors", "table_name"]

ENCODER_LOCK = 0x7061706574
EMBEDDER_LOCK = 0x7061706575
# HNSW build and search parameters (the same M as the SQLite backend's faiss index; pgvector's defaults
# otherwise). ef_search 100 with iterative scans gives recall@10 close to exact (BENCHMARKS.md).
HNSW_M = 16
HNSW_EF_CONSTRUCTION = 64
HNSW_EF_SEARCH = 100
MAX_SCAN_TUPLES = 40_000


def _halfvec(vector: np.ndarray) -> Any:
    from pgvector import HalfVector

    return HalfVector(np.asarray(vector, dtype=np.float32))


def _keep_set_table(conn: Any, table: str) -> None:
    """What a set table has besides its rows, the parts it does not have yet: its indexes
    (write numbers, HNSW) and its trigger moving the store's data version (the search cache's
    key)."""
    conn.execute(f"CREATE INDEX IF NOT EXISTS {table}_seq ON {table}(seq)")
    conn.execute(
        f"CREATE INDEX IF NOT EXISTS {table}_hnsw ON {table} USING hnsw (vector halfvec_ip_ops) "
        f"WITH (m = {HNSW_M}, ef_construction = {HNSW_EF_CONSTRUCTION})"
    )
    data_version.keep_set(conn, table)


class AdvisoryLock:
    """A session-level advisory lock on a connection of its own (released with it, so a killed
    holder never leaves it taken)."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    def release(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class PgVectorSets(SqlVectorSets):
    store: PostgresStore

    def _upgrade(self) -> None:
        if not self.store.query("SELECT to_regclass('embeddings') IS NOT NULL")[0][0]:
            return
        with self.store.transaction() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (ENCODER_LOCK,))
            if not conn.execute("SELECT to_regclass('embeddings') IS NOT NULL").fetchone()[0]:
                return

            def rename(table: str) -> None:
                conn.execute(f"ALTER TABLE embeddings RENAME TO {table}")
                conn.execute(f"ALTER INDEX IF EXISTS embeddings_seq RENAME TO {table}_seq")
                conn.execute(f"ALTER INDEX IF EXISTS embeddings_hnsw RENAME TO {table}_hnsw")
                # `paperfeed migrate` of the one-table version dropped the HNSW index while it
                # copied vectors and made it at the end: an interrupted run left a table
                # without it, which the set must not inherit (nor lack its trigger).
                _keep_set_table(conn, table)

            adopt_legacy_table(conn, "%s", rename)

    def names(self) -> list[str]:
        rows = self.store.query(
            "SELECT substr(key, %s) FROM meta WHERE starts_with(key, %s) ORDER BY key",
            (len(SET_KEY) + 1, SET_KEY),
        )
        return [r[0] for r in rows]

    def _hold_papers(self, tx: Any) -> None:
        tx.execute("LOCK TABLE papers IN SHARE MODE")

    def try_embedder_lock(self) -> AdvisoryLock | None:
        import psycopg

        conn = psycopg.connect(self.store.url, autocommit=True)
        got = conn.execute("SELECT pg_try_advisory_lock(%s)", (EMBEDDER_LOCK,)).fetchone()
        if not (got and got[0]):
            conn.close()
            return None
        return AdvisoryLock(conn)


class PgVectors(SqlVectors):
    """A set's table of pgvector `halfvec`s with its HNSW index."""

    ph = "%s"
    key_column = "pk"
    ref_column = "paper_pk"
    store: PostgresStore

    def __init__(self, store: PostgresStore, name: str) -> None:
        super().__init__(store, name)
        self._table = False

    def _has_table(self, conn: Any = None) -> bool:
        """Whether the set's table exists (once it does, it stays until the set is dropped),
        remembered to save a round trip per query. `conn`: a transaction's connection to ask on
        (else the store's `query`)."""
        if not self._table:
            sql = f"SELECT to_regclass('{self.table}') IS NOT NULL"
            self._table = conn.execute(sql).fetchone()[0] if conn is not None else self.store.query(sql)[0][0]
        return self._table

    def encoder(self) -> tuple[str, int] | None:
        value = self.store.get_meta(SET_KEY + self.name)
        return (self.name, int(value)) if value else None

    def _create_table(self, conn: Any, dim: int) -> None:
        t = self.table
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (ENCODER_LOCK,))
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS {t} (paper_pk BIGINT PRIMARY KEY REFERENCES papers(pk) "
            f"ON DELETE CASCADE, seq BIGINT NOT NULL, vector halfvec({int(dim)}) NOT NULL)"
        )
        _keep_set_table(conn, t)

    # -- the backend's spellings ----------------------------------------------------------------

    def _encode(self, vector: np.ndarray) -> Any:
        return _halfvec(vector)

    def _decode_rows(self, values: Sequence[Any]) -> np.ndarray:
        return np.stack([np.asarray(v.to_numpy() if hasattr(v, "to_numpy") else v, dtype=np.float32)
                         for v in values])

    def _in(self, column: str, values: Sequence[Any]) -> Iterator[tuple[str, list[Any]]]:
        yield f"{column} = ANY(%s)", [list(values)]

    def _filters(self, filters: Filters) -> tuple[str, list[Any]]:
        return pg_filter_sql(filters)

    def _read(self, sql: str, params: Sequence[Any]) -> list[Any]:
        return self.store.query(sql, params, binary=True)  # halfvec's text form is slow to parse

    @contextmanager
    def _snapshot_tx(self) -> Iterator[Any]:
        with self.store.transaction() as conn:
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            yield conn

    def _snapshot(self) -> AbstractContextManager[Any]:
        return self._snapshot_tx()

    def _next_seq(self, conn: Any) -> int:
        """One more than the last write's number, atomically (concurrent writers serialise on
        the meta row)."""
        return int(
            conn.execute(
                "INSERT INTO meta (key, value) VALUES (%s, '1') ON CONFLICT (key) "
                "DO UPDATE SET value = (meta.value::bigint + 1)::text RETURNING value",
                (self._seq_key,),
            ).fetchone()[0]
        )

    def _scan_settings(self, conn: Any, k: int) -> None:
        """The HNSW scan's settings for k neighbours, local to the transaction (one round trip)."""
        conn.execute(
            "SELECT set_config('hnsw.ef_search', %s, true), "
            "set_config('hnsw.iterative_scan', 'relaxed_order', true), "
            "set_config('hnsw.max_scan_tuples', %s, true)",
            (str(max(HNSW_EF_SEARCH, min(k, 1000))), str(MAX_SCAN_TUPLES)),
        )

    # -- the database as the ANN index ------------------------------------------------------------

    def nearest(
        self,
        vector: np.ndarray,
        k: int,
        filters: Filters = Filters(),
        exclude: frozenset[int] | set[int] = frozenset(),
    ) -> list[tuple[int, str, float]]:
        """(key, paper id, cosine) of the k nearest papers passing the filters: one HNSW scan in
        the database, filters applied while scanning (iterative scan, so a selective filter
        still fills k)."""
        if k <= 0:
            return []
        where, params = pg_filter_sql(filters)
        query = _halfvec(vector)
        with self.store.transaction() as conn:
            if not self._has_table(conn):
                return []
            self._scan_settings(conn, k)
            rows = conn.execute(
                f"SELECT e.paper_pk, p.id, -(e.vector <#> %s) AS sim FROM {self.table} e "
                f"JOIN papers p ON p.pk = e.paper_pk WHERE NOT (e.paper_pk = ANY(%s)){where} "
                "ORDER BY e.vector <#> %s LIMIT %s",
                [query, [int(x) for x in exclude], *params, query, k],
            ).fetchall()
        # relaxed_order may return neighbours slightly out of order: sort by the exact cosine.
        return sorted(((r[0], r[1], float(r[2])) for r in rows), key=lambda r: -r[2])

    def nearest_many(self, vectors: np.ndarray, k: int) -> list[list[tuple[int, float]]]:
        """(key, cosine) of the k nearest papers to each row of `vectors`, unfiltered: one round
        trip, a UNION ALL of one HNSW scan per row (each branch ordered and limited on its own,
        so each uses the index)."""
        queries = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
        out: list[list[tuple[int, float]]] = [[] for _ in range(len(queries))]
        if k <= 0 or not len(queries):
            return out
        branch = (
            f"(SELECT %s AS q, e.paper_pk, -(e.vector <#> %s) AS sim FROM {self.table} e "
            "ORDER BY e.vector <#> %s LIMIT %s)"
        )
        params: list[Any] = []
        for i, row in enumerate(queries):
            vec = _halfvec(row)
            params.extend([i, vec, vec, k])
        with self.store.transaction() as conn:
            if not self._has_table(conn):
                return out
            self._scan_settings(conn, k)
            rows = conn.execute(" UNION ALL ".join([branch] * len(queries)), params).fetchall()
        for q, key, sim in rows:
            out[int(q)].append((int(key), float(sim)))
        for found in out:  # relaxed_order: sort each by the exact cosine
            found.sort(key=lambda r: -r[1])
        return out

    def own_index(self, encoder: str, dim: int) -> PgIndex:
        return PgIndex(self, encoder, dim)


class PgIndex:
    """What the engine holds as its index on PostgreSQL: the HNSW index lives in the database and
    is kept by it, so adding, syncing and saving are nothing to do here."""

    def __init__(self, vectors: PgVectors, encoder: str, dim: int) -> None:
        self.vectors = vectors
        self.encoder = encoder
        self.dim = dim
        self.rebuilt = 0

    def search(self, vector: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        found = self.vectors.nearest(vector, k)
        return (
            np.array([f[0] for f in found], dtype=np.uint64),
            np.array([f[2] for f in found], dtype=np.float32),
        )

    def search_many(self, vectors: np.ndarray, k: int) -> list[tuple[np.ndarray, np.ndarray]]:
        return [
            (np.array([f[0] for f in row], dtype=np.uint64),
             np.array([f[1] for f in row], dtype=np.float32))
            for row in self.vectors.nearest_many(vectors, k)
        ]

    def vectors_of(self, keys: Sequence[int]) -> None:
        """None: no vector is held in memory here; the engine reads them from the database."""
        return None

    def __len__(self) -> int:
        return self.vectors.fingerprint().count

    def ready(self) -> PgIndex:
        return self

    def sync(self) -> None:
        return None

    def rebuild(self, truth: Fingerprint | None = None) -> None:
        self.vectors.store.execute(f"REINDEX INDEX {self.vectors.table}_hnsw")
        self.rebuilt += 1

    def add(self, keys: np.ndarray, vectors: np.ndarray, seq: int) -> None:
        return None

    def save(self) -> None:
        return None

    def close(self) -> None:
        return None


PgVectorSets.vectors_class = PgVectors  # defined after the sets class that makes them
