"""The approximate-nearest-neighbour index over the stored vectors (an HNSW graph over float16
cells, inner product on unit vectors: `embed.ann.Graph`, faiss), persisted beside the database.

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
before faiss reads a byte of it (faiss trusts its input and may crash on a damaged file): a file
that does not match (damaged anywhere, truncated, a crash between the two renames) is rebuilt
from the stored vectors rather than trusted. Temporary files a killed writer left are removed by
the next writer, under the lock.

Warming up never holds a search. A catch-up or rebuild of more than `WARM_INLINE` vectors (after
a killed import or embedding, the saved file can be far behind the store) runs in one background
thread that builds a fresh index beside the one in memory and swaps it in when whole; meanwhile a
search answers from what is consistent: the index as loaded (the previous saved file, or nothing
when that was unusable) plus an exact scan of every vector written after it, so an answer is
never missing a stored paper. Writers (`sync`, `add`) wait for the warm-up, so there is still one
writer of the index at a time.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import secrets
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from paperfeed.embed.ann import KIND, Graph
from paperfeed.embed.vectors import Fingerprint, VectorStore

log = logging.getLogger(__name__)

# Chosen by benchmarks/bench_semantic_ann.py (see BENCHMARKS.md): faiss's HNSW over float16
# cells against hnswlib's float32 and usearch at the same M and ef_construction.
CONNECTIVITY = 16
EXPANSION_ADD = 128
EXPANSION_SEARCH = 128
LEGACY_SUFFIXES = (".hnsw",)
"""Index files of earlier releases (hnswlib), removed by the first save of the new one."""
HASH_BLOCK = 1 << 20
SAY_SO = 50_000
"""Catching up or rebuilding at least this many vectors is said on stderr (it takes seconds)."""
WARM_INLINE = 1_000
"""A catch-up or rebuild of at most this many vectors is done in the caller (milliseconds); more
runs in the background while searches answer without it."""
WARM_BATCH = 10_000
"""Vectors read and added per step of a background warm-up (the point where closing stops it)."""


class VectorIndex:
    def __init__(self, directory: Path, vectors: VectorStore, encoder: str, dim: int) -> None:
        self.directory = directory
        self.vectors = vectors
        self.encoder = encoder
        self.dim = dim
        self.path = directory / f"{encoder}.ann"
        self.meta_path = directory / f"{encoder}.json"
        self.lock_path = directory / f"{encoder}.ann.lock"
        self._index: Graph | None = None  # loaded lazily
        self._fingerprint = Fingerprint(-1, -1)
        self._dirty = False
        self._lock = threading.RLock()
        self.rebuilt = 0  # how many times this object rebuilt the index (for tests and logs)
        self._warm: threading.Thread | None = None
        self._stop = threading.Event()
        self._pending: _Pending | None = None  # vectors written after the index in memory
        self._pending_lock = threading.Lock()
        self.on_warm: Callable[[], None] | None = None
        """Run by the warm-up thread before it swaps its index in (a test holds it there)."""

    # -- reading ------------------------------------------------------------------------------

    def search(self, vector: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(keys, cosine similarities) of the k nearest stored vectors, best first."""
        return self.search_many(np.asarray(vector, dtype=np.float32)[None, :], k)[0]

    def search_many(self, vectors: np.ndarray, k: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """`search` for each row of `vectors`, in one batched query (faiss's threads share the
        rows)."""
        queries = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
        with self._lock:
            index = self._current()
            if index is not None:
                return _knn(index, queries, k)
            base, since = self._index, self._fingerprint.seq if self._index is not None else 0
            found = _knn(base, queries, k) if base is not None else None
        keys, vecs = self._pending_since(since)
        return [_merge(found[i] if found else None, keys, vecs, q, k) for i, q in enumerate(queries)]

    def vectors_of(self, keys: Sequence[int]) -> np.ndarray | None:
        """The vectors of these keys as the index holds them (float32, in the order given), or
        None when the index is not in step with the store or lacks one of them: the caller
        reads the store instead. A read from memory, where the store's is one row each."""
        with self._lock:
            index = self._current()
            if index is None:
                return None
            return index.get(keys)

    def __len__(self) -> int:
        with self._lock:
            index = self._current()
            if index is not None:
                return len(index)
        return self.vectors.fingerprint().count  # warming up: what the index will hold

    @property
    def warming(self) -> bool:
        """Whether a background catch-up or rebuild is running."""
        return self._warm is not None and self._warm.is_alive()

    def wait(self, timeout: float | None = None) -> None:
        """Wait for a background warm-up to finish (writers, and tests)."""
        warm = self._warm
        if warm is not None:
            warm.join(timeout)

    def ready(self) -> Graph | None:
        """The index, brought up to date with the store when the store has moved on (waiting
        for a warm-up: for writers and benchmarks; searches never call it)."""
        self.sync()
        return self._index

    def _current(self) -> Graph | None:
        """Under the lock: the index if it is in step with the store (caught up here when that is
        quick), else None with a background warm-up started."""
        if self.warming:
            return None
        if self._index is not None and self._index.wasted:
            self._start_warm_up(fresh=True)  # re-embedded papers' dead slots: a compact rebuild
            return None
        if self._index is not None and self.vectors.latest_seq() == self._fingerprint.seq:
            return self._index
        if self._index is None:
            self._load()
        truth = self.vectors.fingerprint()
        if self._index is not None and self._fingerprint == truth:
            return self._index
        if self._index is not None and self._fingerprint.seq <= truth.seq:
            gap = truth.count - self._fingerprint.count
        else:
            gap = truth.count
        if gap <= WARM_INLINE and self._sync_inline(truth):
            return self._index
        self._start_warm_up()
        return None

    def _start_warm_up(self, fresh: bool = False) -> None:
        self._stop.clear()
        self._warm = threading.Thread(
            target=self._warm_up, args=(fresh,), name=f"warm-{self.encoder}", daemon=True
        )
        self._warm.start()

    # -- keeping up with the store --------------------------------------------------------------

    def sync(self) -> None:
        """Load the file, catch it up with the store, or rebuild it (in memory: a writer's next
        `save` persists it), waiting for a background warm-up if one is needed."""
        while True:
            with self._lock:
                if self._current() is not None:
                    return
            self.wait()

    def _sync_inline(self, truth: Fingerprint) -> bool:
        """Catch up (or rebuild) a few vectors here; False when that leaves a rebuild too large
        to do here (deleted papers: the index holds more than the store), for the background."""
        with self._lock:
            if self._index is not None and self._fingerprint.seq <= truth.seq:
                self._catch_up(self._fingerprint.seq)
                if len(self._index) == truth.count and not self._index.wasted:
                    self._fingerprint = truth
                    self._dirty = True  # in memory; the next writer's save persists it
                    return True
                log.info("vector index out of step with the store: rebuilding")
            if truth.count > WARM_INLINE:
                return False
            self.rebuild(truth)
            return True

    def rebuild(self, truth: Fingerprint | None = None) -> None:
        """A fresh index from every stored vector."""
        with self._lock:
            truth = truth or self.vectors.fingerprint()
            if truth.count >= SAY_SO:
                log.warning("rebuilding the %s vector index from %d stored vectors (import, index "
                            "or serve saves it)", self.encoder, truth.count)
            self._index = self._new()
            for keys, vecs in self.vectors.iter_vectors():
                self._add(keys, vecs)
            self._fingerprint = Fingerprint(len(self._index), truth.seq)
            self.rebuilt += 1
            self._dirty = True

    def add(self, keys: np.ndarray, vectors: np.ndarray, seq: int) -> None:
        """Add vectors just written to the store at sequence `seq` (kept in memory; `save`
        persists). An index that was behind before is caught up by the next `sync`."""
        self.wait()  # a warm-up's index first: one writer at a time
        with self._lock:
            if self._index is not None and self._fingerprint.seq == seq - 1:
                self._add(np.asarray(keys, dtype=np.uint64), vectors)
                self._fingerprint = Fingerprint(len(self._index), seq)
                self._dirty = True
                return
        self.sync()  # outside the lock: a warm-up it waits for takes the lock to swap its index in

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
                    self._index.save(tmp)
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
                    for suffix in LEGACY_SUFFIXES:  # an earlier release's file, replaced by this one
                        self.path.with_suffix(suffix).unlink(missing_ok=True)
                        self.path.with_suffix(suffix + ".lock").unlink(missing_ok=True)
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
        self._stop.set()
        self.wait()
        self._index = None
        self._pending = None

    # -- warming up in the background -----------------------------------------------------------

    def _warm_up(self, fresh: bool = False) -> None:
        """The background thread: a fresh index from the saved file and the vectors written since
        (or, `fresh` or when that fails, from every stored vector), swapped in when whole."""
        try:
            built = self._build(fresh)
            if built is None:
                return  # closed meanwhile
            index, fingerprint, rebuilt = built
            if self.on_warm is not None:
                self.on_warm()
            with self._lock:
                if self._stop.is_set():
                    return
                self._index, self._fingerprint = index, fingerprint
                self.rebuilt += rebuilt
                self._dirty = True  # in memory; the next writer's save persists it
                self._pending = None
        except Exception:  # searches go on answering exactly; the next one tries again
            log.exception("warming up the %s vector index failed", self.encoder)

    def _build(self, fresh: bool = False) -> tuple[Graph, Fingerprint, int] | None:
        truth = self.vectors.fingerprint()
        index, saved = (None, Fingerprint(-1, -1)) if fresh else self._read_file()
        if index is not None and saved.seq <= truth.seq and not index.wasted:
            if truth.count - saved.count >= SAY_SO:
                log.warning("vector index %s is %d vectors behind the store: catching up in the "
                            "background", self.encoder, truth.count - saved.count)
            if not self._fill(index, saved.seq):
                return None
            if len(index) == truth.count and not index.wasted:
                return index, truth, 0
            log.info("vector index out of step with the store: rebuilding")
        if truth.count >= SAY_SO:
            log.warning("rebuilding the %s vector index from %d stored vectors in the background",
                        self.encoder, truth.count)
        index = self._new()
        if not self._fill(index, 0):
            return None
        return index, Fingerprint(len(index), truth.seq), 1

    def _fill(self, index: Graph, after_seq: int) -> bool:
        """Add the vectors written after `after_seq` to `index`; False when closed meanwhile."""
        for keys, vecs in self.vectors.iter_vectors(after_seq=after_seq, batch=WARM_BATCH):
            if self._stop.is_set():
                return False
            index.add(keys, vecs)
        return True

    def _pending_since(self, seq: int) -> tuple[np.ndarray, np.ndarray]:
        """The vectors written after `seq` (latest version of each key), read once and then
        extended with what arrived since."""
        with self._pending_lock:
            pending = self._pending
            if pending is None or pending.base != seq:
                pending = _Pending(seq, seq, np.zeros(0, dtype=np.uint64),
                                   np.zeros((0, self.dim), dtype=np.float32))
            upto = self.vectors.latest_seq()
            if upto != pending.upto:
                new = list(self.vectors.iter_vectors(after_seq=pending.upto))
                if new:
                    keys = np.concatenate([pending.keys, *(k for k, _ in new)])
                    vecs = np.concatenate([pending.vectors, *(v for _, v in new)])
                    last = len(keys) - 1 - np.unique(keys[::-1], return_index=True)[1]
                    pending = _Pending(seq, upto, keys[last], vecs[last])
                else:
                    pending = _Pending(seq, upto, pending.keys, pending.vectors)
            self._pending = pending
            return pending.keys, pending.vectors

    # -- internals ------------------------------------------------------------------------------

    def _new(self) -> Graph:
        return Graph(self.dim, CONNECTIVITY, EXPANSION_ADD)

    def _add(self, keys: np.ndarray, vectors: np.ndarray) -> None:
        assert self._index is not None
        self._index.add(keys, vectors)
        self._dirty = True

    def _load(self) -> None:
        """Read the saved file into memory (nothing when it is unusable: the caller rebuilds)."""
        self._index = None
        index, saved = self._read_file()
        if index is not None:
            self._index, self._fingerprint = index, saved

    def _read_file(self) -> tuple[Graph | None, Fingerprint]:
        """The saved index and its fingerprint; (None, _) when anything is wrong with it (missing,
        another encoder's or kind, truncated, overwritten)."""
        self._clean_if_no_writer()
        try:
            meta = json.loads(self.meta_path.read_text())
            if meta["kind"] != KIND:
                raise ValueError(f"an index of kind {meta['kind']!r}, of an earlier release")
            if (meta["encoder"], meta["dim"]) != (self.encoder, self.dim):
                raise ValueError("index of another encoder")
            if meta["check"] != _file_check(self.path):
                raise ValueError("file does not match its sidecar")
            index = Graph.load(self.path, self.dim, CONNECTIVITY, EXPANSION_ADD)
            if len(index) != int(meta["count"]):
                raise ValueError(f"{len(index)} vectors, the sidecar says {meta['count']}")
        except FileNotFoundError:
            return None, Fingerprint(-1, -1)
        except Exception as exc:  # a corrupt or foreign file is rebuilt, never fatal
            log.warning("vector index %s unreadable (%s): rebuilding", self.path, exc)
            return None, Fingerprint(-1, -1)
        return index, Fingerprint(int(meta["count"]), int(meta["seq"]))

    def _catch_up(self, after_seq: int) -> None:
        for keys, vecs in self.vectors.iter_vectors(after_seq=after_seq):
            self._add(keys, vecs)


class _Pending:
    """Vectors written after sequence number `base`, read up to `upto`."""

    __slots__ = ("base", "keys", "upto", "vectors")

    def __init__(self, base: int, upto: int, keys: np.ndarray, vectors: np.ndarray) -> None:
        self.base, self.upto, self.keys, self.vectors = base, upto, keys, vectors


def _knn(index: Graph, queries: np.ndarray, k: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(keys, cosines) of each query's k nearest, best first (the search list at least k long,
    so a k near the index's size still finds k)."""
    return index.search(queries, k, EXPANSION_SEARCH)


def _merge(
    found: tuple[np.ndarray, np.ndarray] | None, keys: np.ndarray, vectors: np.ndarray,
    query: np.ndarray, k: int,
) -> tuple[np.ndarray, np.ndarray]:
    """The k best of an older index's answer and an exact scan of the vectors written after it
    (a key in both: the newer vector's cosine)."""
    sims = vectors @ query if len(keys) else np.zeros(0, dtype=np.float32)
    if found is not None and len(found[0]):
        old = ~np.isin(found[0], keys)
        keys = np.concatenate([found[0][old], keys])
        sims = np.concatenate([found[1][old], sims])
    order = np.argsort(-sims, kind="stable")[: max(k, 0)]
    return keys[order].astype(np.uint64), sims[order].astype(np.float32)


def _file_check(path: Path) -> str:
    """Size and a blake2b hash of the whole file, streamed (a 1 GiB index: about a second)."""
    digest = hashlib.blake2b(digest_size=16)
    size = 0
    with path.open("rb") as f:
        while block := f.read(HASH_BLOCK):
            digest.update(block)
            size += len(block)
    return f"{size}:b2:{digest.hexdigest()}"
