"""The semantic side of a library: an encoder, the vectors in the store, and the ANN index over
them, kept in step. `Library` owns one of these."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np

from paperfeed.embed import Encoder, canonical_name, get_encoder, paper_text
from paperfeed.embed.index import VectorIndex
from paperfeed.embed.vectors import VectorStore
from paperfeed.store.base import Filters

EMBED_BATCH = 1_024
EXACT_FILTERED_MAX = 100_000
"""A filtered semantic search over at most this many papers scans their vectors exactly (a few ms
per 10k); above it, the ANN index is asked for more and more neighbours until enough pass."""

SAVE_EVERY = 100_000
"""`paperfeed index` saves the index file after every this many vectors."""

IndexProgress = Callable[[int], None]


class SemanticEngine:
    def __init__(self, vectors: VectorStore, directory: Path, default_encoder: str | None) -> None:
        self.vectors = vectors
        self.directory = directory
        self.default_encoder = canonical_name(default_encoder)
        self._index: VectorIndex | None = None

    # -- state ----------------------------------------------------------------------------------

    @property
    def encoder_name(self) -> str:
        """The encoder of the stored vectors, or (before any) the configured one."""
        recorded = self.vectors.encoder()
        return recorded[0] if recorded else self.default_encoder

    @property
    def encoder(self) -> Encoder:
        return get_encoder(self.encoder_name)

    def has_vectors(self) -> bool:
        return self.vectors.encoder() is not None and self.vectors.latest_seq() > 0

    @property
    def index(self) -> VectorIndex:
        recorded = self.vectors.encoder()
        name, dim = recorded if recorded else (self.encoder_name, self.encoder.dim)
        if self._index is None or self._index.encoder != name:
            if self._index is not None:
                self._index.close()
            # A store that indexes its own vectors (pgvector) hands over its index instead.
            own = self.vectors.own_index(name, dim)
            self._index = own if own is not None else VectorIndex(
                self.directory, self.vectors, name, dim
            )
        return self._index

    def close(self) -> None:
        if self._index is not None:
            self._index.close()
            self._index = None

    # -- writing --------------------------------------------------------------------------------

    def use_encoder(self, name: str | None) -> bool:
        """Make `name` the encoder of record (loading it); True when that dropped vectors of
        another encoder, which then need re-embedding."""
        name = canonical_name(name) if name else self.encoder_name
        encoder = get_encoder(name)
        return self.vectors.set_encoder(name, encoder.dim)

    def embed_rows(self, rows: Sequence[tuple[int, str, str]]) -> int:
        """Embed (key, title, abstract) rows, store the vectors, add them to the index."""
        if not rows:
            return 0
        if self.vectors.encoder() is None:
            self.use_encoder(None)
        return self._keep(rows, self._encode_rows(rows))

    def _encode_rows(self, rows: Sequence[tuple[int, str, str]]) -> np.ndarray:
        return self.encoder.encode([paper_text(t, a) for _, t, a in rows])

    def _keep(self, rows: Sequence[tuple[int, str, str]], vecs: np.ndarray) -> int:
        """Store the vectors of `rows` and add them to the index."""
        keys = np.array([r[0] for r in rows], dtype=np.uint64)
        seq = self.vectors.put(keys.tolist(), vecs)
        self.index.add(keys, vecs, seq)
        return len(rows)

    def embed_ids(self, ids: Sequence[str]) -> int:
        """Embed the given papers that lack vectors (the import hook)."""
        done = 0
        for start in range(0, len(ids), EMBED_BATCH):
            done += self.embed_rows(self.vectors.texts(ids[start : start + EMBED_BATCH]))
        return done

    def embed_missing(self, progress: IndexProgress | None = None, batch: int = EMBED_BATCH) -> int:
        """Embed every paper that lacks a vector, `batch` papers per encoder call; progress gets
        each batch's size."""
        if self.vectors.encoder() is None:
            self.use_encoder(None)
        self.index.sync()
        done = 0
        after = 0
        # Two stages on two cores: a worker thread encodes the next batch (the tokenizer and the
        # pooling release the GIL) while this thread stores the last one and adds it to the ANN
        # index (hnswlib releases it too). Batches, and so vectors, are the same as one by one.
        with ThreadPoolExecutor(1, thread_name_prefix="encode") as encoding:
            pending: tuple[Sequence[tuple[int, str, str]], Future[np.ndarray]] | None = None
            while True:
                rows = self.vectors.missing(batch, after_key=after)
                if rows:
                    after = rows[-1][0]
                    upcoming = (rows, encoding.submit(self._encode_rows, rows))
                if pending is not None:
                    kept = self._keep(pending[0], pending[1].result())
                    done += kept
                    if progress:
                        progress(kept)
                    if done % SAVE_EVERY < kept:
                        self.index.save()  # bounds what a crash leaves for the next catch-up
                if not rows:
                    break
                pending = upcoming
        self.index.save()
        return done

    def save(self) -> None:
        if self._index is not None:
            self._index.save()

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
            out = [
                (int(key), ids[int(key)], float(s))
                for key, s in zip(keys, sims, strict=True)
                if int(key) in ids and int(key) not in exclude
            ]
            if len(out) >= k or fetch >= index_size or fetch >= 20_000:
                return out[:k]
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
        (one hnswlib call, or one database round trip)."""
        return [
            [(int(key), float(sim)) for key, sim in zip(keys, sims, strict=True)]
            for keys, sims in self.index.search_many(vectors, k)
        ]

    def similarities(self, vector: np.ndarray, keys: Sequence[int]) -> dict[int, float]:
        """Exact cosine of `vector` with the stored vectors of the given papers."""
        found, vecs = self.vectors.get_vectors(keys)
        if not len(found):
            return {}
        sims = vecs @ vector
        return {int(k): float(s) for k, s in zip(found, sims, strict=True)}
