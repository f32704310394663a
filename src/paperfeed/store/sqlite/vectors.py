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
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import numpy as np

from paperfeed.store.base import Filters
from paperfeed.store.rows import filter_sql
from paperfeed.store.sqlite.store import SQLiteStore
from paperfeed.store.vector_common import (
    SET_KEY,
    SqlVectors,
    SqlVectorSets,
    adopt_legacy_table,
    table_name,
    upsert_meta,
)

__all__ = ["FileLock", "SQLiteVectorSets", "SQLiteVectors", "table_name"]

CHUNK = 900  # below SQLite's bound-parameter limit


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


class SQLiteVectorSets(SqlVectorSets):
    store: SQLiteStore

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
            conn.execute("DROP TRIGGER IF EXISTS embeddings_stale")
            conn.execute("DROP INDEX IF EXISTS embeddings_seq")

            def rename(table: str) -> None:
                conn.execute(f'ALTER TABLE embeddings RENAME TO "{table}"')
                _create_set(conn, table)

            adopt_legacy_table(conn, "?", rename)

    def names(self) -> list[str]:
        rows = self.store.query(
            "SELECT substr(key, ?) FROM meta WHERE key LIKE 'vector\\_set:%' ESCAPE '\\' "
            "ORDER BY rowid",
            (len(SET_KEY) + 1,),
        )
        return [r[0] for r in rows]

    def _drop_table(self, tx: Any, table: str) -> None:
        tx.execute(f'DROP TRIGGER IF EXISTS "{table}_stale"')
        tx.execute(f'DROP TABLE IF EXISTS "{table}"')

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


class SQLiteVectors(SqlVectors):
    """A set's table of float16 blobs."""

    ph = "?"
    key_column = "rowid"
    ref_column = "paper_rowid"
    store: SQLiteStore

    def __init__(self, store: SQLiteStore, name: str) -> None:
        super().__init__(store, name)
        self._known: tuple[str, int] | None = None

    def encoder(self) -> tuple[str, int] | None:
        if self._known is None:  # a set, once made, keeps its dimension: asked once
            value = self.store.get_meta(SET_KEY + self.name)
            if not value:
                return None
            self._known = (self.name, int(value))
        return self._known

    def _create_table(self, conn: Any, dim: int) -> None:
        _create_set(conn, self.table)

    def _encode(self, vector: np.ndarray) -> bytes:
        return vector.astype(np.float16).tobytes()

    def _decode_rows(self, values: Sequence[bytes]) -> np.ndarray:
        return np.frombuffer(b"".join(values), dtype=np.float16).reshape(len(values), -1).astype(
            np.float32
        )

    def _in(self, column: str, values: Sequence[Any]) -> Iterator[tuple[str, list[Any]]]:
        for start in range(0, len(values), CHUNK):
            chunk = list(values[start : start + CHUNK])
            yield f"{column} IN ({','.join('?' * len(chunk))})", chunk

    def _filters(self, filters: Filters) -> tuple[str, list[Any]]:
        return filter_sql(filters)

    def _snapshot(self) -> AbstractContextManager[sqlite3.Connection]:
        return self.store.read_snapshot()

    def _next_seq(self, conn: Any) -> int:
        row = conn.execute("SELECT value FROM meta WHERE key = ?", (self._seq_key,)).fetchone()
        seq = int(row[0]) + 1 if row else 1
        upsert_meta(conn, self._seq_key, str(seq))
        return seq


SQLiteVectorSets.vectors_class = SQLiteVectors  # defined after the sets class that makes them
