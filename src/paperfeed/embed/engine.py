"""The semantic side of a library: vector sets side by side, one per encoder, each with its ANN
index, and the flag naming the one rankers use. `Library` owns one `SemanticEngine`.

Every paper gets the instant (static) encoder's vectors at import. The quality encoder (all-MiniLM-L6-v2
on onnxruntime by default) fills its own set afterwards: in the background under `paperfeed serve`,
in the foreground under `paperfeed index`. Rankers read one set per query (`view()`): the static
one until the quality set has a vector for every paper, then the quality set, switched by one meta
flag flipped in the transaction that checks the set is complete. Changing the quality encoder
fills the new set the same way while the old one keeps serving, and drops the old one only after
the switch (blue/green).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from paperfeed.embed import Encoder, canonical_name, get_encoder, paper_text
from paperfeed.embed.index import VectorIndex
from paperfeed.embed.vectors import VectorSets, VectorStore
from paperfeed.errors import EncoderUnavailable
from paperfeed.store.base import Filters

log = logging.getLogger(__name__)

EMBED_BATCH = 1_024
EXACT_FILTERED_MAX = 100_000
"""A filtered semantic search over at most this many papers scans their vectors exactly (a few ms
per 10k); above it, the ANN index is asked for more and more neighbours until enough pass."""

SAVE_EVERY = 100_000
"""`paperfeed index` saves the index file after every this many vectors."""

IndexProgress = Callable[[int], None]
OFF = ("", "none", "off", "false", "0")


def quality_name(value: str | None) -> str | None:
    """The canonical quality encoder of a setting, None when it is turned off."""
    if value is None or value.strip().lower() in OFF:
        return None
    return canonical_name(value)


class VectorSet:
    """One encoder's vectors in the store and the ANN index over them."""

    def __init__(self, vectors: VectorStore, directory: Path, name: str) -> None:
        self.vectors = vectors
        self.directory = directory
        self.name = name
        self._index: VectorIndex | Any | None = None

    @property
    def encoder_name(self) -> str:
        return self.name

    @property
    def encoder(self) -> Encoder:
        return get_encoder(self.name)

    def ensure(self) -> None:
        """Create the set in the store (loading the encoder for its dimension)."""
        if self.vectors.encoder() is None:
            self.vectors.set_encoder(self.name, self.encoder.dim)

    def use_encoder(self, name: str | None) -> bool:  # the Ray path's entry point
        self.ensure()
        return False

    def exists(self) -> bool:
        return self.vectors.encoder() is not None

    def has_vectors(self) -> bool:
        return self.exists() and self.vectors.latest_seq() > 0

    def coverage(self, papers: int) -> dict[str, Any]:
        if not self.exists():
            return {"encoder": self.name, "vectors": 0, "papers": papers, "missing": papers}
        missing = self.vectors.count_missing()
        return {"encoder": self.name, "vectors": papers - missing, "papers": papers,
                "missing": missing}

    @property
    def index(self) -> VectorIndex | Any:
        if self._index is None:
            recorded = self.vectors.encoder()
            dim = recorded[1] if recorded else self.encoder.dim
            own = self.vectors.own_index(self.name, dim)  # pgvector keeps its own index
            self._index = own if own is not None else VectorIndex(
                self.directory, self.vectors, self.name, dim
            )
        return self._index

    def close(self) -> None:
        if self._index is not None:
            self._index.close()
            self._index = None

    def save(self) -> None:
        if self._index is not None:
            self._index.save()

    # -- writing --------------------------------------------------------------------------------

    def embed_rows(self, rows: Sequence[tuple[int, str, str]]) -> int:
        if not rows:
            return 0
        self.ensure()
        return self._keep(rows, self._encode_rows(rows))

    def _encode_rows(
        self, rows: Sequence[tuple[int, str, str]], encoder: Encoder | None = None
    ) -> np.ndarray:
        return (encoder or self.encoder).encode([paper_text(t, a) for _, t, a in rows])

    def _keep(self, rows: Sequence[tuple[int, str, str]], vecs: np.ndarray) -> int:
        keys = np.array([r[0] for r in rows], dtype=np.uint64)
        seq = self.vectors.put(keys.tolist(), vecs)
        self.index.add(keys, vecs, seq)
        return len(rows)

    def embed_ids(self, ids: Sequence[str]) -> int:
        self.ensure()
        done = 0
        for start in range(0, len(ids), EMBED_BATCH):
            done += self.embed_rows(self.vectors.texts(ids[start : start + EMBED_BATCH]))
        return done

    def embed_missing(
        self,
        progress: IndexProgress | None = None,
        batch: int = EMBED_BATCH,
        *,
        newest_first: bool = False,
        between: Callable[[], bool] | None = None,
        encoder: Encoder | None = None,
    ) -> int:
        """Embed every paper of the store that lacks a vector in this set, `batch` papers per
        encoder call. `newest_first`: the most recently added papers first. `between` runs after
        each batch (the background embedder yields there) and stops the run by returning False.
        `encoder`: the same model loaded another way (the background embedder's one-thread
        session), used instead of the set's own."""
        self.ensure()
        self.index.sync()
        if newest_first:
            return self._embed_newest(progress, batch, between, encoder)
        done = 0
        after = 0
        # Two stages on two cores: a worker thread encodes the next batch (the tokenizer and the
        # pooling release the GIL) while this thread stores the last one and adds it to the ANN
        # index (faiss releases it too). Batches, and so vectors, are the same as one by one.
        with ThreadPoolExecutor(1, thread_name_prefix="encode") as encoding:
            pending: tuple[Sequence[tuple[int, str, str]], Future[np.ndarray]] | None = None
            while True:
                rows = self.vectors.missing(batch, after_key=after)
                if rows:
                    after = rows[-1][0]
                    upcoming = (rows, encoding.submit(self._encode_rows, rows, encoder))
                if pending is not None:
                    kept = self._keep(pending[0], pending[1].result())
                    done += kept
                    if progress:
                        progress(kept)
                    if done % SAVE_EVERY < kept:
                        self.index.save()  # bounds what a crash leaves for the next catch-up
                    if between is not None and not between():
                        break
                if not rows:
                    break
                pending = upcoming
        self.index.save()
        return done

    def _embed_newest(
        self, progress: IndexProgress | None, batch: int, between: Callable[[], bool] | None,
        encoder: Encoder | None,
    ) -> int:
        done = 0
        before: int | None = None
        while rows := self.vectors.missing_newest(batch, before_key=before):
            before = rows[-1][0]
            kept = self._keep(rows, self._encode_rows(rows, encoder))
            done += kept
            if progress:
                progress(kept)
            if done % SAVE_EVERY < kept:
                self.index.save()
            if between is not None and not between():
                break
        self.index.save()
        return done

    # -- reading --------------------------------------------------------------------------------

    def embed_query(self, text: str) -> np.ndarray:
        return self.encoder.encode_query(text)

    def nearest(
        self,
        vector: np.ndarray,
        k: int,
        filters: Filters = Filters(),
        exclude: frozenset[int] | set[int] = frozenset(),
    ) -> list[tuple[int, str, float]]:
        """(key, paper id, cosine) of the k papers nearest `vector` that pass the filters."""
        in_store = self.vectors.nearest(vector, k, filters, exclude)
        if in_store is not None:  # the store searches its own ANN index (pgvector)
            return in_store
        if not filters.empty and self.vectors.count_filtered(filters, EXACT_FILTERED_MAX + 1) <= (
            EXACT_FILTERED_MAX
        ):
            keys, vecs = self.vectors.filtered_vectors(filters)
            sims = vecs @ vector if len(keys) else np.zeros(0, dtype=np.float32)
            order = np.argsort(-sims)
            out = []
            for i in order:
                if int(keys[i]) not in exclude:
                    out.append((int(keys[i]), int(keys[i]), float(sims[i])))
                if len(out) >= k:
                    break
            ids = self.vectors.ids_of([o[0] for o in out])
            return [(key, ids[key], s) for key, _, s in out if key in ids]
        fetch = k + len(exclude) + 10
        index_size = len(self.index)
        while True:
            keys, sims = self.index.search(vector, fetch)
            ids = self.vectors.ids_of(keys.tolist(), filters)
            hits = [
                (int(key), ids[int(key)], float(s))
                for key, s in zip(keys, sims, strict=True)
                if int(key) in ids and int(key) not in exclude
            ]
            if len(hits) >= k or fetch >= index_size or fetch >= 20_000:
                return hits[:k]
            fetch *= 8

    def nearest_keys(
        self, vector: np.ndarray, k: int, filters: Filters = Filters()
    ) -> list[tuple[int, float]]:
        """(key, cosine) of the k papers nearest `vector` that pass the filters. Without filters,
        the index's answer as it is, without looking each paper up in the store (a sixth of a
        hybrid search at a million papers): it may name a paper deleted since it was indexed,
        which the caller drops when `Store.get_by_keys` does not find it."""
        if not filters.empty:
            return [(key, sim) for key, _, sim in self.nearest(vector, k, filters)]
        keys, sims = self.index.search(vector, k)
        return [(int(key), float(sim)) for key, sim in zip(keys, sims, strict=True)]

    def nearest_keys_many(self, vectors: np.ndarray, k: int) -> list[list[tuple[int, float]]]:
        """`nearest_keys` (unfiltered) for each row of `vectors`, in one batched index query
        (one faiss call, or one database round trip)."""
        return [
            [(int(key), float(sim)) for key, sim in zip(keys, sims, strict=True)]
            for keys, sims in self.index.search_many(vectors, k)
        ]

    def vectors_of(self, keys: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """(keys found, their vectors): `vectors.get_vectors`, from the in-memory index when it
        holds them all. The index's cells are float16, as the store keeps them (both backends
        do): the same values either way."""
        if len(keys):
            held = self.index.vectors_of(keys)
            if held is not None:
                return np.asarray(keys, dtype=np.uint64), held
        return self.vectors.get_vectors(keys)

    def similarities(self, vector: np.ndarray, keys: Sequence[int]) -> dict[int, float]:
        """Exact cosine of `vector` with the stored vectors of the given papers."""
        found, vecs = self.vectors.get_vectors(keys)
        if not len(found):
            return {}
        sims = vecs @ vector
        return {int(k): float(s) for k, s in zip(found, sims, strict=True)}


class SemanticEngine:
    """The vector sets of a store. Reading goes through `view()` (the active set, read once);
    the attributes below that delegate to it keep one-call uses short."""

    def __init__(
        self,
        sets: VectorSets,
        directory: Path,
        default_encoder: str | None,
        quality_encoder: str | None = None,
    ) -> None:
        self.sets = sets
        self.directory = directory
        self.default_encoder = canonical_name(default_encoder)
        self.quality_encoder = quality_name(quality_encoder)
        self._open: dict[str, VectorSet] = {}
        self._unavailable: dict[str, str] = {}
        self._pinned = threading.local()

    # -- the sets -------------------------------------------------------------------------------

    def vector_set(self, name: str) -> VectorSet:
        if name not in self._open:
            self._open[name] = VectorSet(self.sets.open_set(name), self.directory, name)
        return self._open[name]

    @property
    def static(self) -> VectorSet:
        """The set every paper gets at import."""
        return self.vector_set(self.default_encoder)

    def available(self, name: str) -> bool:
        """Whether the encoder loads (a missing or corrupt model file: no, with `warning` set)."""
        if name in self._unavailable:
            return False
        try:
            get_encoder(name)
        except EncoderUnavailable as exc:
            self._unavailable[name] = str(exc)
            log.warning("encoder %s unavailable: %s", name, exc)
            return False
        return True

    @property
    def warning(self) -> str | None:
        """Why the quality set cannot be filled or used, if it cannot."""
        if not self._unavailable:
            return None
        name, why = next(iter(self._unavailable.items()))
        return f"{name} unavailable, serving the {self.default_encoder} vectors: {why}"

    @contextmanager
    def pinned(self) -> Iterator[None]:
        """Within the block, this thread's calls all use the set active at its start (the flag
        read once, not by each call: a recommendation makes about ten), at the write sequence
        number read first (`VectorStore.seq_held`: the block writes no vectors)."""
        if getattr(self._pinned, "name", None) is not None:
            yield
            return
        self._pinned.name = name = self.active_name()
        try:
            with self.vector_set(name).vectors.seq_held():
                yield
        finally:
            self._pinned.name = None

    def active_name(self) -> str:
        """The encoder of the set rankers use now: the flagged one, or the static set before any
        flag or while the flagged encoder cannot load (within `pinned`, the one read first)."""
        pinned = getattr(self._pinned, "name", None)
        if pinned is not None:
            return str(pinned)
        flagged = self.sets.active()
        if flagged is None or flagged == self.default_encoder:
            return self.default_encoder
        return flagged if self.available(flagged) else self.default_encoder

    def view(self) -> VectorSet:
        """The active set, for one query: every step of a ranking reads this one set."""
        return self.vector_set(self.active_name())

    def target(self, override: str | None = None) -> str:
        """The set that should end up active: `override`, else the quality encoder, else the
        static one."""
        if override is not None:
            return canonical_name(override)
        return self.quality_encoder or self.default_encoder

    # -- one-call delegation to the active set ----------------------------------------------------

    @property
    def encoder_name(self) -> str:
        return self.active_name()

    @property
    def encoder(self) -> Encoder:
        return self.view().encoder

    @property
    def vectors(self) -> VectorStore:
        return self.view().vectors

    @property
    def index(self) -> VectorIndex | Any:
        return self.view().index

    def has_vectors(self) -> bool:
        return self.view().has_vectors()

    def embed_query(self, text: str) -> np.ndarray:
        return self.view().embed_query(text)

    def nearest(self, *args: Any, **kwargs: Any) -> list[tuple[int, str, float]]:
        return self.view().nearest(*args, **kwargs)

    def nearest_keys(self, *args: Any, **kwargs: Any) -> list[tuple[int, float]]:
        return self.view().nearest_keys(*args, **kwargs)

    def similarities(self, vector: np.ndarray, keys: Sequence[int]) -> dict[int, float]:
        return self.view().similarities(vector, keys)

    def nearest_keys_many(self, vectors: np.ndarray, k: int) -> list[list[tuple[int, float]]]:
        return self.view().nearest_keys_many(vectors, k)

    def vectors_of(self, keys: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        return self.view().vectors_of(keys)

    # -- writing --------------------------------------------------------------------------------

    def embed_ids(self, ids: Sequence[str]) -> int:
        """The import hook: static vectors for the given papers, and the active set's too when
        that is another (new papers get both, so the active set stays complete)."""
        done = self.static.embed_ids(ids)
        active = self.active_name()
        if active != self.default_encoder:
            self.vector_set(active).embed_ids(ids)
        return done

    def catch_up(self) -> int:
        """Embed every paper that lacks a vector in the static set or in the active set, whatever
        an import reported (a killed import commits papers it never embedded)."""
        done = self.static.embed_missing()
        active = self.active_name()
        if active != self.default_encoder:
            done += self.vector_set(active).embed_missing()
        return done

    def embed_missing(self, progress: IndexProgress | None = None, batch: int = EMBED_BATCH) -> int:
        """Fill the static set (every paper without a static vector)."""
        return self.static.embed_missing(progress, batch)

    def missing(self, name: str, papers: int) -> int:
        """Papers without a vector in `name`'s set (all `papers` before the set exists)."""
        vs = self.vector_set(name)
        return vs.vectors.count_missing() if vs.exists() else papers

    def settle(self, target: str | None = None) -> bool:
        """Activate `target` (default: `self.target()`) if its set is complete, then drop sets
        that are neither active nor static (the old side of a blue/green switch). True when the
        target is now active."""
        name = self.target(target)
        if self.sets.active() != name:
            if not self.vector_set(name).exists() or not self.sets.activate(name):
                return False
            log.info("vector set %s is complete: now active", name)
        if name == self.default_encoder:
            return True  # the quality encoder turned off: its set is kept for when it is back
        for other in self.sets.names():
            if other not in (name, self.default_encoder):
                self.vector_set(other).close()
                self._open.pop(other, None)
                self.sets.drop(other)
        return True

    def fill(
        self,
        target: str | None = None,
        progress: IndexProgress | None = None,
        batch: int = EMBED_BATCH,
        *,
        newest_first: bool = False,
        between: Callable[[], bool] | None = None,
        encoder: Callable[[str], Encoder | None] | None = None,
    ) -> dict[str, int]:
        """Complete the static set, then the target set, then switch to it: vectors embedded per
        set. The target's encoder failing to load raises EncoderUnavailable (the static set stays
        active). `encoder(name)`: another loading of the target's model to fill it with (None:
        the shared one)."""
        done = {self.default_encoder: self.static.embed_missing(progress, batch)}
        if self.sets.active() is None:
            self.sets.activate(self.default_encoder)
        name = self.target(target)
        if name != self.default_encoder:
            get_encoder(name)  # a missing or corrupt model file fails here, before any work
            self._unavailable.pop(name, None)
            done[name] = self.vector_set(name).embed_missing(
                progress, batch, newest_first=newest_first, between=between,
                encoder=encoder(name) if encoder is not None else None,
            )
        self.settle(name)
        return done

    def small_backlog(self, limit: int, papers: int) -> int:
        """How many quality vectors `fill_if_small` would embed now: the quality set's missing
        vectors when there are at most `limit` of them, else 0 (also 0 when there is no quality
        encoder, its set is already active, or its encoder cannot load)."""
        name = self.target()
        if limit <= 0 or name == self.default_encoder or self.sets.active() == name:
            return 0
        missing = self.missing(name, papers)
        return missing if missing <= limit and self.available(name) else 0

    def fill_if_small(
        self, limit: int, papers: int, progress: IndexProgress | None = None
    ) -> int:
        """Fill the quality set on the spot when at most `limit` of its vectors are missing, and
        switch to it: a small library ranks with the quality encoder right after its import (a
        few hundred papers take seconds), a large backlog is left to `serve` and `index`. Not
        while another embedder holds the store's lock (it is filling the set already)."""
        if not self.small_backlog(limit, papers):
            return 0
        lock = self.sets.try_embedder_lock()
        if lock is None:
            return 0
        name = self.target()
        try:
            return self.fill(name, progress).get(name, 0)
        finally:
            lock.release()

    def status(self, papers: int) -> dict[str, Any]:
        """Each set's coverage, the active one, and any warning (for `stats`)."""
        active = self.active_name()
        names = list(dict.fromkeys([self.default_encoder, *self.sets.names(), self.target()]))
        sets = []
        for name in names:
            entry = self.vector_set(name).coverage(papers)
            entry["active"] = name == active
            entry["coverage"] = round(entry["vectors"] / papers, 4) if papers else 1.0
            sets.append(entry)
        return {"active": active, "target": self.target(), "sets": sets, "warning": self.warning}

    def save(self) -> None:
        for vs in self._open.values():
            vs.save()

    def close(self) -> None:
        for vs in self._open.values():
            vs.close()
        self._open.clear()
