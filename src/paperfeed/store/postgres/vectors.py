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
from typing import Any

import numpy as np

from paperfeed.embed.vectors import Fingerprint, VectorSets, VectorStore
from paperfeed.store.base import Filters
from paperfeed.store.postgres.sql import pg_filter_sql
from paperfeed.store.postgres.store import PostgresStore

ENCODER_KEY = "vector_encoder"  # before sets: the one encoder of the `embeddings` table
LEGACY_SEQ_KEY = "vector_seq"
SET_KEY = "vector_set:"
SEQ_KEY = "vector_seq:"
ACTIVE_KEY = "vector_active"
ENCODER_LOCK = 0x7061706574
EMBEDDER_LOCK = 0x7061706575
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


def table_name(encoder: str) -> str:
    return "vec_" + "".join(c if c.isalnum() else "_" for c in encoder)


def _upsert_meta(conn: Any, key: str, value: str) -> None:
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (%s, %s) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (key, value),
    )


class AdvisoryLock:
    """A session-level advisory lock on a connection of its own (released with it, so a killed
    holder never leaves it taken)."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    def release(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class PgVectorSets(VectorSets):
    def __init__(self, store: PostgresStore) -> None:
        self.store = store
        self._sets: dict[str, PgVectors] = {}
        self._upgrade()

    def _upgrade(self) -> None:
        if not self.store.query("SELECT to_regclass('embeddings') IS NOT NULL")[0][0]:
            return
        with self.store.transaction() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (ENCODER_LOCK,))
            if not conn.execute("SELECT to_regclass('embeddings') IS NOT NULL").fetchone()[0]:
                return
            row = conn.execute("SELECT value FROM meta WHERE key = %s", (ENCODER_KEY,)).fetchone()
            seq = conn.execute("SELECT value FROM meta WHERE key = %s", (LEGACY_SEQ_KEY,)).fetchone()
            if not row:
                conn.execute("DROP TABLE embeddings")
                return
            name, _, dim = row[0].partition(":")
            table = table_name(name)
            conn.execute(f"ALTER TABLE embeddings RENAME TO {table}")
            conn.execute(f"ALTER INDEX IF EXISTS embeddings_seq RENAME TO {table}_seq")
            conn.execute(f"ALTER INDEX IF EXISTS embeddings_hnsw RENAME TO {table}_hnsw")
            _upsert_meta(conn, SET_KEY + name, dim)
            _upsert_meta(conn, SEQ_KEY + name, seq[0] if seq else "0")
            _upsert_meta(conn, ACTIVE_KEY, name)
            conn.execute("DELETE FROM meta WHERE key IN (%s, %s)", (ENCODER_KEY, LEGACY_SEQ_KEY))

    def open_set(self, encoder: str) -> PgVectors:
        if encoder not in self._sets:
            self._sets[encoder] = PgVectors(self.store, encoder)
        return self._sets[encoder]

    def names(self) -> list[str]:
        rows = self.store.query(
            "SELECT substr(key, %s) FROM meta WHERE starts_with(key, %s) ORDER BY key",
            (len(SET_KEY) + 1, SET_KEY),
        )
        return [r[0] for r in rows]

    def active(self) -> str | None:
        return self.store.get_meta(ACTIVE_KEY)

    def activate(self, encoder: str, *, require_complete: bool = True) -> bool:
        table = table_name(encoder)
        with self.store.transaction() as conn:
            conn.execute("LOCK TABLE papers IN SHARE MODE")  # no paper arrives meanwhile
            if not conn.execute("SELECT 1 FROM meta WHERE key = %s", (SET_KEY + encoder,)).fetchone():
                return False
            if require_complete and conn.execute(
                f"SELECT EXISTS (SELECT 1 FROM papers p WHERE NOT EXISTS "
                f"(SELECT 1 FROM {table} e WHERE e.paper_pk = p.pk))"
            ).fetchone()[0]:
                return False
            _upsert_meta(conn, ACTIVE_KEY, encoder)
        return True

    def drop(self, encoder: str) -> int:
        if self.active() == encoder:
            raise ValueError(f"the active vector set ({encoder}) cannot be dropped")
        table = table_name(encoder)
        with self.store.transaction() as conn:
            if not conn.execute("SELECT 1 FROM meta WHERE key = %s", (SET_KEY + encoder,)).fetchone():
                return 0
            count = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            conn.execute(f"DROP TABLE IF EXISTS {table}")
            conn.execute("DELETE FROM meta WHERE key IN (%s, %s)", (SET_KEY + encoder, SEQ_KEY + encoder))
        self._sets.pop(encoder, None)
        return count

    def try_embedder_lock(self) -> AdvisoryLock | None:
        import psycopg

        conn = psycopg.connect(self.store.url, autocommit=True)
        got = conn.execute("SELECT pg_try_advisory_lock(%s)", (EMBEDDER_LOCK,)).fetchone()
        if not (got and got[0]):
            conn.close()
            return None
        return AdvisoryLock(conn)


class PgVectors(VectorStore):
    def __init__(self, store: PostgresStore, name: str) -> None:
        self.store = store
        self.name = name
        self.table = table_name(name)
        self._seq_key = SEQ_KEY + name
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
            sql = f"SELECT to_regclass('{self.table}') IS NOT NULL"
            self._table = conn.execute(sql).fetchone()[0] if conn is not None else self.store.query(sql)[0][0]
        return self._table

    # -- the encoder of record ------------------------------------------------------------------

    def encoder(self) -> tuple[str, int] | None:
        value = self.store.get_meta(SET_KEY + self.name)
        return (self.name, int(value)) if value else None

    def set_encoder(self, name: str, dim: int) -> bool:
        if name != self.name:
            raise ValueError(f"the {self.name} set cannot hold {name} vectors")
        if self.encoder() is not None:
            return False
        t = self.table
        with self.store.transaction() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (ENCODER_LOCK,))
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {t} (paper_pk BIGINT PRIMARY KEY REFERENCES papers(pk) "
                f"ON DELETE CASCADE, seq BIGINT NOT NULL, vector halfvec({int(dim)}) NOT NULL)"
            )
            conn.execute(f"CREATE INDEX IF NOT EXISTS {t}_seq ON {t}(seq)")
            conn.execute(
                f"CREATE INDEX IF NOT EXISTS {t}_hnsw ON {t} USING hnsw (vector halfvec_ip_ops) "
                f"WITH (m = {HNSW_M}, ef_construction = {HNSW_EF_CONSTRUCTION})"
            )
            conn.execute(
                "INSERT INTO meta (key, value) VALUES (%s, %s) ON CONFLICT (key) DO NOTHING",
                (SET_KEY + name, str(dim)),
            )
            conn.execute(
                "INSERT INTO meta (key, value) VALUES (%s, '0') ON CONFLICT (key) DO NOTHING",
                (self._seq_key,),
            )
        return False

    # -- what needs embedding -------------------------------------------------------------------

    def count_missing(self) -> int:
        if not self._has_table():
            return self.store.query("SELECT count(*) FROM papers")[0][0]
        return self.store.query(
            "SELECT count(*) FROM papers p WHERE NOT EXISTS "
            f"(SELECT 1 FROM {self.table} e WHERE e.paper_pk = p.pk)"
        )[0][0]

    def missing(self, limit: int, after_key: int = 0) -> list[tuple[int, str, str]]:
        gone = (
            f" AND NOT EXISTS (SELECT 1 FROM {self.table} e WHERE e.paper_pk = p.pk)"
            if self._has_table() else ""
        )
        return self.store.query(
            f"SELECT p.pk, p.title, p.abstract FROM papers p WHERE p.pk > %s{gone} "
            "ORDER BY p.pk LIMIT %s",
            (after_key, limit),
        )

    def missing_newest(self, limit: int, before_key: int | None = None) -> list[tuple[int, str, str]]:
        gone = (
            f" AND NOT EXISTS (SELECT 1 FROM {self.table} e WHERE e.paper_pk = p.pk)"
            if self._has_table() else ""
        )
        return self.store.query(
            f"SELECT p.pk, p.title, p.abstract FROM papers p WHERE p.pk < %s{gone} "
            "ORDER BY p.pk DESC LIMIT %s",
            (before_key if before_key is not None else 1 << 62, limit),
        )

    def texts(self, ids: Sequence[str]) -> list[tuple[int, str, str]]:
        gone = (
            f" AND NOT EXISTS (SELECT 1 FROM {self.table} e WHERE e.paper_pk = p.pk)"
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
                    f"INSERT INTO {self.table} (paper_pk, seq, vector) "
                    "SELECT %s, %s, %s WHERE EXISTS (SELECT 1 FROM papers WHERE pk = %s) "
                    "ON CONFLICT (paper_pk) DO UPDATE SET seq = excluded.seq, vector = excluded.vector",
                    [(int(k), seq, _halfvec(v), int(k)) for k, v in zip(keys, vectors, strict=True)],
                )
        return seq

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

    # -- reading --------------------------------------------------------------------------------

    def latest_seq(self) -> int:
        value = self.store.get_meta(self._seq_key)
        return int(value) if value else 0

    def fingerprint(self) -> Fingerprint:
        with self.store.transaction() as conn:
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            count = conn.execute(f"SELECT count(*) FROM {self.table}").fetchone()[0] if (
                self._has_table(conn)) else 0
            row = conn.execute("SELECT value FROM meta WHERE key = %s", (self._seq_key,)).fetchone()
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
                f"SELECT paper_pk, vector FROM {self.table} WHERE paper_pk > %s AND seq > %s "
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
            f"SELECT paper_pk, vector FROM {self.table} WHERE paper_pk = ANY(%s)",
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
            f"SELECT count(*) FROM (SELECT 1 FROM papers p JOIN {self.table} e "
            f"ON e.paper_pk = p.pk WHERE true{where} LIMIT %s) m",
            [*params, cap],
        )[0][0]

    def filtered_vectors(self, filters: Filters) -> tuple[np.ndarray, np.ndarray]:
        where, params = pg_filter_sql(filters)
        rows = self.store.query(
            f"SELECT e.paper_pk, e.vector FROM papers p JOIN {self.table} e "
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
        self.vectors.store.execute(f"REINDEX INDEX {self.vectors.table}_hnsw")
        self.rebuilt += 1

    def add(self, keys: np.ndarray, vectors: np.ndarray, seq: int) -> None:
        return None

    def save(self) -> None:
        return None

    def close(self) -> None:
        return None
