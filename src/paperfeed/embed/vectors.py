"""Where paper vectors are kept: the store, beside the papers (so an index can be rebuilt without
re-embedding). Each backend implements this interface: `store.sqlite.vectors` (float16 blobs) and
`store.postgres.vectors` (pgvector).

Vectors are keyed by the store's integer key of a paper (`key`), stable across merges that change a
paper's public id, and kept in one *set* per encoder (`VectorSets`): the instant static set and the
quality set live side by side, and a meta flag names the set rankers use (`active`). A
`VectorStore` is one set: every method reads or writes that encoder's vectors only, so no query
can mix vectors of two encoders.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import numpy as np

from paperfeed.store.base import Filters


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """How many vectors there are and the newest write's sequence number: an index built at the
    same fingerprint holds exactly the stored vectors."""

    count: int
    seq: int


class VectorStore(ABC):
    name: str
    """The encoder this set holds vectors of."""

    @abstractmethod
    def encoder(self) -> tuple[str, int] | None:
        """(encoder name, dimension) of this set, or None before it is created."""

    @abstractmethod
    def set_encoder(self, name: str, dim: int) -> bool:
        """Create this set (for encoder `name`, vectors of length `dim`) if it does not exist;
        returns False (sets of other encoders are never touched)."""

    @abstractmethod
    def count_missing(self) -> int:
        """Papers that have no vector yet."""

    @abstractmethod
    def missing(self, limit: int, after_key: int = 0) -> list[tuple[int, str, str]]:
        """Up to `limit` papers without a vector, key above `after_key`, in key order:
        (key, title, abstract)."""

    @abstractmethod
    def missing_newest(self, limit: int, before_key: int | None = None) -> list[tuple[int, str, str]]:
        """Like `missing`, the most recently added papers first (key below `before_key`)."""

    @abstractmethod
    def texts(self, ids: Sequence[str]) -> list[tuple[int, str, str]]:
        """(key, title, abstract) of the given papers that have no vector yet."""

    @abstractmethod
    def put(self, keys: Sequence[int], vectors: np.ndarray) -> int:
        """Store vectors (one transaction); returns the sequence number of this write. Keys whose
        paper has gone meanwhile are skipped."""

    @abstractmethod
    def fingerprint(self) -> Fingerprint: ...

    @abstractmethod
    def latest_seq(self) -> int:
        """The sequence number of the last write of vectors (cheap: checked on every query;
        within `seq_held`, the one read first)."""

    @abstractmethod
    def seq_held(self) -> AbstractContextManager[None]:
        """Within the block, this thread's `latest_seq` is read once (a recommendation asks it
        about six times: one meta read instead of six). Only for blocks that write no vectors."""

    @abstractmethod
    def iter_vectors(
        self, after_seq: int = 0, batch: int = 50_000
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(keys, float32 vectors) in batches, for the vectors written after `after_seq`."""

    @abstractmethod
    def get_vectors(self, keys: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """(keys found, their float32 vectors)."""

    @abstractmethod
    def keys_of(self, ids: Sequence[str]) -> dict[str, int]:
        """The key of each given paper id that exists."""

    @abstractmethod
    def ids_of(self, keys: Sequence[int], filters: Filters = Filters()) -> dict[int, str]:
        """The paper id of each key that exists and passes the filters."""

    @abstractmethod
    def count_filtered(self, filters: Filters, cap: int) -> int:
        """How many papers with vectors pass the filters, counting no further than `cap`."""

    @abstractmethod
    def filtered_vectors(self, filters: Filters) -> tuple[np.ndarray, np.ndarray]:
        """(keys, float32 vectors) of every paper with a vector that passes the filters."""

    # -- optional: a store with its own ANN index (PostgreSQL + pgvector) ---------------------------

    def nearest(
        self,
        vector: np.ndarray,
        k: int,
        filters: Filters = Filters(),
        exclude: frozenset[int] | set[int] = frozenset(),
    ) -> list[tuple[int, str, float]] | None:
        """(key, paper id, cosine) of the k nearest papers passing the filters, searched by the
        store itself; None (the default) when the store has no ANN index of its own and the
        engine's index file answers instead."""
        return None

    def own_index(self, encoder: str, dim: int) -> Any | None:
        """An object with `embed.index.VectorIndex`'s methods that the store keeps itself, or
        None (the default): the engine then keeps an index file beside the database."""
        return None


class VectorSets(ABC):
    """Every vector set of a store, the flag naming the active one, and the lock that lets one
    embedder at a time fill them."""

    @abstractmethod
    def open_set(self, encoder: str) -> VectorStore:
        """The set of `encoder` (created lazily by its `set_encoder`)."""

    @abstractmethod
    def names(self) -> list[str]:
        """The encoders that have a set, in creation order."""

    @abstractmethod
    def active(self) -> str | None:
        """The encoder of the set rankers use, or None before any was activated."""

    @abstractmethod
    def activate(self, encoder: str, *, require_complete: bool = True) -> bool:
        """Make `encoder`'s set the active one, in one transaction that (with `require_complete`)
        first checks that it has a vector for every paper; returns whether the flag now names it."""

    @abstractmethod
    def drop(self, encoder: str) -> int:
        """Delete a set (never the active one); returns how many vectors it held."""

    @abstractmethod
    def try_embedder_lock(self) -> Any | None:
        """A held lock that only one embedder per store can have (across processes), or None when
        another holds it; release with `.release()`."""
