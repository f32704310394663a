"""The SQLite implementation of `VectorStore` and `VectorSets`: one table of float16 blobs per
encoder (`vec_<encoder>`), read through the store's public `query`, `transaction` and
`read_snapshot`. Meta keys: `vector_set:<encoder>` (its dimension), `vector_seq:<encoder>` (grows
by one with every write to that set, never reused) and `vector_active` (the set rankers use).

A store made before sets existed has one `embeddings` table of the encoder named in
`vector_encoder`: opening it renames that table to the encoder's set (instant, vectors kept) and
makes it the active set.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from paperfeed.embed.vectors import Fingerprint, VectorSets, VectorStore
from paperfeed.store.base import Filters
from paperfeed.store.rows import filter_sql
from paperfeed.store.sqlite.store import SQLiteStore

LEGACY_ENCODER_KEY = "vector_encoder"
LEGACY_SEQ_KEY = "vector_seq"
SET_KEY = "vector_set:"
SEQ_KEY = "vector_seq:"
ACTIVE_KEY = "vector_active"
CHUNK = 900  # below SQLite's bound-parameter limit


def table_name(encoder: str) -> str:
    """The table of an encoder's set (encoder names are canonical: letters, digits, dashes)."""
    return "vec_" + "".join(c if c.isalnum() else "_" for c in encoder)


def _upsert_meta(conn: Any, key: str, value: str) -> None:
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        (key, value),
    )


def _blob(vector: np.ndarray) -> bytes:
    return vector.astype(np.float16).tobytes()


def _unblob(blobs: Sequence[bytes], dim: int) -> np.ndarray:
    if not blobs:
        return np.zeros((0, dim), dtype=np.float32)
    return np.frombuffer(b"".join(blobs), dtype=np.float16).reshape(len(blobs), -1).astype(
        np.float32
    )


class FileLock:
    """An exclusive `flock` on a file, released by `release()` or by the process ending (so a
    killed holder never leaves it taken)."""

    def __init__(self, fd: int) -> None:
        self._fd: int | None = fd

    @classmethod
    def try_acquire(cls, path: Path) -> FileLock | None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return None
        return cls(fd)

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


class SQLiteVectorSets(VectorSets):
    def __init__(self, store: SQLiteStore) -> None:
        self.store = store
        self._sets: dict[str, SQLiteVectors] = {}
        self._upgrade()

    def _upgrade(self) -> None:
        """Turn a store's one pre-sets `embeddings` table into its encoder's set."""
        exists = self.store.query(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'embeddings'"
        )
        if not exists:
            return
        with self.store.transaction() as conn:
            if not conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'embeddings'"
            ).fetchone():
                return  # another process upgraded it meanwhile
            row = conn.execute(
                "SELECT value FROM meta WHERE key = ?", (LEGACY_ENCODER_KEY,)
            ).fetchone()
            seq = conn.execute("SELECT value FROM meta WHERE key = ?", (LEGACY_SEQ_KEY,)).fetchone()
            conn.execute("DROP TRIGGER IF EXISTS embeddings_stale")
            conn.execute("DROP INDEX IF EXISTS embeddings_seq")
            if not row:
                conn.execute("DROP TABLE embeddings")
                return
            name, _, dim = row[0].partition(":")
            table = table_name(name)
            conn.execute(f'ALTER TABLE embeddings RENAME TO "{table}"')
            _create_set(conn, table)
            _upsert_meta(conn, SET_KEY + name, dim)
            _upsert_meta(conn, SEQ_KEY + name, seq[0] if seq else "0")
            _upsert_meta(conn, ACTIVE_KEY, name)
            conn.execute(
                "DELETE FROM meta WHERE key IN (?, ?)", (LEGACY_ENCODER_KEY, LEGACY_SEQ_KEY)
            )

    def open_set(self, encoder: str) -> SQLiteVectors:
        if encoder not in self._sets:
            self._sets[encoder] = SQLiteVectors(self.store, encoder)
        return self._sets[encoder]

    def names(self) -> list[str]:
        rows = self.store.query(
            "SELECT substr(key, ?) FROM meta WHERE key LIKE 'vector\\_set:%' ESCAPE '\\' "
            "ORDER BY rowid",
            (len(SET_KEY) + 1,),
        )
        return [r[0] for r in rows]

    def active(self) -> str | None:
        return self.store.get_meta(ACTIVE_KEY)

    def activate(self, encoder: str, *, require_complete: bool = True) -> bool:
        table = table_name(encoder)
        with self.store.transaction() as conn:  # the write lock: no paper arrives meanwhile
            if not conn.execute("SELECT 1 FROM meta WHERE key = ?", (SET_KEY + encoder,)).fetchone():
                return False
            if require_complete and conn.execute(
                f'SELECT EXISTS (SELECT 1 FROM papers p WHERE NOT EXISTS '
                f'(SELECT 1 FROM "{table}" e WHERE e.paper_rowid = p.rowid))'
            ).fetchone()[0]:
                return False
            _upsert_meta(conn, ACTIVE_KEY, encoder)
        return True

    def drop(self, encoder: str) -> int:
        if self.active() == encoder:
            raise ValueError(f"the active vector set ({encoder}) cannot be dropped")
        table = table_name(encoder)
        with self.store.transaction() as conn:
            if not conn.execute("SELECT 1 FROM meta WHERE key = ?", (SET_KEY + encoder,)).fetchone():
                return 0
            count = conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
            conn.execute(f'DROP TRIGGER IF EXISTS "{table}_stale"')
            conn.execute(f'DROP TABLE IF EXISTS "{table}"')
            conn.execute("DELETE FROM meta WHERE key IN (?, ?)", (SET_KEY + encoder, SEQ_KEY + encoder))
        self._sets.pop(encoder, None)
        return count

    def try_embedder_lock(self) -> FileLock | None:
        return FileLock.try_acquire(self.store.path.with_name(self.store.path.name + ".embedder.lock"))


