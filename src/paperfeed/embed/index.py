"""The approximate-nearest-neighbour index over the stored vectors (usearch HNSW, float16 cells,
inner product on unit vectors), persisted beside the database.

The store is the truth; the index file is a cache of it that heals itself. A sidecar JSON records
the store fingerprint (vector count, last write's sequence number) the file was saved at. On open:
a file missing, unreadable or of another encoder is rebuilt from the stored vectors (no
re-embedding); a file behind the store (a crash between the store's write and the index's, or
another process's import) is caught up with the vectors written since, and rebuilt if that does
not make it whole. Writes go to a temporary file renamed into place, index first, sidecar second,
so the sidecar never claims more than the file holds.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path

import numpy as np

from paperfeed.embed.vectors import Fingerprint, VectorStore

log = logging.getLogger(__name__)

# Chosen by benchmarks/bench_semantic_ann.py (see BENCHMARKS.md): float16 halves memory at no
# measurable recall cost; M=16, ef_search=96 gives recall@10 >= 0.97 against exact search.
DTYPE = "f16"
CONNECTIVITY = 16
EXPANSION_ADD = 128
EXPANSION_SEARCH = 96


class VectorIndex:
    def __init__(self, directory: Path, vectors: VectorStore, encoder: str, dim: int) -> None:
        self.directory = directory
        self.vectors = vectors
        self.encoder = encoder
        self.dim = dim
        self.path = directory / f"{encoder}.usearch"
        self.meta_path = directory / f"{encoder}.json"
        self._index = None  # usearch Index, loaded lazily
        self._view = False  # memory-mapped read-only view of the file
        self._fingerprint = Fingerprint(-1, -1)
        self._dirty = False
        self._lock = threading.RLock()
        self.rebuilt = 0  # how many times this object rebuilt the index (for tests and logs)

    # -- reading ------------------------------------------------------------------------------

    def search(self, vector: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(keys, cosine similarities) of the k nearest stored vectors, best first."""
        index = self.ready()
        if len(index) == 0 or k <= 0:
            return np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.float32)
        matches = index.search(np.asarray(vector, dtype=np.float32), min(k, len(index)))
        return matches.keys.astype(np.uint64), (1.0 - matches.distances).astype(np.float32)

    def __len__(self) -> int:
        return len(self.ready())

    def ready(self):
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
                self._catch_up(self._fingerprint.seq)
                if len(self._index) == truth.count:
                    self._fingerprint = truth
                    self.save()
                    return
                log.info("vector index out of step with the store: rebuilding")
            self.rebuild(truth)

    def rebuild(self, truth: Fingerprint | None = None) -> None:
        """A fresh index from every stored vector."""
        with self._lock:
            truth = truth or self.vectors.fingerprint()
            self._index = self._new()
            self._view = False
            for keys, vecs in self.vectors.iter_vectors():
                self._index.add(keys, vecs, threads=os.cpu_count() or 1)
            self._fingerprint = Fingerprint(len(self._index), truth.seq)
            self.rebuilt += 1
            self._dirty = True
            self.save()

    def add(self, keys: np.ndarray, vectors: np.ndarray, seq: int) -> None:
        """Add vectors just written to the store at sequence `seq` (kept in memory; `save`
        persists). An index that was behind before is caught up by the next `sync`."""
        with self._lock:
            in_step = self._index is not None and self._fingerprint.seq == seq - 1
            if not in_step:
                self.sync()
                return
            self._writable()
            keys = np.asarray(keys, dtype=np.uint64)
            self._index.remove(keys)
            self._index.add(keys, vectors, threads=os.cpu_count() or 1)
            self._fingerprint = Fingerprint(len(self._index), seq)
            self._dirty = True

    def save(self) -> None:
        with self._lock:
            if self._index is None or not self._dirty:
                return
            self.directory.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".usearch.tmp")
            self._index.save(str(tmp))
            os.replace(tmp, self.path)
            meta = {
                "encoder": self.encoder,
                "dim": self.dim,
                "dtype": DTYPE,
                "count": self._fingerprint.count,
                "seq": self._fingerprint.seq,
            }
            tmp_meta = self.meta_path.with_suffix(".json.tmp")
            tmp_meta.write_text(json.dumps(meta))
            os.replace(tmp_meta, self.meta_path)
            self._dirty = False

    def close(self) -> None:
        self.save()
        self._index = None

    # -- internals ------------------------------------------------------------------------------

    def _new(self):
        from usearch.index import Index

        return Index(
            ndim=self.dim,
            metric="ip",
            dtype=DTYPE,
            connectivity=CONNECTIVITY,
            expansion_add=EXPANSION_ADD,
            expansion_search=EXPANSION_SEARCH,
        )

    def _load(self) -> None:
        """Open the saved file as a memory-mapped view; anything wrong with it leaves no index."""
        from usearch.index import Index

        self._index = None
        try:
            meta = json.loads(self.meta_path.read_text())
            if (meta["encoder"], meta["dim"], meta["dtype"]) != (self.encoder, self.dim, DTYPE):
                raise ValueError("index of another encoder")
            index = Index.restore(str(self.path), view=True)
            if index is None or index.ndim != self.dim:
                raise ValueError("not an index of this dimension")
            index.expansion_search = EXPANSION_SEARCH
        except FileNotFoundError:
            return
        except Exception as exc:  # a corrupt or foreign file is rebuilt, never fatal
            log.warning("vector index %s unreadable (%s): rebuilding", self.path, exc)
            return
        self._index = index
        self._view = True
        # The file may hold more than the sidecar says (a crash between the two renames): the
        # catch-up re-adds from the sidecar's seq, which is idempotent.
        self._fingerprint = Fingerprint(int(meta["count"]), int(meta["seq"]))

    def _writable(self) -> None:
        """Turn a memory-mapped view into an in-memory index that can take writes."""
        if self._view:
            from usearch.index import Index

            index = Index.restore(str(self.path), view=False)
            index.expansion_search = EXPANSION_SEARCH
            self._index = index
            self._view = False

    def _catch_up(self, after_seq: int) -> None:
        for keys, vecs in self.vectors.iter_vectors(after_seq=after_seq):
            self._writable()
            self._index.remove(keys)
            self._index.add(keys, vecs, threads=os.cpu_count() or 1)
            self._dirty = True
