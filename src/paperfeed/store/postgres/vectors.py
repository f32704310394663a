"""The PostgreSQL implementation of `VectorStore`: pgvector `halfvec` columns (float16, like the
SQLite blobs) with an HNSW index (inner product on unit vectors) inside the database.

On PostgreSQL the database *is* the ANN index: `nearest` runs the k-nearest query in SQL (with the
filters applied during the HNSW scan: pgvector 0.8's iterative scans), so every app server sees
the same index and there is no index file to keep in step. `own_index` gives the engine a
`PgIndex`, a stand-in for `embed.index.VectorIndex` whose upkeep is the database's.

The embeddings table is made when an encoder is chosen, because the column's dimension is the
encoder's; choosing another encoder drops and remakes it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from paperfeed.embed.vectors import Fingerprint, VectorStore
from paperfeed.store.base import Filters
from paperfeed.store.postgres.sql import pg_filter_sql
from paperfeed.store.postgres.store import PostgresStore

ENCODER_KEY = "vector_encoder"
SEQ_KEY = "vector_seq"
ENCODER_LOCK = 0x7061706574
# HNSW build and search parameters (the same M as the hnswlib index; pgvector's defaults
# otherwise). ef_search 100 with iterative scans gives recall@10 close to exact (BENCHMARKS.md).
HNSW_M = 16
HNSW_EF_CONSTRUCTION = 64
HNSW_EF_SEARCH = 100
MAX_SCAN_TUPLES = 40_000


def _halfvec(vector: np.ndarray) -> Any:
    from pgvector import HalfVector

    return HalfVector(np.asarray(vector, dtype=np.float32))


def _to_numpy(values: Sequence[Any], dim: int) -> np.ndarray:
    if not values:
        return np.zeros((0, dim), dtype=np.float32)
    return np.stack([np.asarray(v.to_numpy() if hasattr(v, "to_numpy") else v, dtype=np.float32)
                     for v in values])


class PgVectors(VectorStore):
    def __init__(self, store: PostgresStore) -> None:
        self.store = store
        self._table = False

    @property
    def _dim(self) -> int:
        enc = self.encoder()
        return enc[1] if enc else 0

    def _has_table(self, conn: Any = None) -> bool:
        """Whether the embeddings table exists (once it does, it always will: another encoder
        replaces it in one transaction), remembered to save a round trip per query. `conn`: a
        transaction's connection to ask on (else the store's `query`)."""
        if not self._table:
            sql = "SELECT to_regclass('embeddings') IS NOT NULL"
            self._table = conn.execute(sql).fetchone()[0] if conn is not None else self.store.query(sql)[0][0]
        return self._table

    # -- the encoder of record ------------------------------------------------------------------

    def encoder(self) -> tuple[str, int] | None:
        value = self.store.get_meta(ENCODER_KEY)
        if not value:
            return None
        name, _, dim = value.partition(":")
        return name, int(dim or 0)

    def set_encoder(self, name: str, dim: int) -> bool:
        current = self.encoder()
        if current == (name, dim):
            return False
        with self.store.transaction() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (ENCODER_LOCK,))
            dropped = 0
            if self._has_table(conn):
                dropped = conn.execute("SELECT count(*) FROM embeddings").fetchone()[0]
                conn.execute("DROP TABLE embeddings")
            conn.execute(
                f"CREATE TABLE embeddings (paper_pk BIGINT PRIMARY KEY REFERENCES papers(pk) "
                f"ON DELETE CASCADE, seq BIGINT NOT NULL, vector halfvec({int(dim)}) NOT NULL)"
            )
            conn.execute("CREATE INDEX embeddings_seq ON embeddings(seq)")
            conn.execute(
                "CREATE INDEX embeddings_hnsw ON embeddings USING hnsw (vector halfvec_ip_ops) "
                f"WITH (m = {HNSW_M}, ef_construction = {HNSW_EF_CONSTRUCTION})"
            )
            self._next_seq(conn)
            conn.execute(
                "INSERT INTO meta (key, value) VALUES (%s, %s) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (ENCODER_KEY, f"{name}:{dim}"),
            )
        return current is not None and dropped > 0

    # -- what needs embedding -------------------------------------------------------------------

    def count_missing(self) -> int:
        if not self._has_table():
            return self.store.query("SELECT count(*) FROM papers")[0][0]
        return self.store.query(
            "SELECT count(*) FROM papers p WHERE NOT EXISTS "
            "(SELECT 1 FROM embeddings e WHERE e.paper_pk = p.pk)"
        )[0][0]

    def missing(self, limit: int, after_key: int = 0) -> list[tuple[int, str, str]]:
        gone = (
            " AND NOT EXISTS (SELECT 1 FROM embeddings e WHERE e.paper_pk = p.pk)"
            if self._has_table() else ""
        )
        return self.store.query(
            f"SELECT p.pk, p.title, p.abstract FROM papers p WHERE p.pk > %s{gone} "
            "ORDER BY p.pk LIMIT %s",
            (after_key, limit),
        )

    def texts(self, ids: Sequence[str]) -> list[tuple[int, str, str]]:
        gone = (
            " AND NOT EXISTS (SELECT 1 FROM embeddings e WHERE e.paper_pk = p.pk)"
            if self._has_table() else ""
        )
        return self.store.query(
            f"SELECT p.pk, p.title, p.abstract FROM papers p WHERE p.id = ANY(%s){gone} "
            "ORDER BY p.pk",
            (list(ids),),
        )

    # -- writing --------------------------------------------------------------------------------

    def put(self, keys: Sequence[int], vectors: np.ndarray) -> int:
        with self.store.transaction() as conn:
            seq = self._next_seq(conn)
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO embeddings (paper_pk, seq, vector) "
                    "SELECT %s, %s, %s WHERE EXISTS (SELECT 1 FROM papers WHERE pk = %s) "
                    "ON CONFLICT (paper_pk) DO UPDATE SET seq = excluded.seq, vector = excluded.vector",
                    [(int(k), seq, _halfvec(v), int(k)) for k, v in zip(keys, vectors, strict=True)],
                )
        return seq

    @staticmethod
    def _next_seq(conn: Any) -> int:
        """One more than the last write's number, atomically (concurrent writers serialise on
        the meta row)."""
        return int(
            conn.execute(
                "INSERT INTO meta (key, value) VALUES (%s, '1') ON CONFLICT (key) "
                "DO UPDATE SET value = (meta.value::bigint + 1)::text RETURNING value",
                (SEQ_KEY,),
            ).fetchone()[0]
        )

    # -- reading --------------------------------------------------------------------------------

    def latest_seq(self) -> int:
        value = self.store.get_meta(SEQ_KEY)
        return int(value) if value else 0

    def fingerprint(self) -> Fingerprint:
        with self.store.transaction() as conn:
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            count = conn.execute("SELECT count(*) FROM embeddings").fetchone()[0] if (
                self._has_table(conn)) else 0
            row = conn.execute("SELECT value FROM meta WHERE key = %s", (SEQ_KEY,)).fetchone()
        return Fingerprint(count, int(row[0]) if row else 0)

    def iter_vectors(
        self, after_seq: int = 0, batch: int = 50_000
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        dim = self._dim
        last = 0
        while True:
            if not self._has_table():
                return
            rows = self.store.query(
                "SELECT paper_pk, vector FROM embeddings WHERE paper_pk > %s AND seq > %s "
                "ORDER BY paper_pk LIMIT %s",
                (last, after_seq, batch),
                binary=True,  # halfvec in binary: parsing its text form is slow
            )
            if not rows:
                return
            last = rows[-1][0]
            yield np.array([r[0] for r in rows], dtype=np.uint64), _to_numpy([r[1] for r in rows], dim)

    def get_vectors(self, keys: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        rows = self.store.query(
            "SELECT paper_pk, vector FROM embeddings WHERE paper_pk = ANY(%s)",
            ([int(k) for k in keys],),
            binary=True,
        ) if self._has_table() else []
        return np.array([r[0] for r in rows], dtype=np.uint64), _to_numpy(
            [r[1] for r in rows], self._dim
        )

    def keys_of(self, ids: Sequence[str]) -> dict[str, int]:
        return dict(self.store.query("SELECT id, pk FROM papers WHERE id = ANY(%s)", (list(ids),)))

    def ids_of(self, keys: Sequence[int], filters: Filters = Filters()) -> dict[int, str]:
        where, params = pg_filter_sql(filters)
        return dict(
            self.store.query(
                f"SELECT p.pk, p.id FROM papers p WHERE p.pk = ANY(%s){where}",
                [[int(k) for k in keys], *params],
            )
        )

    def count_filtered(self, filters: Filters, cap: int) -> int:
        where, params = pg_filter_sql(filters)
        return self.store.query(
            "SELECT count(*) FROM (SELECT 1 FROM papers p JOIN embeddings e "
            f"ON e.paper_pk = p.pk WHERE true{where} LIMIT %s) m",
            [*params, cap],
        )[0][0]

    def filtered_vectors(self, filters: Filters) -> tuple[np.ndarray, np.ndarray]:
        where, params = pg_filter_sql(filters)
        rows = self.store.query(
            "SELECT e.paper_pk, e.vector FROM papers p JOIN embeddings e "
            f"ON e.paper_pk = p.pk WHERE true{where}",
            params,
            binary=True,
        )
        return np.array([r[0] for r in rows], dtype=np.uint64), _to_numpy(
            [r[1] for r in rows], self._dim
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
            conn.execute(  # one round trip for the three settings (local to this transaction)
                "SELECT set_config('hnsw.ef_search', %s, true), "
                "set_config('hnsw.iterative_scan', 'relaxed_order', true), "
                "set_config('hnsw.max_scan_tuples', %s, true)",
                (str(max(HNSW_EF_SEARCH, min(k, 1000))), str(MAX_SCAN_TUPLES)),
            )
            rows = conn.execute(
                "SELECT e.paper_pk, p.id, -(e.vector <#> %s) AS sim FROM embeddings e "
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
            "(SELECT %s AS q, e.paper_pk, -(e.vector <#> %s) AS sim FROM embeddings e "
            "ORDER BY e.vector <#> %s LIMIT %s)"
        )
        params: list[Any] = []
        for i, row in enumerate(queries):
            vec = _halfvec(row)
            params.extend([i, vec, vec, k])
        with self.store.transaction() as conn:
            if not self._has_table(conn):
                return out
            conn.execute(
                "SELECT set_config('hnsw.ef_search', %s, true), "
                "set_config('hnsw.iterative_scan', 'relaxed_order', true), "
                "set_config('hnsw.max_scan_tuples', %s, true)",
                (str(max(HNSW_EF_SEARCH, min(k, 1000))), str(MAX_SCAN_TUPLES)),
            )
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

    def __len__(self) -> int:
        return self.vectors.fingerprint().count

    def ready(self) -> PgIndex:
        return self

    def sync(self) -> None:
        return None

    def rebuild(self, truth: Fingerprint | None = None) -> None:
        self.vectors.store.execute("REINDEX INDEX embeddings_hnsw")
        self.rebuilt += 1

    def add(self, keys: np.ndarray, vectors: np.ndarray, seq: int) -> None:
        return None

    def save(self) -> None:
        return None

    def close(self) -> None:
        return None
