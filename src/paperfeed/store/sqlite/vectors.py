"""The SQLite implementation of `VectorStore`: the `embeddings` table (float16 blobs), read
through the store's public `query`, `transaction` and `read_snapshot`."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence

import numpy as np

from paperfeed.embed.vectors import Fingerprint, VectorStore
from paperfeed.store.base import Filters
from paperfeed.store.rows import filter_sql
from paperfeed.store.sqlite.store import SQLiteStore

ENCODER_KEY = "vector_encoder"
SEQ_KEY = "vector_seq"  # grows by one with every write of vectors, never reused
CHUNK = 900  # below SQLite's bound-parameter limit


def _blob(vector: np.ndarray) -> bytes:
    return vector.astype(np.float16).tobytes()


def _unblob(blobs: Sequence[bytes], dim: int) -> np.ndarray:
    if not blobs:
        return np.zeros((0, dim), dtype=np.float32)
    return np.frombuffer(b"".join(blobs), dtype=np.float16).reshape(len(blobs), -1).astype(
        np.float32
    )


class SQLiteVectors(VectorStore):
    def __init__(self, store: SQLiteStore) -> None:
        self.store = store

    @property
    def _dim(self) -> int:
        enc = self.encoder()
        return enc[1] if enc else 0

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
            dropped = conn.execute("DELETE FROM embeddings").rowcount
            self._next_seq(conn)
            conn.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (ENCODER_KEY, f"{name}:{dim}"),
            )
        return current is not None and dropped > 0

    def count_missing(self) -> int:
        return self.store.query(
            "SELECT count(*) FROM papers p WHERE NOT EXISTS "
            "(SELECT 1 FROM embeddings e WHERE e.paper_rowid = p.rowid)"
        )[0][0]

    def missing(self, limit: int, after_key: int = 0) -> list[tuple[int, str, str]]:
        return self.store.query(
            "SELECT p.rowid, p.title, p.abstract FROM papers p WHERE p.rowid > ? AND NOT EXISTS "
            "(SELECT 1 FROM embeddings e WHERE e.paper_rowid = p.rowid) ORDER BY p.rowid LIMIT ?",
            (after_key, limit),
        )

    def texts(self, ids: Sequence[str]) -> list[tuple[int, str, str]]:
        rows: list[tuple[int, str, str]] = []
        for start in range(0, len(ids), CHUNK):
            chunk = list(ids[start : start + CHUNK])
            marks = ",".join("?" * len(chunk))
            rows += self.store.query(
                f"SELECT p.rowid, p.title, p.abstract FROM papers p WHERE p.id IN ({marks}) "
                "AND NOT EXISTS (SELECT 1 FROM embeddings e WHERE e.paper_rowid = p.rowid)",
                chunk,
            )
        return rows

    def put(self, keys: Sequence[int], vectors: np.ndarray) -> int:
        with self.store.transaction() as conn:
            seq = self._next_seq(conn)
            conn.executemany(
                "INSERT INTO embeddings (paper_rowid, seq, vector) "
                "SELECT ?, ?, ? WHERE EXISTS (SELECT 1 FROM papers WHERE rowid = ?) "
                "ON CONFLICT(paper_rowid) DO UPDATE "
                "SET seq = excluded.seq, vector = excluded.vector",
                [(int(k), seq, _blob(v), int(k)) for k, v in zip(keys, vectors, strict=True)],
            )
        return seq

    @staticmethod
    def _next_seq(conn: sqlite3.Connection) -> int:
        row = conn.execute("SELECT value FROM meta WHERE key = ?", (SEQ_KEY,)).fetchone()
        seq = int(row[0]) + 1 if row else 1
        conn.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (SEQ_KEY, str(seq)),
        )
        return seq

    def latest_seq(self) -> int:
        value = self.store.get_meta(SEQ_KEY)
        return int(value) if value else 0

    def fingerprint(self) -> Fingerprint:
        with self.store.read_snapshot() as conn:  # one snapshot for both numbers, no write lock
            count = conn.execute("SELECT count(*) FROM embeddings").fetchone()[0]
            row = conn.execute("SELECT value FROM meta WHERE key = ?", (SEQ_KEY,)).fetchone()
        return Fingerprint(count, int(row[0]) if row else 0)

    def iter_vectors(
        self, after_seq: int = 0, batch: int = 50_000
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        dim = self._dim
        last = 0
        while True:
            rows = self.store.query(
                "SELECT paper_rowid, vector FROM embeddings WHERE paper_rowid > ? AND seq > ? "
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
                f"SELECT paper_rowid, vector FROM embeddings WHERE paper_rowid IN ({marks})", chunk
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
            "SELECT count(*) FROM (SELECT 1 FROM papers p JOIN embeddings e "
            f"ON e.paper_rowid = p.rowid WHERE 1{where} LIMIT ?)",
            [*params, cap],
        )[0][0]

    def filtered_vectors(self, filters: Filters) -> tuple[np.ndarray, np.ndarray]:
        where, params = filter_sql(filters)
        rows = self.store.query(
            "SELECT e.paper_rowid, e.vector FROM papers p JOIN embeddings e "
            f"ON e.paper_rowid = p.rowid WHERE 1{where}",
            params,
        )
        return np.array([r[0] for r in rows], dtype=np.uint64), _unblob(
            [r[1] for r in rows], self._dim
        )
