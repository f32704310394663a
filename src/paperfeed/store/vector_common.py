"""What both SQL backends' vector sets do the same way, written once (as `store.common` does for
the papers): the meta keys, the set tables' names, activating and dropping a set, and the reads
and writes of a set whose SQL differs only in its spellings. A backend names them: its
placeholder, its paper key column (`rowid` / `pk`) and the set table's column that refers to it,
how it matches a list of values (`IN (...)` in chunks / `= ANY(array)`), how it encodes a vector,
and how it takes a consistent snapshot. Set-up DDL, locks, how an old store's table is found and
renamed, and the ANN queries stay in `store.sqlite.vectors` and `store.postgres.vectors`.
"""

from __future__ import annotations

import threading
from abc import abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any, ClassVar

import numpy as np

from paperfeed.embed.vectors import Fingerprint, VectorSets, VectorStore
from paperfeed.store.base import Filters

LEGACY_ENCODER_KEY = "vector_encoder"  # before sets: the one encoder of the `embeddings` table
LEGACY_SEQ_KEY = "vector_seq"
SET_KEY = "vector_set:"  # + encoder: the set's dimension
SEQ_KEY = "vector_seq:"  # + encoder: grows by one with every write to the set, never reused
ACTIVE_KEY = "vector_active"  # the set rankers use


def table_name(encoder: str) -> str:
    """The table of an encoder's set (encoder names are canonical: letters, digits, dashes)."""
    return "vec_" + "".join(c if c.isalnum() else "_" for c in encoder)


def upsert_meta(conn: Any, key: str, value: str, ph: str = "?") -> None:
    """Set a meta key on a raw connection whose placeholder is `ph`."""
    conn.execute(
        f"INSERT INTO meta (key, value) VALUES ({ph}, {ph}) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (key, value),
    )


def adopt_legacy_table(conn: Any, ph: str, rename: Callable[[str], None]) -> None:
    """Inside the upgrading transaction of a store made before sets existed: make its one
    `embeddings` table the set of the encoder meta names (`rename(table)` renames the table and
    what belongs to it), with that set's dimension and write number, and the active set; drop
    the table when meta names no encoder (it never held a vector)."""
    row = conn.execute(f"SELECT value FROM meta WHERE key = {ph}", (LEGACY_ENCODER_KEY,)).fetchone()
    seq = conn.execute(f"SELECT value FROM meta WHERE key = {ph}", (LEGACY_SEQ_KEY,)).fetchone()
    if not row:
        conn.execute("DROP TABLE embeddings")
        return
    name, _, dim = row[0].partition(":")
    rename(table_name(name))
    upsert_meta(conn, SET_KEY + name, dim, ph)
    upsert_meta(conn, SEQ_KEY + name, seq[0] if seq else "0", ph)
    upsert_meta(conn, ACTIVE_KEY, name, ph)
    conn.execute(f"DELETE FROM meta WHERE key IN ({ph}, {ph})", (LEGACY_ENCODER_KEY, LEGACY_SEQ_KEY))


