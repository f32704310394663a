"""The approximate-nearest-neighbour index over the stored vectors (hnswlib HNSW, inner product on
unit vectors), persisted beside the database.

The store is the truth; the index file is a cache of it that heals itself. A sidecar JSON records
the store fingerprint (vector count, last write's sequence number) the file was saved at. On open:
a file missing, unreadable or of another encoder is rebuilt from the stored vectors (no
re-embedding); a file behind the store (a crash between the store's write and the index's, or
another process's import) is caught up with the vectors written since, and rebuilt if that does
not make it whole. Loading, catching up and rebuilding happen in memory; only `save()` writes,
and only writers call it (import, `paperfeed index`, the background embedder): a search never
writes the index.

A save holds an exclusive file lock (`<encoder>.hnsw.lock`: one writer at a time across
processes), writes a uniquely named temporary file, renames it into place, then the sidecar
(the same way). The sidecar holds the file's size and a blake2b hash of the *whole* file, checked
before hnswlib reads a byte of it (hnswlib trusts its input and crashes on a damaged file): a file
that does not match (damaged anywhere, truncated, a crash between the two renames) is rebuilt
from the stored vectors rather than trusted. Temporary files a killed writer left are removed by
the next writer, under the lock.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from paperfeed.embed.vectors import Fingerprint, VectorStore

log = logging.getLogger(__name__)

# Chosen by benchmarks/bench_semantic_ann.py (see BENCHMARKS.md): on this machine's AVX2 cores
# hnswlib built the graph 3-4x faster than usearch at the same settings (usearch's float16 cells
# would halve memory, but building a million-vector index took it over half an hour).
KIND = "hnswlib"
CONNECTIVITY = 16
EXPANSION_ADD = 128
EXPANSION_SEARCH = 96
HASH_BLOCK = 1 << 20
SAY_SO = 50_000
"""Catching up or rebuilding at least this many vectors is said on stderr (it takes seconds)."""


class VectorIndex:
    def __init__(self, directory: Path, vectors: VectorStore, encoder: str, dim: int) -> None:
        self.directory = directory
        self.vectors = vectors
        self.encoder = encoder
        self.dim = dim
        self.path = directory / f"{encoder}.hnsw"
        self.meta_path = directory / f"{encoder}.json"
        self.lock_path = directory / f"{encoder}.hnsw.lock"
        self._index: Any = None  # hnswlib.Index, loaded lazily
        self._fingerprint = Fingerprint(-1, -1)
        self._dirty = False
        self._lock = threading.RLock()
        self.rebuilt = 0  # how many times this object rebuilt the index (for tests and logs)

    # -- reading ------------------------------------------------------------------------------

    def search(self, vector: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(keys, cosine similarities) of the k nearest stored vectors, best first."""
        with self._lock:
            index = self.ready()
            n = index.get_current_count()
            if n == 0 or k <= 0:
                return np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.float32)
            k = min(k, n)
            index.set_ef(max(EXPANSION_SEARCH, k))
            labels, distances = index.knn_query(np.asarray(vector, dtype=np.float32), k=k)
        return labels[0].astype(np.uint64), (1.0 - distances[0]).astype(np.float32)

    def search_many(self, vectors: np.ndarray, k: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """`search` for each row of `vectors`, in one batched hnswlib query (its threads share
        the rows)."""
        queries = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
        with self._lock:
            index = self.ready()
            n = index.get_current_count()
            if n == 0 or k <= 0 or not len(queries):
                empty = (np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.float32))
                return [empty for _ in range(len(queries))]
            k = min(k, n)
            index.set_ef(max(EXPANSION_SEARCH, k))
            labels, distances = index.knn_query(queries, k=k)
        sims = (1.0 - distances).astype(np.float32)
        return list(zip(labels.astype(np.uint64), sims, strict=True))

    def __len__(self) -> int:
        return self.ready().get_current_count()

    def ready(self) -> Any:
        """The index, brought up to date with the store when the store has moved on."""
        with self._lock:
            if self._index is None or self.vectors.latest_seq() != self._fingerprint.seq:
                self.sync()
            return self._index

    # -- keeping up with the store --------------------------------------------------------------

    def sync(self) -> None:
        """Load the file, catch it up with the store, or rebuild it; save when it changed."""
        with self._lock:
            truth = self.vectors.fingerprint()
            if self._index is None:
                self._load()
            if self._index is not None and self._fingerprint == truth:
                return
            if self._index is not None and self._fingerprint.seq <= truth.seq:
                behind = truth.count - self._fingerprint.count
                if behind >= SAY_SO:
                    log.warning("vector index %s is %d vectors behind the store: catching up in "
                                "memory (import, index or serve saves it)", self.encoder, behind)
                self._catch_up(self._fingerprint.seq)
                if self._index.get_current_count() == truth.count:
                    self._fingerprint = truth
                    self._dirty = True  # in memory; the next writer's save persists it
                    return
                log.info("vector index out of step with the store: rebuilding")
            self.rebuild(truth)

    def rebuild(self, truth: Fingerprint | None = None) -> None:
        """A fresh index from every stored vector."""
        with self._lock:
            truth = truth or self.vectors.fingerprint()
            if truth.count >= SAY_SO:
                log.warning("rebuilding the %s vector index from %d stored vectors (import, index "
                            "or serve saves it)", self.encoder, truth.count)
            self._index = self._new(max(truth.count, 1024))
            for keys, vecs in self.vectors.iter_vectors():
                self._add(keys, vecs)
            self._fingerprint = Fingerprint(self._index.get_current_count(), truth.seq)
            self.rebuilt += 1
            self._dirty = True

    def add(self, keys: np.ndarray, vectors: np.ndarray, seq: int) -> None:
        """Add vectors just written to the store at sequence `seq` (kept in memory; `save`
        persists). An index that was behind before is caught up by the next `sync`."""
        with self._lock:
            in_step = self._index is not None and self._fingerprint.seq == seq - 1
            if not in_step:
                self.sync()
                return
            self._add(np.asarray(keys, dtype=np.uint64), vectors)
            self._fingerprint = Fingerprint(self._index.get_current_count(), seq)
            self._dirty = True

    def save(self) -> None:
        """Persist the index (writers only), under the file lock, through unique temp names."""
        with self._lock:
            if self._index is None or not self._dirty:
                return
            self.directory.mkdir(parents=True, exist_ok=True)
            with self._file_lock():
                self._remove_stale_temps()
                token = f"{os.getpid()}.{secrets.token_hex(4)}"
                tmp = self.path.with_name(f"{self.path.name}.{token}.tmp")
                tmp_meta = self.meta_path.with_name(f"{self.meta_path.name}.{token}.tmp")
                try:
                    self._index.save_index(str(tmp))
                    meta = {
                        "encoder": self.encoder,
                        "dim": self.dim,
                        "kind": KIND,
                        "check": _file_check(tmp),
                        "count": self._fingerprint.count,
                        "seq": self._fingerprint.seq,
                    }
                    os.replace(tmp, self.path)
                    tmp_meta.write_text(json.dumps(meta))
                    os.replace(tmp_meta, self.meta_path)
                finally:  # a full disk: nothing half-written stays behind
                    tmp.unlink(missing_ok=True)
                    tmp_meta.unlink(missing_ok=True)
            self._dirty = False

    @contextmanager
    def _file_lock(self) -> Iterator[None]:
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def _clean_if_no_writer(self) -> None:
        """Remove temp files a killed writer left, when no writer holds the lock now."""
        if not self.directory.is_dir():
            return
        try:
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError:
            return  # a read-only directory: nothing to clean
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            self._remove_stale_temps()
        except OSError:
            pass  # a writer is saving: its temp file is live
        finally:
            os.close(fd)

    def _remove_stale_temps(self) -> None:
        """Temp files of this encoder's index: under the lock, only a dead writer's."""
        for stale in self.directory.glob(f"{self.encoder}.*.tmp"):
            stale.unlink(missing_ok=True)

    def close(self) -> None:
        self._index = None

    # -- internals ------------------------------------------------------------------------------

    def _new(self, capacity: int) -> Any:
        import hnswlib

        index = hnswlib.Index(space="ip", dim=self.dim)
        index.init_index(
            max_elements=capacity, ef_construction=EXPANSION_ADD, M=CONNECTIVITY, random_seed=1
        )
        index.set_ef(EXPANSION_SEARCH)
        return index

    def _add(self, keys: np.ndarray, vectors: np.ndarray) -> None:
        """Insert (or, for a key already there, replace) vectors, growing the index as needed."""
        need = self._index.get_current_count() + len(keys)
        if need > self._index.get_max_elements():
            self._index.resize_index(max(need, 2 * self._index.get_max_elements()))
        self._index.add_items(
            np.asarray(vectors, dtype=np.float32), keys.astype(np.int64),
            num_threads=os.cpu_count() or 1,
        )
        self._dirty = True

    def _load(self) -> None:
        """Read the saved file; anything wrong with it (missing, another encoder's, truncated,
        overwritten) leaves no index, and the caller rebuilds."""
        import hnswlib

        self._index = None
        self._clean_if_no_writer()
        try:
            meta = json.loads(self.meta_path.read_text())
            if (meta["encoder"], meta["dim"], meta["kind"]) != (self.encoder, self.dim, KIND):
                raise ValueError("index of another encoder")
            if meta["check"] != _file_check(self.path):
                raise ValueError("file does not match its sidecar")
            index = hnswlib.Index(space="ip", dim=self.dim)
            index.load_index(str(self.path), max_elements=int(meta["count"]) + 1024)
            index.set_ef(EXPANSION_SEARCH)
        except FileNotFoundError:
            return
        except Exception as exc:  # a corrupt or foreign file is rebuilt, never fatal
            log.warning("vector index %s unreadable (%s): rebuilding", self.path, exc)
            return
        self._index = index
        self._fingerprint = Fingerprint(int(meta["count"]), int(meta["seq"]))

    def _catch_up(self, after_seq: int) -> None:
        for keys, vecs in self.vectors.iter_vectors(after_seq=after_seq):
            self._add(keys, vecs)


def _file_check(path: Path) -> str:
    """Size and a blake2b hash of the whole file, streamed (a 1 GiB index: about a second)."""
    digest = hashlib.blake2b(digest_size=16)
    size = 0
    with path.open("rb") as f:
        while block := f.read(HASH_BLOCK):
            digest.update(block)
            size += len(block)
    return f"{size}:b2:{digest.hexdigest()}"