def _create_set(conn: Any, table: str) -> None:
    """The table of a set, its seq index, and the trigger that drops a paper's vector when its
    title or abstract changes (deleting a paper deletes its vectors: the foreign key)."""
    conn.execute(
        f'CREATE TABLE IF NOT EXISTS "{table}" (paper_rowid INTEGER PRIMARY KEY '
        "REFERENCES papers(rowid) ON DELETE CASCADE, seq INTEGER NOT NULL, vector BLOB NOT NULL)"
    )
    conn.execute(f'CREATE INDEX IF NOT EXISTS "{table}_seq" ON "{table}"(seq)')
    conn.execute(
        f'CREATE TRIGGER IF NOT EXISTS "{table}_stale" AFTER UPDATE OF title, abstract ON papers '
        "WHEN old.title IS NOT new.title OR old.abstract IS NOT new.abstract "
        f'BEGIN DELETE FROM "{table}" WHERE paper_rowid = new.rowid; END'
    )


class SQLiteVectors(VectorStore):
    def __init__(self, store: SQLiteStore, name: str) -> None:
        self.store = store
        self.name = name
        self.table = table_name(name)
        self._seq_key = SEQ_KEY + name
        self._known: tuple[str, int] | None = None

    @property
    def _dim(self) -> int:
        enc = self.encoder()
        return enc[1] if enc else 0

    def encoder(self) -> tuple[str, int] | None:
        if self._known is None:  # a set, once made, keeps its dimension: asked once
            value = self.store.get_meta(SET_KEY + self.name)
            if not value:
                return None
            self._known = (self.name, int(value))
        return self._known

    def set_encoder(self, name: str, dim: int) -> bool:
        if name != self.name:
            raise ValueError(f"the {self.name} set cannot hold {name} vectors")
        if self.encoder() is not None:
            return False
        with self.store.transaction() as conn:
            _create_set(conn, self.table)
            conn.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO NOTHING",
                (SET_KEY + name, str(dim)),
            )
            conn.execute(
                "INSERT INTO meta (key, value) VALUES (?, '0') ON CONFLICT(key) DO NOTHING",
                (self._seq_key,),
            )
        return False

    def exists(self) -> bool:
        return self.encoder() is not None

    def count_missing(self) -> int:
        return self.store.query(
            "SELECT count(*) FROM papers p WHERE NOT EXISTS "
            f"(SELECT 1 FROM {self.table} e WHERE e.paper_rowid = p.rowid)"
        )[0][0]

    def missing(self, limit: int, after_key: int = 0) -> list[tuple[int, str, str]]:
        return self.store.query(
            "SELECT p.rowid, p.title, p.abstract FROM papers p WHERE p.rowid > ? AND NOT EXISTS "
            f"(SELECT 1 FROM {self.table} e WHERE e.paper_rowid = p.rowid) ORDER BY p.rowid LIMIT ?",
            (after_key, limit),
        )

    def missing_newest(self, limit: int, before_key: int | None = None) -> list[tuple[int, str, str]]:
        return self.store.query(
            "SELECT p.rowid, p.title, p.abstract FROM papers p WHERE p.rowid < ? AND NOT EXISTS "
            f"(SELECT 1 FROM {self.table} e WHERE e.paper_rowid = p.rowid) "
            "ORDER BY p.rowid DESC LIMIT ?",
            (before_key if before_key is not None else 1 << 62, limit),
        )

    def texts(self, ids: Sequence[str]) -> list[tuple[int, str, str]]:
        rows: list[tuple[int, str, str]] = []
        for start in range(0, len(ids), CHUNK):
            chunk = list(ids[start : start + CHUNK])
            marks = ",".join("?" * len(chunk))
            rows += self.store.query(
                f"SELECT p.rowid, p.title, p.abstract FROM papers p WHERE p.id IN ({marks}) "
                f"AND NOT EXISTS (SELECT 1 FROM {self.table} e WHERE e.paper_rowid = p.rowid)",
                chunk,
            )
        return rows

    def put(self, keys: Sequence[int], vectors: np.ndarray) -> int:
        with self.store.transaction() as conn:
            seq = self._next_seq(conn)
            conn.executemany(
                f"INSERT INTO {self.table} (paper_rowid, seq, vector) "
                "SELECT ?, ?, ? WHERE EXISTS (SELECT 1 FROM papers WHERE rowid = ?) "
                "ON CONFLICT(paper_rowid) DO UPDATE "
                "SET seq = excluded.seq, vector = excluded.vector",
                [(int(k), seq, _blob(v), int(k)) for k, v in zip(keys, vectors, strict=True)],
            )
        return seq

    def _next_seq(self, conn: Any) -> int:
        row = conn.execute("SELECT value FROM meta WHERE key = ?", (self._seq_key,)).fetchone()
        seq = int(row[0]) + 1 if row else 1
        _upsert_meta(conn, self._seq_key, str(seq))
        return seq

    def latest_seq(self) -> int:
        value = self.store.get_meta(self._seq_key)
        return int(value) if value else 0

    def fingerprint(self) -> Fingerprint:
        with self.store.read_snapshot() as conn:  # one snapshot for both numbers, no write lock
            count = conn.execute(f"SELECT count(*) FROM {self.table}").fetchone()[0]
            row = conn.execute("SELECT value FROM meta WHERE key = ?", (self._seq_key,)).fetchone()
        return Fingerprint(count, int(row[0]) if row else 0)

    def iter_vectors(
        self, after_seq: int = 0, batch: int = 50_000
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        dim = self._dim
        last = 0
        while True:
            rows = self.store.query(
                f"SELECT paper_rowid, vector FROM {self.table} WHERE paper_rowid > ? AND seq > ? "
                "ORDER BY paper_rowid LIMIT ?",
                (last, after_seq, batch),
            )
            if not rows:
                return
            last = rows[-1][0]
            keys = np.array([r[0] for r in rows], dtype=np.uint64)
            yield keys, _unblob([r[1] for r in rows], dim)

    def get_vectors(self, keys: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        found: list[int] = []
        blobs: list[bytes] = []
        for start in range(0, len(keys), CHUNK):
            chunk = [int(k) for k in keys[start : start + CHUNK]]
            marks = ",".join("?" * len(chunk))
            for key, blob in self.store.query(
                f"SELECT paper_rowid, vector FROM {self.table} WHERE paper_rowid IN ({marks})", chunk
            ):
                found.append(key)
                blobs.append(blob)
        return np.array(found, dtype=np.uint64), _unblob(blobs, self._dim)

    def keys_of(self, ids: Sequence[str]) -> dict[str, int]:
        out: dict[str, int] = {}
        for start in range(0, len(ids), CHUNK):
            chunk = list(ids[start : start + CHUNK])
            marks = ",".join("?" * len(chunk))
            out.update(
                self.store.query(
                    f"SELECT id, rowid FROM papers WHERE id IN ({marks})", chunk
                )
            )
        return out

    def ids_of(self, keys: Sequence[int], filters: Filters = Filters()) -> dict[int, str]:
        where, params = filter_sql(filters)
        out: dict[int, str] = {}
        for start in range(0, len(keys), CHUNK):
            chunk = [int(k) for k in keys[start : start + CHUNK]]
            marks = ",".join("?" * len(chunk))
            out.update(
                self.store.query(
                    f"SELECT p.rowid, p.id FROM papers p WHERE p.rowid IN ({marks}){where}",
                    [*chunk, *params],
                )
            )
        return out

    def count_filtered(self, filters: Filters, cap: int) -> int:
        where, params = filter_sql(filters)
        return self.store.query(
            f"SELECT count(*) FROM (SELECT 1 FROM papers p JOIN {self.table} e "
            f"ON e.paper_rowid = p.rowid WHERE 1{where} LIMIT ?)",
            [*params, cap],
        )[0][0]

    def filtered_vectors(self, filters: Filters) -> tuple[np.ndarray, np.ndarray]:
        where, params = filter_sql(filters)
        rows = self.store.query(
            f"SELECT e.paper_rowid, e.vector FROM papers p JOIN {self.table} e "
            f"ON e.paper_rowid = p.rowid WHERE 1{where}",
            params,
        )
        return np.array([r[0] for r in rows], dtype=np.uint64), _unblob(
            [r[1] for r in rows], self._dim
        )