class SqlVectors(VectorStore):
    """A `VectorStore` over one set table `(<ref_column>, seq, vector)` beside `papers`."""

    ph: ClassVar[str]  # the raw connection's placeholder
    key_column: ClassVar[str]  # the papers' integer key
    ref_column: ClassVar[str]  # the set table's column holding that key

    def __init__(self, store: Any, name: str) -> None:
        self.store = store
        self.name = name
        self.table = table_name(name)
        self._seq_key = SEQ_KEY + name
        self._held = threading.local()

    # -- what a backend spells its own way --------------------------------------------------------

    @abstractmethod
    def _encode(self, vector: np.ndarray) -> Any:
        """One vector as the set column's parameter."""

    @abstractmethod
    def _decode_rows(self, values: Sequence[Any]) -> np.ndarray:
        """The set column's values (at least one) as a float32 matrix."""

    @abstractmethod
    def _create_table(self, conn: Any, dim: int) -> None:
        """Inside `set_encoder`'s transaction: the set's table and indexes (if not there yet)."""

    @abstractmethod
    def _in(self, column: str, values: Sequence[Any]) -> Iterator[tuple[str, list[Any]]]:
        """`column` matched against `values`: (condition, parameters), as many as it takes."""

    @abstractmethod
    def _filters(self, filters: Filters) -> tuple[str, list[Any]]:
        """The filter conditions on `papers p` (each starting with AND) and their parameters."""

    @abstractmethod
    def _snapshot(self) -> AbstractContextManager[Any]:
        """A connection reading one consistent snapshot, taking no write lock."""

    @abstractmethod
    def _next_seq(self, conn: Any) -> int:
        """One more than the set's last write number, stored, inside the writing transaction."""

    def _read(self, sql: str, params: Sequence[Any]) -> list[Any]:
        """Rows of a query that returns vectors."""
        return self.store.query(sql, params)

    def _has_table(self, conn: Any = None) -> bool:
        """Whether the set table exists (a backend that makes it lazily says)."""
        return True

    # -- shared ---------------------------------------------------------------------------------

    @property
    def _dim(self) -> int:
        enc = self.encoder()
        return enc[1] if enc else 0

    def _not_embedded(self) -> str:
        """The condition on `papers p` of a paper without a vector in this set."""
        if not self._has_table():
            return ""
        return (f" AND NOT EXISTS (SELECT 1 FROM {self.table} e "
                f"WHERE e.{self.ref_column} = p.{self.key_column})")

    def _decode(self, values: Sequence[Any], dim: int) -> np.ndarray:
        """The set column's values as a float32 matrix (`dim` columns when there are none)."""
        return self._decode_rows(values) if values else np.zeros((0, dim), dtype=np.float32)

    def exists(self) -> bool:
        return self.encoder() is not None

    def set_encoder(self, name: str, dim: int) -> bool:
        """Make the set (its table and meta keys) for vectors of `dim`; False always (a set
        holds one encoder's vectors, so there is never an old encoder's to drop)."""
        if name != self.name:
            raise ValueError(f"the {self.name} set cannot hold {name} vectors")
        if self.encoder() is not None:
            return False
        ph = self.ph
        with self.store.transaction() as conn:
            self._create_table(conn, dim)
            conn.execute(
                f"INSERT INTO meta (key, value) VALUES ({ph}, {ph}) ON CONFLICT (key) DO NOTHING",
                (SET_KEY + name, str(dim)),
            )
            conn.execute(
                f"INSERT INTO meta (key, value) VALUES ({ph}, '0') ON CONFLICT (key) DO NOTHING",
                (self._seq_key,),
            )
        return False

    def count_missing(self) -> int:
        return self.store.query(f"SELECT count(*) FROM papers p WHERE true{self._not_embedded()}")[0][0]

    def missing(self, limit: int, after_key: int = 0) -> list[tuple[int, str, str]]:
        k, ph = self.key_column, self.ph
        return self.store.query(
            f"SELECT p.{k}, p.title, p.abstract FROM papers p WHERE p.{k} > {ph}"
            f"{self._not_embedded()} ORDER BY p.{k} LIMIT {ph}",
            (after_key, limit),
        )

    def missing_newest(self, limit: int, before_key: int | None = None) -> list[tuple[int, str, str]]:
        k, ph = self.key_column, self.ph
        return self.store.query(
            f"SELECT p.{k}, p.title, p.abstract FROM papers p WHERE p.{k} < {ph}"
            f"{self._not_embedded()} ORDER BY p.{k} DESC LIMIT {ph}",
            (before_key if before_key is not None else 1 << 62, limit),
        )

    def texts(self, ids: Sequence[str]) -> list[tuple[int, str, str]]:
        k = self.key_column
        rows: list[tuple[int, str, str]] = []
        for cond, params in self._in("p.id", ids):
            rows += self.store.query(
                f"SELECT p.{k}, p.title, p.abstract FROM papers p WHERE {cond}"
                f"{self._not_embedded()} ORDER BY p.{k}",
                params,
            )
        return rows

    def put(self, keys: Sequence[int], vectors: np.ndarray) -> int:
        ph, ref = self.ph, self.ref_column
        with self.store.transaction() as conn:
            seq = self._next_seq(conn)
            cur = conn.cursor()
            cur.executemany(
                f"INSERT INTO {self.table} ({ref}, seq, vector) SELECT {ph}, {ph}, {ph} "
                f"WHERE EXISTS (SELECT 1 FROM papers WHERE {self.key_column} = {ph}) "
                f"ON CONFLICT ({ref}) DO UPDATE SET seq = excluded.seq, vector = excluded.vector",
                [(int(k), seq, self._encode(v), int(k)) for k, v in zip(keys, vectors, strict=True)],
            )
            cur.close()
        return seq

    def latest_seq(self) -> int:
        held = getattr(self._held, "seq", None)
        if held is not None:
            return int(held)
        value = self.store.get_meta(self._seq_key)
        return int(value) if value else 0

    @contextmanager
    def seq_held(self) -> Iterator[None]:
        if getattr(self._held, "seq", None) is not None:
            yield
            return
        self._held.seq = self.latest_seq()
        try:
            yield
        finally:
            self._held.seq = None

    def fingerprint(self) -> Fingerprint:
        with self._snapshot() as conn:  # one snapshot for both numbers
            count = (conn.execute(f"SELECT count(*) FROM {self.table}").fetchone()[0]
                     if self._has_table(conn) else 0)
            row = conn.execute(f"SELECT value FROM meta WHERE key = {self.ph}",
                               (self._seq_key,)).fetchone()
        return Fingerprint(count, int(row[0]) if row else 0)

    def iter_vectors(
        self, after_seq: int = 0, batch: int = 50_000
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        dim, ph, ref = self._dim, self.ph, self.ref_column
        last = 0
        while self._has_table():
            rows = self._read(
                f"SELECT {ref}, vector FROM {self.table} WHERE {ref} > {ph} AND seq > {ph} "
                f"ORDER BY {ref} LIMIT {ph}",
                (last, after_seq, batch),
            )
            if not rows:
                return
            last = rows[-1][0]
            yield np.array([r[0] for r in rows], dtype=np.uint64), self._decode([r[1] for r in rows], dim)

    def get_vectors(self, keys: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        rows: list[Any] = []
        if self._has_table():
            for cond, params in self._in(self.ref_column, [int(k) for k in keys]):
                rows += self._read(f"SELECT {self.ref_column}, vector FROM {self.table} WHERE {cond}",
                                   params)
        return np.array([r[0] for r in rows], dtype=np.uint64), self._decode(
            [r[1] for r in rows], self._dim
        )

    def keys_of(self, ids: Sequence[str]) -> dict[str, int]:
        out: dict[str, int] = {}
        for cond, params in self._in("id", ids):
            out.update(self.store.query(f"SELECT id, {self.key_column} FROM papers WHERE {cond}",
                                        params))
        return out

    def ids_of(self, keys: Sequence[int], filters: Filters = Filters()) -> dict[int, str]:
        where, fparams = self._filters(filters)
        out: dict[int, str] = {}
        for cond, params in self._in(f"p.{self.key_column}", [int(k) for k in keys]):
            out.update(self.store.query(
                f"SELECT p.{self.key_column}, p.id FROM papers p WHERE {cond}{where}",
                [*params, *fparams],
            ))
        return out

    def _join(self) -> str:
        return f"papers p JOIN {self.table} e ON e.{self.ref_column} = p.{self.key_column}"

    def count_filtered(self, filters: Filters, cap: int) -> int:
        where, params = self._filters(filters)
        return self.store.query(
            f"SELECT count(*) FROM (SELECT 1 FROM {self._join()} WHERE true{where} "
            f"LIMIT {self.ph}) m",
            [*params, cap],
        )[0][0]

    def filtered_vectors(self, filters: Filters) -> tuple[np.ndarray, np.ndarray]:
        where, params = self._filters(filters)
        rows = self._read(
            f"SELECT e.{self.ref_column}, e.vector FROM {self._join()} WHERE true{where}", params
        )
        return np.array([r[0] for r in rows], dtype=np.uint64), self._decode(
            [r[1] for r in rows], self._dim
        )


class SqlVectorSets(VectorSets):
    """The sets of a store: meta keys `SET_KEY + encoder`, one `SqlVectors` table each."""

    vectors_class: ClassVar[type[SqlVectors]]

    def __init__(self, store: Any) -> None:
        self.store = store
        self._sets: dict[str, SqlVectors] = {}
        self._upgrade()

    def _upgrade(self) -> None:
        """Turn a store's one pre-sets `embeddings` table into its encoder's set."""

    def _hold_papers(self, tx: Any) -> None:
        """Keep papers from arriving until `tx` ends (SQLite's write transaction already does)."""

    def _drop_table(self, tx: Any, table: str) -> None:
        tx.execute(f"DROP TABLE IF EXISTS {table}")

    def open_set(self, encoder: str) -> SqlVectors:
        if encoder not in self._sets:
            self._sets[encoder] = self.vectors_class(self.store, encoder)
        return self._sets[encoder]

    def active(self) -> str | None:
        return self.store.get_meta(ACTIVE_KEY)

    def activate(self, encoder: str, *, require_complete: bool = True) -> bool:
        table = table_name(encoder)
        cls = self.vectors_class
        with self.store.db.transaction() as tx:
            self._hold_papers(tx)
            if not tx.query_one("SELECT 1 FROM meta WHERE key = ?", (SET_KEY + encoder,)):
                return False
            if require_complete and tx.query_one(
                f"SELECT EXISTS (SELECT 1 FROM papers p WHERE NOT EXISTS (SELECT 1 FROM {table} e "
                f"WHERE e.{cls.ref_column} = p.{cls.key_column}))"
            )[0]:
                return False
            upsert_meta(tx, ACTIVE_KEY, encoder)
        return True

    def drop(self, encoder: str) -> int:
        if self.active() == encoder:
            raise ValueError(f"the active vector set ({encoder}) cannot be dropped")
        table = table_name(encoder)
        with self.store.db.transaction() as tx:
            if not tx.query_one("SELECT 1 FROM meta WHERE key = ?", (SET_KEY + encoder,)):
                return 0
            count = tx.query_one(f"SELECT count(*) FROM {table}")[0]
            self._drop_table(tx, table)
            tx.execute("DELETE FROM meta WHERE key IN (?, ?)", (SET_KEY + encoder, SEQ_KEY + encoder))
        self._sets.pop(encoder, None)
        return count
