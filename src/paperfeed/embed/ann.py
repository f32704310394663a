"""One HNSW graph over float16 vectors, addressed by paper key: faiss's `IndexHNSWSQ` (inner
product on unit vectors, cells stored as float16) and the key of each of its slots.

faiss numbers its vectors 0..n-1 in the order added and cannot remove one from an HNSW graph, so
the keys are kept here: `keys[slot]`, and a sorted copy for the reverse look-up. A vector added
again under a key it already has (a paper re-embedded) takes a new slot; the old one is marked
dead and left out of every search by a bitmap selector, so a key is found once, with its newest
vector. `wasted` says when dead slots have grown enough to be worth a rebuild.

Float16 cells are what the store keeps (both backends store float16), so the index holds the
same values, at half hnswlib's float32 memory, and `get` decodes them in C (hnswlib's
`get_items` built a Python list per vector).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

KIND = "faiss-hnsw-sq16"
"""The saved format (the sidecar's `kind`): a file of another kind is rebuilt, not read."""
READ_BLOCK = 1 << 22


@functools.cache
def _faiss() -> Any:
    """faiss, imported on first use (a store without vectors never loads it), with its own
    OpenBLAS held to the BLAS threads paperfeed runs (see paperfeed/__init__.py) and its OpenMP
    threads passive between calls."""
    # OpenMP threads that spin after each search (libgomp's default) take the core another
    # request or digest worker wanted: they sleep instead, unless the user chose otherwise
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import faiss
    from threadpoolctl import threadpool_limits

    threadpool_limits(int(os.environ.get("OPENBLAS_NUM_THREADS", "1")), user_api="blas")
    return faiss


def _threads(faiss: Any, work: int) -> None:
    """Run the next faiss call of this thread on up to `work` cores. OpenMP keeps the count per
    thread, and the BLAS limit above lowered it for the importing thread only: set per call."""
    faiss.omp_set_num_threads(max(1, min(work, os.cpu_count() or 1)))


class Graph:
    """An HNSW graph of `dim`-dimensional unit vectors keyed by paper keys (unsigned integers
    below 2**63: both stores number papers from 1)."""

    def __init__(self, dim: int, connectivity: int, expansion_add: int, *, index: Any = None,
                 keys: np.ndarray | None = None) -> None:
        faiss = _faiss()
        self.dim = dim
        if index is None:
            index = faiss.IndexHNSWSQ(dim, faiss.ScalarQuantizer.QT_fp16, connectivity,
                                      faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = expansion_add
        self.index = index
        self._keys = np.asarray(keys if keys is not None else np.zeros(0), dtype=np.int64)
        """Per slot, its key (as int64 bits), or -1 for a dead slot."""
        self._index_keys()

    # -- the key map ----------------------------------------------------------------------------

    def _index_keys(self) -> None:
        live = np.flatnonzero(self._keys >= 0)
        order = np.argsort(self._keys[live], kind="stable")
        self._sorted = self._keys[live][order]
        self._slots = live[order]
        self._dead = int(len(self._keys) - len(live))
        self._bitmap: np.ndarray | None = None

    def _slots_of(self, keys: np.ndarray) -> np.ndarray:
        """The live slot of each key, -1 where there is none."""
        at = np.searchsorted(self._sorted, keys)
        at = np.minimum(at, max(len(self._sorted) - 1, 0))
        if not len(self._sorted):
            return np.full(len(keys), -1, np.int64)
        found = self._sorted[at] == keys
        return np.where(found, self._slots[at], -1)

    def __len__(self) -> int:
        """Live vectors (one per key)."""
        return len(self._sorted)

    @property
    def wasted(self) -> bool:
        """Whether dead slots (replaced vectors) are a quarter of the live ones or more."""
        return self._dead > max(1_000, len(self._sorted) // 4)

    # -- writing --------------------------------------------------------------------------------

    def add(self, keys: np.ndarray, vectors: np.ndarray) -> None:
        """Insert vectors, or replace the vector of a key already there (the last one given
        wins when a key repeats)."""
        keys = np.asarray(keys).astype(np.uint64).view(np.int64)
        if not len(keys):
            return
        if keys.min() < 0:  # -1 marks a dead slot; the stores' keys are positive integers
            raise ValueError("paper keys must be below 2**63")
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(keys), self.dim)
        last = len(keys) - 1 - np.unique(keys[::-1], return_index=True)[1]
        if len(last) < len(keys):
            last.sort()
            keys, vectors = keys[last], vectors[last]
        old = self._slots_of(keys)
        start = len(self._keys)
        faiss = _faiss()
        _threads(faiss, len(keys))
        self.index.add(vectors)
        grown = np.concatenate((self._keys, keys))
        grown[old[old >= 0]] = -1
        self._keys = grown
        if (old >= 0).any() or not len(self._sorted) or keys.min() <= self._sorted[-1]:
            self._index_keys()
        else:  # new keys above every key held (an import's usual case): append in order
            order = np.argsort(keys, kind="stable")
            self._sorted = np.concatenate((self._sorted, keys[order]))
            self._slots = np.concatenate((self._slots, start + order))
            self._bitmap = None

    # -- reading --------------------------------------------------------------------------------

    def search(self, queries: np.ndarray, k: int, expansion: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """(keys as uint64, cosines) of each query's k nearest live vectors, best first."""
        faiss = _faiss()
        n = len(self)
        if n == 0 or k <= 0 or not len(queries):
            empty = (np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.float32))
            return [empty for _ in range(len(queries))]
        k = min(k, n)
        params = faiss.SearchParametersHNSW(efSearch=max(expansion, k))
        bitmap = None
        if self._dead:
            bitmap = self._live_bitmap()
            params.sel = faiss.IDSelectorBitmap(len(self._keys), faiss.swig_ptr(bitmap))
        _threads(faiss, len(queries))  # a batch's queries share the cores (one runs on one)
        sims, slots = self.index.search(np.ascontiguousarray(queries, dtype=np.float32), k, params=params)
        del bitmap  # kept alive until the search returned
        out = []
        for row_slots, row_sims in zip(slots, sims, strict=True):
            valid = row_slots >= 0
            out.append((self._keys[row_slots[valid]].view(np.uint64), row_sims[valid].astype(np.float32)))
        return out

    def _live_bitmap(self) -> np.ndarray:
        if self._bitmap is None:
            self._bitmap = np.packbits(self._keys >= 0, bitorder="little")
        return self._bitmap

    def get(self, keys: Sequence[int] | np.ndarray) -> np.ndarray | None:
        """The vectors of these keys (float32 from the float16 cells, in the order given), or
        None when one of them is not held."""
        asked = np.asarray(keys).astype(np.uint64).view(np.int64)
        slots = self._slots_of(asked)
        if (slots < 0).any():
            return None
        if not len(slots):
            return np.zeros((0, self.dim), np.float32)
        return np.asarray(self.index.reconstruct_batch(slots), dtype=np.float32)

    # -- the file -------------------------------------------------------------------------------

    def save(self, path: Path) -> None:
        """Write the slot keys (.npy) then faiss's own serialisation to `path`, fsynced."""
        faiss = _faiss()
        with path.open("wb") as f:
            np.save(f, self._keys, allow_pickle=False)
            faiss.write_index(self.index, faiss.PyCallbackIOWriter(f.write))
            f.flush()
            os.fsync(f.fileno())

    @classmethod
    def load(cls, path: Path, dim: int, connectivity: int, expansion_add: int) -> Graph:
        """Read a file `save` wrote (checked against its sidecar first: faiss trusts its input)."""
        faiss = _faiss()
        with path.open("rb") as f:
            keys = np.load(f, allow_pickle=False)
            index = faiss.read_index(faiss.PyCallbackIOReader(f.read, READ_BLOCK))
        if index.d != dim or index.ntotal != len(keys):
            raise ValueError(f"index of {index.ntotal} × {index.d}, slots for {len(keys)} × {dim}")
        return cls(dim, connectivity, expansion_add, index=index, keys=keys)

