"""A per-process LRU cache of search results that never serves a result older than the store.

Searches repeat (a few popular queries make up much of a search box's traffic), and a search
costs ~5-50 ms of CPU at a million papers where a cached answer costs a dictionary lookup. The
cache is keyed by the normalised query, mode, filters and limit (`Library.search` builds the
key), and it is emptied whenever the store's `change_token()` moves:

- SQLite: `PRAGMA data_version` of a connection the store keeps for this alone. It changes when
  any other connection commits: this process's other threads (an upvote), another web worker, a
  concurrent `paperfeed import`. Reading it costs a few microseconds.
- PostgreSQL: the store's data version (`store.postgres.data_version`), counters that triggers
  bump in the transaction of every write to what a search answers from (papers and their keyword
  statistics, vector sets, local upvotes), visible when it commits, as the data is. A log-in, a
  comment, vacuum, hint bits or another database on the same server move nothing.

`size` bounds the papers held, not the entries (a page 50 deep holds 1,000 papers: counting
entries would let a crawler fill gigabytes). A result is stored only when the token did not move
while it was computed, so a search that ran
across a write never outlives it. A store without a token (`None`) is not cached. Several worker
processes each keep their own cache and each notices the others' writes through the store, so
they stay correct without talking to each other.

Entries are kept pickled and LZ4-compressed. A result of 20 papers is some 500 Python
objects; a thousand cached results made every full pass of the garbage collector walk 300,000
objects, a 60-120 ms pause in the middle of some request (measured at a million papers,
BENCHMARKS.md). A bytes object is one object the collector never looks into; a page of
20 papers is ~26 KB instead of ~67 KB pickled (~0.25 ms to store, ~0.13 ms to read back;
zlib made it 20 KB but took 0.3 ms more to store). It also
hands every caller its own copy, which the caller may change.
"""

from __future__ import annotations

import pickle
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

import lz4.block

T = TypeVar("T")


class SearchCache:
    """`size`: how much to keep in all, by `weigh` (default: how many results, list items); 0
    keeps none."""

    def __init__(
        self, size: int, token: Callable[[], Any], weigh: Callable[[Any], int] | None = None
    ) -> None:
        self.size = size
        self._weigh = weigh or _weight
        self._token = token
        self._entries: OrderedDict[Hashable, tuple[int, bytes]] = OrderedDict()  # (weight, compressed pickle)
        self._held = 0  # results in `_entries`
        self._seen: Any = None  # the token the entries were computed at
        self._lock = threading.Lock()
        self._local = threading.local()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        """The cached value of `key`, or `compute()` (stored if the store held still)."""
        before = self._token() if self.size > 0 else None
        if before is not None:
            with self._lock:
                if before != self._seen:
                    self._empty()
                    self._seen = before
                entry = self._entries.get(key)
                if entry is not None:
                    self._entries.move_to_end(key)
                    self.hits += 1
            if entry is not None:
                self._local.hit = True
                return pickle.loads(lz4.block.decompress(entry[1]))
        self._local.hit = False
        value = compute()
        after = self._token() if before is not None else None
        weight = self._weigh(value)
        keep = after is not None and after == before and weight <= self.size
        blob = lz4.block.compress(pickle.dumps(value, pickle.HIGHEST_PROTOCOL)) if keep else b""
        with self._lock:
            self.misses += 1
            if keep and after == self._seen:
                old = self._entries.pop(key, None)  # computed twice at once: keep one
                if old is not None:
                    self._held -= old[0]
                self._entries[key] = (weight, blob)
                self._held += weight
                while self._held > self.size:
                    self._held -= self._entries.popitem(last=False)[1][0]
        return value

    def _empty(self) -> None:
        self._entries.clear()
        self._held = 0

    def clear(self) -> None:
        with self._lock:
            self._empty()
            self._seen = None

    def last_was_hit(self) -> bool:
        """Whether this thread's last `get` was answered from the cache (for a response header)."""
        return getattr(self._local, "hit", False)

    def __len__(self) -> int:
        return len(self._entries)


def _weight(value: Any) -> int:
    return max(1, len(value)) if hasattr(value, "__len__") else 1
