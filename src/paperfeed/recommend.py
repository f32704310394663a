"""Recommendations from a reader's positives (saved papers) and negatives ("not interested").

The model is fitted per request, over a bounded candidate set, never over the whole corpus:

- **Candidates**: the ANN neighbourhoods of the positives (the positives, or with many positives
  up to `Weights.anchors` spherical k-means centroids of them, ask the index in one batched
  query), or with `since` the papers of that recent window (scored exactly when the window is
  small, else the neighbourhoods filtered to it). Without vectors: a keyword (BM25) query of the
  library's strongest terms plus the window.
- **Model**: a nearest-centroid linear model (Rocchio) in two spaces, dense vectors and a sparse
  tf-idf of title and abstract (uni- and bigrams, sublinear tf) fitted on the shortlisted
  candidates, the library and the background only. A paper scores its mean similarity to its
  `knn` most similar positives, minus `negative` times the same towards the explicit negatives,
  minus `background` times its similarity to the centroid of a random sample of the corpus (the
  background negatives). The dense and sparse scores are standardised and added with weight
  `sparse`. On the real pages (benchmarks/bench_recommend.py) this beat arxiv-sanity's per-request
  SVM and zotero-arxiv-daily's mean cosine; a per-request SVM or ridge on [dense; tf-idf] with the
  same negatives did no better, and costs more.
- **Calibration**: the score is standardised against a second random sample of the corpus scored
  by the same model (`z`: how many background standard deviations above a random paper), and
  mapped to 0..1 as `1 / (1 + exp(-(z - floor_z)))`, so 0.5 is the floor for every user and
  encoder. With `floor` on, nothing under it is returned: a library unrelated to every candidate
  gets `[]` ("nothing new for you today") rather than a padded list.
- **Reasons**: the saved papers a hit is closest to, and the terms of the tf-idf profile that
  weigh most in its score.
"""

from __future__ import annotations

import functools
import math
import threading
import time
import weakref
from collections.abc import Callable, Collection, Sequence
from collections.abc import Set as AbstractSet
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Concatenate, ParamSpec, TypeVar

import numpy as np
from scipy.sparse import csr_array

from paperfeed.embed import paper_text
from paperfeed.embed.engine import SemanticEngine
from paperfeed.records import Paper, is_withdrawn, title_key
from paperfeed.store.base import Filters, Store
from paperfeed.terms import Analysis, TermRows, analyser, gram


@dataclass(frozen=True)
class Weights:
    """The model's settings. Defaults chosen by benchmarks/bench_recommend.py on one split of the
    real pages and checked on the other (see BENCHMARKS.md)."""

    knn: int = 5
    """A paper's similarity to the library: the mean over its this many most similar positives
    (all of them for a small library; a local neighbourhood for a large, many-topic one)."""
    negative: float = 0.75
    """Weight of the similarity to the explicit negatives (same top-`knn` mean)."""
    background: float = 0.25
    """Weight of the similarity to the centroid of the background sample."""
    sparse: float = 0.25
    """Weight of the standardised tf-idf score beside the standardised dense score (1)."""
    floor_z: float = 4.5
    """The relevance floor, in background standard deviations above a random paper: chosen on
    random libraries over a synthetic corpus (benchmarks/bench_recommend_speed.py), where at
    z >= 3 most libraries got something, at 4.5 few did."""
    near_cosine: dict[str, float] = field(
        default_factory=lambda: {"minilm-static": 0.75, "minilm": 0.6, "minilm-int8": 0.6}
    )
    """A candidate this close (cosine) to one saved paper clears the floor whatever its z: in a
    small or one-field store the background sample is the library's own field, so z stays low
    for true topic-mates. Per encoder (static cosines run higher); well above the search floors
    of `search.SETTINGS`, which random text reaches at their 99th percentile."""
    anchors: int = 16
    """At most this many ANN queries per request (positives or their centroids)."""
    candidates: int = 800
    """About this many candidates from the ANN neighbourhoods, shared among the anchors."""
    shortlist: int = 40
    """Candidates scored on both signals (the best by the dense score): the tf-idf side
    re-ranks these; a cold paper's text analysis is the dearest step of a request."""


WEIGHTS = Weights()
P = ParamSpec("P")
R = TypeVar("R")
BACKGROUND = 256  # corpus papers sampled as background (half to fit, half to calibrate)
BACKGROUND_TEXTS = 64  # of each half, also used on the sparse side
BACKGROUND_TTL = 600.0  # seconds a background sample is reused for (it is drawn again after)
WINDOW_EXACT = 5_000  # a `since` window this small is scored whole
MAX_POSITIVES = 1_000
MAX_NEGATIVES = 500
TEXT_POSITIVES = 20  # positives and negatives whose texts shape the tf-idf profile (the latest)
KEYWORD_TERMS = 8
KEYWORD_CANDIDATES = 300
KEYWORD_WINDOW = 1_000  # without vectors: the newest papers of a `since` window considered
REASON_TITLE = 90


@dataclass
class Recommendation:
    paper: Paper
    score: float
    """Calibrated relevance in 0..1, comparable across users; 0.5 is the floor."""
    reasons: list[str] = field(default_factory=list)
    nearest: list[str] = field(default_factory=list)
    """Ids of the saved papers it is closest to."""
    terms: list[str] = field(default_factory=list)
    """The profile terms that drove it."""


@dataclass
class Explanation:
    """What the model learned: the saved papers that weigh most (id, weight; weights sum to 1),
    and the terms it likes and dislikes, strongest first."""

    weights: list[tuple[str, float]] = field(default_factory=list)
    likes: list[str] = field(default_factory=list)
    dislikes: list[str] = field(default_factory=list)


# -- the background sample ------------------------------------------------------------------------


@dataclass
class _Background:
    keys: np.ndarray  # sampled keys, fit half first then calibration half
    vectors: np.ndarray | None  # their unit vectors
    texts: dict[int, tuple[str, str]]  # key: (paper id, text)
    parts: dict[int, tuple[np.ndarray, np.ndarray]]  # key: the text analysed (`Analyser.of`)
    encoder: str | None
    drawn: float
    store: weakref.ref  # the store it was drawn from (an id() alone may be reused)
    seq: int  # the vectors' write sequence number when drawn
    blocks: dict[tuple[int, ...], _Block] = field(default_factory=dict)

    def block(self, keys: Sequence[int]) -> _Block:
        """The analyses of these sampled papers merged once (`_Block`), kept for the next
        request that ends its tf-idf space with the same ones (nearly every request)."""
        token = tuple(keys)
        found = self.blocks.get(token)
        if found is None:
            found = _Block.of([self.parts[k] for k in token])
            with _LOCK:
                if len(self.blocks) >= 8:
                    self.blocks.clear()
                self.blocks[token] = found
        return found


_BACKGROUNDS: dict[int, _Background] = {}
_LOCK = threading.Lock()


def _draw_background(store: Store, semantic: SemanticEngine | None) -> _Background:
    """A uniform sample of the corpus, reused per store for `BACKGROUND_TTL` seconds or until
    vectors are written.

    Keys are drawn uniformly below the store's paper count (plus a margin): both backends number
    papers from 1 (SQLite rowid, PostgreSQL identity), so this is uniform over the papers that
    exist, slightly under-sampling the newest after many deletions."""
    encoder = semantic.encoder_name if semantic is not None and semantic.has_vectors() else None
    seq = semantic.vectors.latest_seq() if encoder is not None and semantic is not None else 0
    cached = _BACKGROUNDS.get(id(store))
    now = time.monotonic()
    if (
        cached is not None and cached.store() is store and cached.encoder == encoder
        and cached.seq == seq and now - cached.drawn < BACKGROUND_TTL
    ):
        return cached
    rng = np.random.default_rng(20_26)
    top = int(store.count() * 1.05) + 16
    draw = np.unique(rng.integers(1, top + 1, size=BACKGROUND * 3))
    rng.shuffle(draw)
    vectors = None
    if encoder is not None and semantic is not None:
        found, vecs = semantic.vectors.get_vectors(draw.tolist())
        order = {int(k): i for i, k in enumerate(found)}
        keep = [int(k) for k in draw if int(k) in order][:BACKGROUND]
        keys = np.array(keep, dtype=np.int64)
        vectors = _unit(vecs[[order[k] for k in keep]]) if keep else np.zeros((0, 1), np.float32)
    else:
        papers = store.get_by_keys(draw[: BACKGROUND * 2].tolist())
        keys = np.array([int(k) for k in draw if int(k) in papers][:BACKGROUND], dtype=np.int64)
    half = len(keys) // 2
    text_keys = [*keys[:half][:BACKGROUND_TEXTS].tolist(), *keys[half:][:BACKGROUND_TEXTS].tolist()]
    papers = store.get_by_keys(text_keys)
    texts = {k: (p.id, paper_text(p.title, p.abstract)) for k, p in papers.items()}
    parts = dict(zip(texts, analyser().of_many(list(texts.values())), strict=True))
    background = _Background(keys, vectors, texts, parts, encoder, now, weakref.ref(store), seq)
    with _LOCK:
        _BACKGROUNDS[id(store)] = background
    return background


def forget_background(store: Store) -> None:
    """Drop the cached background sample of `store` (a benchmark or test that changed it)."""
    with _LOCK:
        _BACKGROUNDS.pop(id(store), None)


# -- scoring --------------------------------------------------------------------------------------


def _topk_mean(sims: np.ndarray, k: int) -> np.ndarray:
    """Row-wise mean of the k largest values (all of them when there are at most k)."""
    if sims.shape[1] == 0:
        return np.zeros(sims.shape[0], dtype=np.float64)
    if sims.shape[1] <= k:
        return sims.mean(axis=1)
    return np.partition(sims, sims.shape[1] - k, axis=1)[:, -k:].mean(axis=1)


def _sims(x: Any, y: Any) -> np.ndarray:
    """x @ y.T as a dense array, for dense arrays or sparse rows (`_Rows`). A dense product
    is taken as (y @ x.T).T when x has more rows (the candidates against the library): measured
    in requests at 1M papers, numpy's OpenBLAS took 3-4 times as long the other way round
    (~10 ms against ~2.8 ms for 800 candidates × 250 library papers, BENCHMARKS.md)."""
    if isinstance(x, _Rows):
        return x.gram(y)
    if x.shape[0] > y.shape[0]:
        return np.asarray(y @ x.T).T
    return np.asarray(x @ y.T)


def _dot(x: Any, vector: np.ndarray) -> np.ndarray:
    """x @ vector, for dense arrays or sparse rows (`_Rows`)."""
    if isinstance(x, _Rows):
        return x.dot(vector)
    return np.asarray(x @ vector).ravel()


def _profile_score(x: Any, pos: Any, neg: Any, bg_centroid: np.ndarray | None, w: Weights) -> np.ndarray:
    """The Rocchio score of rows `x` (see the module docstring); all inputs unit rows, dense or
    sparse."""
    if x.shape[0] == 0:
        return np.zeros(0)
    n_pos = pos.shape[0]
    if neg.shape[0]:  # one product with both (one pass over x's rows), split after
        sims = _sims(x, _stacked(pos, neg))
        score = _topk_mean(sims[:, :n_pos], w.knn) - w.negative * _topk_mean(sims[:, n_pos:], w.knn)
    else:
        score = _topk_mean(_sims(x, pos), w.knn)
    if bg_centroid is not None and w.background:
        score = score - w.background * _dot(x, bg_centroid)
    return score


def _stacked(top: Any, bottom: Any) -> Any:
    """The rows of `top` then those of `bottom` (dense arrays, or sparse rows of one space)."""
    if isinstance(top, _Rows):
        return _Rows(np.concatenate((top.data, bottom.data)),
                     np.concatenate((top.indices, bottom.indices)),
                     np.concatenate((top.indptr, bottom.indptr[1:] + top.indptr[-1])),
                     max(top.width, bottom.width))
    return np.concatenate((top, bottom))


def _mean_row(x: Any) -> np.ndarray:
    if isinstance(x, _Rows):
        return x.mean()
    return np.asarray(x.mean(axis=0)).ravel()


def _standardise(values: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """How many standard deviations of `reference` each value lies above its mean."""
    if not len(values):
        return np.zeros(0)
    if len(reference) < 2:
        reference = values
    mean, std = float(reference.mean()), float(reference.std())
    return (values - mean) / max(std, 1e-6)


def _calibrated(z: float, w: Weights) -> float:
    return 1.0 / (1.0 + math.exp(-(z - w.floor_z)))


def _members(keys: np.ndarray, of: AbstractSet[int]) -> np.ndarray:
    """Which of `keys` are in `of`, as a boolean array (set look-ups: at a request's sizes,
    a few hundred keys, np.isin's sorting costs several times more)."""
    return np.fromiter((k in of for k in keys.tolist()), bool, len(keys))


def _unit(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


def _anchors(pos: np.ndarray, n: int) -> np.ndarray:
    """The positives themselves, or `n` spherical k-means centroids of them (a few iterations,
    seeded deterministically by farthest-point picks)."""
    if len(pos) <= n:
        return pos
    picks = [0]
    best = pos @ pos[0]
    for _ in range(n - 1):
        picks.append(int(np.argmin(best)))
        best = np.maximum(best, pos @ pos[picks[-1]])
    centroids = pos[picks]
    for _ in range(4):
        assign = np.argmax(pos @ centroids.T, axis=1)
        members = np.zeros((len(centroids), len(pos)), dtype=pos.dtype)
        members[assign, np.arange(len(pos))] = 1
        sums = members @ pos  # each centroid's members summed (np.add.at is far slower)
        filled = np.linalg.norm(sums, axis=1) > 0
        centroids = np.where(filled[:, None], _unit(sums), centroids)
    return centroids


# -- the sparse side --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Block:
    """The analyses of documents that end many requests' tf-idf spaces (the background
    sample's), concatenated once: their entries, and their distinct term ids (sorted) with each
    entry's place among them. A request then sorts its own documents' entries together with
    the block's distinct ids only (`_merged_columns`): the same columns and entries as sorting
    all of them."""

    tf: np.ndarray
    """Each entry's sublinear term frequency, 1 + log(count)."""
    lengths: list[int]
    rows: np.ndarray
    """Each entry's document (0 for the first)."""
    columns: np.ndarray
    local: np.ndarray

    @classmethod
    def of(cls, parts: Sequence[Analysis]) -> _Block:
        flat = np.concatenate([ids for ids, _ in parts]) if parts else np.zeros(0, np.int64)
        columns, local = np.unique(flat, return_inverse=True)
        lengths = [len(ids) for ids, _ in parts]
        return cls(_tf(parts), lengths, _rows_of(lengths), columns, local)


def _tf(parts: Sequence[Analysis]) -> np.ndarray:
    values = np.concatenate([c for _, c in parts]) if parts else np.zeros(0, np.float32)
    return np.log(values) + np.float32(1)


def _rows_of(lengths: Sequence[int]) -> np.ndarray:
    return np.repeat(np.arange(len(lengths)), lengths)


def _merged_columns(
    own: np.ndarray, other: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The sorted union of the term ids in `own` (the entries of some documents, each
    document's sorted) and `other` (a sorted set of distinct ids), and where each entry of both
    lies in it: one stable sort of the two end to end (sorted runs, which timsort merges)."""
    both = np.concatenate((own, other))
    order = np.argsort(both, kind="stable")
    merged = both[order]
    first = np.ones(len(merged), bool)
    np.not_equal(merged[1:], merged[:-1], out=first[1:])
    where = np.empty(len(both), np.int64)
    where[order] = np.cumsum(first) - 1
    return merged[first], where[: len(own)], where[len(own):]


class _Text:
    """A tf-idf space over the texts of one request (sublinear tf, smooth idf over these texts
    only, l2 rows: sklearn's TfidfTransformer), from the cached analyses of `paperfeed.terms`."""

    def __init__(
        self, docs: Sequence[tuple[str, str]],
        known: Sequence[Analysis] | _Block = (),
        stored: dict[str, Analysis] | None = None,
    ) -> None:
        """`known`: the analyses of the last documents, already at hand (the background's),
        or merged already (`_Block`); `stored`: analyses read from the store, by paper id
        (saved papers')."""
        terms = analyser()
        have = stored or {}
        block, tail = (known, []) if isinstance(known, _Block) else (None, list(known))
        fresh = docs[: len(docs) - (len(block.lengths) if block is not None else len(tail))]
        analysed = iter(terms.of_many([(pid, text) for pid, text in fresh if pid not in have]))
        parts = [*(have[pid] if pid in have else next(analysed) for pid, _ in fresh), *tail]
        if block is None:
            own = _Block.of(parts)
            columns, local, tf, lengths, rows_of = own.columns, own.local, own.tf, own.lengths, own.rows
        else:  # the own entries sorted into the block's columns at once (no sort of their own)
            flat = np.concatenate([ids for ids, _ in parts]) if parts else np.zeros(0, np.int64)
            columns, mine, theirs = _merged_columns(flat, block.columns)
            local = np.concatenate((mine, theirs[block.local]))
            tf = np.concatenate((_tf(parts), block.tf))
            lengths = [len(ids) for ids, _ in parts]
            rows_of = np.concatenate((_rows_of(lengths), block.rows + len(parts)))
            lengths += block.lengths
        indptr = np.concatenate(([0], np.cumsum(lengths)))
        width = max(len(columns), 1)
        # TfidfTransformer(sublinear_tf=True)'s arithmetic, without its per-call validation
        # (a few ms, the most of a small request's sparse side): each document holds a term
        # once, so a column's count of entries is its document frequency
        df = np.bincount(local, minlength=width).astype(np.float32)
        idf = np.log(np.float32(len(docs) + 1) / (df + np.float32(1))) + np.float32(1)
        data = tf * idf[local]
        norms = np.sqrt(np.bincount(rows_of, weights=data * data, minlength=len(docs)))
        data = (data / np.maximum(norms, 1e-30)[rows_of]).astype(np.float32)
        self.matrix = _Rows(data, local, indptr, width)
        self.columns = columns
        self.docs = list(docs)

    def rows(self, start: int, stop: int) -> _Rows:
        return self.matrix.block(start, stop)


class _Rows:
    """Sparse rows (CSR arrays) with the few products a request needs. A request's matrices
    are small (a few hundred rows): in numpy where scipy's per-call checks and constructors
    would cost more than the arithmetic, in scipy's sparse product where they do not (`gram`)."""

    def __init__(self, data: np.ndarray, indices: np.ndarray, indptr: np.ndarray, width: int) -> None:
        self.data, self.indices, self.indptr, self.width = data, indices, indptr, width

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.indptr) - 1, self.width

    def block(self, start: int, stop: int) -> _Rows:
        """Rows start..stop-1 (views of the arrays)."""
        stop = max(start, min(stop, self.shape[0]))
        a, b = int(self.indptr[start]), int(self.indptr[stop])
        return _Rows(self.data[a:b], self.indices[a:b], self.indptr[start:stop + 1] - a, self.width)

    def row(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """(column indices, values) of row i."""
        a, b = int(self.indptr[i]), int(self.indptr[i + 1])
        return self.indices[a:b], self.data[a:b]

    def _row_sums(self, entries: np.ndarray) -> np.ndarray:
        """Per row, the sum of `entries` (one value or vector per stored entry)."""
        n = self.shape[0]
        out = np.zeros((n, *entries.shape[1:]), dtype=entries.dtype)
        lengths = np.diff(self.indptr)
        filled = lengths > 0
        if filled.any():
            out[filled] = np.add.reduceat(entries, self.indptr[:-1][filled], axis=0)
        return out

    def dot(self, vector: np.ndarray) -> np.ndarray:
        """self @ vector (a dense vector of `width`)."""
        return self._row_sums(self.data.astype(np.float64) * vector[self.indices])

    def gram(self, other: _Rows) -> np.ndarray:
        """self @ other.T as a dense (rows × other's rows) float32 array. scipy's sparse
        product: ~3 times quicker than gathering the matching entries in numpy at a digest
        section's sizes (25,000 entries against 5,000), BENCHMARKS.md."""
        n, m = self.shape[0], other.shape[0]
        if not n or not m or not len(other.indices) or not len(self.indices):
            return np.zeros((n, m), dtype=np.float32)
        width = max(self.width, other.width)
        a = csr_array((self.data, self.indices.astype(np.int32), self.indptr.astype(np.int32)),
                      shape=(n, width))
        b = csr_array((other.data, other.indices.astype(np.int32), other.indptr.astype(np.int32)),
                      shape=(m, width))
        return np.asarray((a @ b.T).toarray(), dtype=np.float32)

    def mean(self) -> np.ndarray:
        """The mean row, dense (summed in float64: terms of equal weight may come in another
        order than scipy's float32 sums gave)."""
        total = np.bincount(self.indices, weights=self.data, minlength=self.width)
        return total / max(self.shape[0], 1)


class _Names:
    """The names of a request's tf-idf columns, found from some of its texts (those whose
    terms may be shown), looked up only for the columns asked."""

    def __init__(self, space: _Text, rows: Sequence[int]) -> None:
        self.columns = space.columns
        terms = analyser()
        self.found = [terms.positions(*space.docs[i]) for i in rows]

    def __getitem__(self, j: int) -> str:
        if not len(self.columns):
            return ""
        term = int(self.columns[j])
        for tokens, positions in reversed(self.found):  # as a dict updated doc by doc would
            p = positions.get(term)
            if p is not None:
                return gram(tokens, p)
        return ""


def _terms_of(
    weights: np.ndarray, vocab: _Names, n: int, columns: np.ndarray | None = None
) -> list[str]:
    """The n terms of highest positive weight; a unigram already inside a chosen bigram is
    left out (the bigram says more). With `columns`, `weights` are those columns' only (one
    paper's terms, not the whole space's), and equal weights go in column (term id) order."""
    out: list[str] = []
    top = min(n * 4, len(weights))
    if top == 0:
        return out
    if columns is not None:
        order = np.lexsort((columns, -weights))[:top]
        ranked = zip(columns[order].tolist(), weights[order].tolist(), strict=True)
    else:
        best = np.argpartition(-weights, top - 1)[:top]
        best = best[np.argsort(-weights[best])]
        ranked = zip(best.tolist(), weights[best].tolist(), strict=True)
    for j, weight in ranked:
        if weight <= 0 or len(out) >= n:
            break
        term = str(vocab[j])
        if any(term in chosen.split() for chosen in out if " " in chosen):
            continue
        out = [t for t in out if not (" " in term and t in term.split())]
        out.append(term)
    return out[:n]


# -- the request --------------------------------------------------------------------------------


@dataclass
class _Library:
    """The request's positives and negatives, resolved: ids, keys, papers, unit vectors."""

    pos_ids: list[str]
    neg_ids: list[str]
    texts: dict[str, str]
    """The texts (title. abstract) read: of the latest positives and negatives without a
    current stored analysis, or all the latest (`_resolve(texts_wanted=True)`)."""
    analysed: dict[str, Analysis]
    """The current stored analyses of the latest positives and negatives
    (`paperfeed.terms.TermRows`)."""
    titles: dict[str, str]
    """Titles of the positives and negatives read so far (the latest; without vectors, all)."""
    keys: dict[str, int]
    pos_vecs: np.ndarray | None
    neg_vecs: np.ndarray | None
    pos_vec_ids: list[str]


def _resolve(
    store: Store, semantic: SemanticEngine | None, positive: Sequence[str], negative: Sequence[str],
    *, texts_wanted: bool = False,
) -> _Library | None:
    """The library's papers that exist, their vectors, and the stored analyses of the latest;
    their texts only where needed: to analyse one afresh, or to name its terms (`texts_wanted`,
    and without vectors)."""
    pos = list(dict.fromkeys(positive))[-MAX_POSITIVES:]
    negset = set(pos)
    neg = [n for n in dict.fromkeys(negative) if n not in negset][-MAX_NEGATIVES:]
    # which papers exist from a narrow read: their keys (an index read) with vectors, else their
    # titles; whole texts only where wanted (the other titles are read only for the reasons
    # shown, `_titles_shown`)
    latest = [*pos[-TEXT_POSITIVES:], *neg[-TEXT_POSITIVES:]]
    dense = semantic is not None and semantic.has_vectors()
    texts_wanted = texts_wanted or not dense
    read = store.texts_of(latest) if texts_wanted else {}
    titles = {i: title for i, (title, _) in read.items()}
    keys: dict[str, int] = {}
    if dense and semantic is not None:
        keys = semantic.vectors.keys_of([*pos, *neg])
        exists: Collection[str] = keys
    else:
        titles.update(store.titles_of([i for i in [*pos, *neg] if i not in read]))
        exists = titles
    pos = [p for p in pos if p in exists]
    neg = [n for n in neg if n in exists]
    stored = TermRows(store.db)
    analysed: dict[str, Analysis] = {}
    unsure: dict[str, tuple[str, str]] = {}
    asked: set[str] = set()
    while True:  # a paper deleted meanwhile: dropped, and the next latest read instead
        latest = [*pos[-TEXT_POSITIVES:], *neg[-TEXT_POSITIVES:]]
        unasked = [i for i in latest if i not in asked]
        if unasked:
            current, check = stored.current(unasked)
            analysed.update(current)
            unsure.update(check)
            asked.update(unasked)
        want = [i for i in latest if i not in read and (texts_wanted or i not in analysed)]
        if want:
            read.update(store.texts_of(want))
        gone = {i for i in want if i not in read}
        if not gone:
            break
        pos = [p for p in pos if p not in gone]
        neg = [n for n in neg if n not in gone]
    titles.update((i, title) for i, (title, _) in read.items())
    texts = {i: paper_text(title, abstract) for i, (title, abstract) in read.items()}
    if not pos:
        return None
    analysed.update(TermRows.checked(unsure, texts))
    lib = _Library(pos, neg, texts, {i: analysed[i] for i in latest if i in analysed},
                   titles, {}, None, None, [])
    if not dense or semantic is None:
        return lib
    lib.keys = {i: keys[i] for i in [*pos, *neg]}
    found, vecs = semantic.vectors_of([lib.keys[i] for i in [*pos, *neg] if i in lib.keys])
    by_key = {int(k): v for k, v in zip(found, vecs, strict=True)}
    missing = [i for i in [*pos, *neg] if lib.keys.get(i) not in by_key]
    if missing:  # saved but not embedded yet (imported without indexing): embed them here
        texts.update(
            (i, paper_text(title, abstract))
            for i, (title, abstract) in store.texts_of([i for i in missing if i not in texts]).items()
        )
        missing = [i for i in missing if i in texts]
        fresh = semantic.encoder.encode([texts[i] for i in missing])
        for i, v in zip(missing, fresh, strict=True):
            by_key[lib.keys[i]] = v
    dim = len(next(iter(by_key.values())))
    lib.pos_vec_ids = [i for i in pos if lib.keys.get(i) in by_key]
    lib.pos_vecs = _unit(np.array([by_key[lib.keys[i]] for i in lib.pos_vec_ids], np.float32))
    negs = [by_key[lib.keys[i]] for i in neg if lib.keys.get(i) in by_key]
    lib.neg_vecs = _unit(np.array(negs, np.float32)) if negs else np.zeros((0, dim), np.float32)
    return lib


def _window(semantic: SemanticEngine, since: date) -> tuple[np.ndarray, np.ndarray] | None:
    """Keys and vectors of every paper with a vector whose day is on or after `since`, when
    there are at most WINDOW_EXACT of them (cached per window and vector write)."""
    filters = Filters(since=since)
    token = (id(semantic.vectors), since, semantic.vectors.latest_seq())
    cached = _WINDOWS.get(token)
    if cached is not None:
        return cached
    if semantic.vectors.count_filtered(filters, WINDOW_EXACT + 1) > WINDOW_EXACT:
        return None
    keys, vecs = semantic.vectors.filtered_vectors(filters)
    found = (keys.astype(np.int64), _unit(vecs))
    with _LOCK:
        if len(_WINDOWS) > 8:
            _WINDOWS.clear()
        _WINDOWS[token] = found
    return found


_WINDOWS: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}


@dataclass
class _Among:
    """The papers a request may recommend from (`recommend(among=...)`: a digest's new
    arrivals), resolved once and shared by every request that names the same papers: their keys,
    unit vectors (None without vectors) and papers (withdrawn ones left out)."""

    keys: np.ndarray
    vecs: np.ndarray | None
    papers: dict[int, Paper]
    store: weakref.ref  # the store it was read from (an id() alone may be reused)
    owners: dict[str, frozenset[str]] = field(default_factory=dict)
    """The ids of every stored paper sharing each paper's title key (`Store.title_key_owners`,
    read once): a candidate with a library paper's title is left out."""
    key_set: frozenset[int] = frozenset()

    def members(self, keys: np.ndarray) -> np.ndarray:
        """Which of `keys` are the pool's."""
        return _members(keys, self.key_set)


_AMONG: dict[tuple, _Among] = {}
_NOBODY: frozenset[str] = frozenset()
AMONG_CACHE = 4  # distinct windows kept (a digest run has one per distinct "since")


def _among(store: Store, semantic: SemanticEngine | None, ids: tuple[str, ...]) -> _Among:
    dense = semantic is not None and semantic.has_vectors()
    seq = semantic.vectors.latest_seq() if dense and semantic is not None else 0
    # kept per store, vector set and vector write: a digest run's window is read once (its
    # papers were just read by the composer; a paper deleted meanwhile is at worst recommended
    # from the copy read here)
    token = (id(store), id(semantic.vectors) if dense and semantic is not None else 0, seq, ids)
    cached = _AMONG.get(token)
    if cached is not None and cached.store() is store:
        return cached
    if dense and semantic is not None:
        by_id = semantic.vectors.keys_of(list(ids))
        got, vecs = semantic.vectors.get_vectors(list(by_id.values()))
        keys, vecs = got.astype(np.int64), _unit(vecs)
    else:
        keys, vecs = np.zeros(0, np.int64), None
    papers = store.get_many(list(ids))
    by_key: dict[int, Paper] = {}
    if dense:
        for pid, paper in papers.items():
            if pid in by_id and not is_withdrawn(paper):
                by_key[int(by_id[pid])] = paper
        keep = np.fromiter((int(k) in by_key for k in keys), bool, len(keys))
        keys = keys[keep]
        vecs = vecs[keep] if vecs is not None else None
    else:  # no vectors: pseudo-keys in the given order (newest first, for the digest)
        for i, pid in enumerate(ids):
            listed = papers.get(pid)
            if listed is not None and not is_withdrawn(listed):
                by_key[-1 - i] = listed
        keys = np.array(list(by_key), np.int64)
    owners: dict[str, set[str]] = {}
    for tk, pid in store.title_key_owners([title_key(p.title) for p in by_key.values()]):
        owners.setdefault(tk, set()).add(pid)
    found = _Among(keys, vecs, by_key, weakref.ref(store),
                   {tk: frozenset(ids) for tk, ids in owners.items()}, frozenset(keys.tolist()))
    with _LOCK:
        if len(_AMONG) >= AMONG_CACHE:
            _AMONG.clear()
        _AMONG[token] = found
    return found


def _dense_candidates(
    semantic: SemanticEngine, lib: _Library, since: date | None, w: Weights,
    among: _Among | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Candidate keys and their unit vectors (positives and negatives left out)."""
    assert lib.pos_vecs is not None
    own = {k for k in lib.keys.values()}
    if among is not None and among.vecs is not None:
        window: tuple[np.ndarray, np.ndarray] | None = (among.keys, among.vecs)
    else:
        window = _window(semantic, since) if since is not None else None
    if window is not None:
        keys, vecs = window
        # the library's papers in the window, found from the library's side (a few keys against
        # the window's): mostly none, and then the window's arrays are used as they are
        if among is not None and among.vecs is not None:
            inside = [k for k in own if k in among.key_set]
        else:
            mine = np.fromiter(own, np.int64, len(own))
            inside = mine[np.isin(mine, keys)].tolist()
        if not inside:
            return keys, vecs
        keep = ~_members(keys, set(inside))
        return keys[keep], vecs[keep]
    anchors = _anchors(lib.pos_vecs, w.anchors)
    per = max(20, min(200, math.ceil(w.candidates / len(anchors))))
    if since is not None:
        per *= 4  # a large window: the neighbourhoods, filtered to it later
    found: dict[int, None] = {}
    for neighbours in semantic.nearest_keys_many(np.asarray(anchors, np.float32), per):
        for key, _ in neighbours:
            if key not in own:
                found[key] = None
    keys = np.array(list(found), dtype=np.int64)
    if not len(keys):
        return keys, np.zeros((0, lib.pos_vecs.shape[1]), np.float32)
    got, vecs = semantic.vectors_of(np.sort(keys).tolist())  # in key order, as the store reads
    return got.astype(np.int64), _unit(vecs)


def _allowed(
    semantic: SemanticEngine, keys: np.ndarray, head: np.ndarray, exclude: set[str], since: date | None
) -> np.ndarray:
    """The positions in `head` (a bounded head of the ranking) whose paper is not excluded and,
    with `since`, lies in the window. Without a window the excluded ids are turned into keys
    (a covering index on the id: no paper row read) rather than every head key into its id
    (a random paper-row read each, most of a digest section's I/O)."""
    if since is None:
        banned = set(semantic.vectors.keys_of(sorted(exclude)).values()) if exclude else set()
        return np.array([i for i in head if int(keys[i]) not in banned], np.int64)
    passing = semantic.vectors.ids_of([int(keys[i]) for i in head], Filters(since=since))
    allowed = {k for k, pid in passing.items() if pid not in exclude}
    return np.array([i for i in head if int(keys[i]) in allowed], np.int64)


def _keyword_candidates(
    store: Store, terms: list[str], since: date | None, own: set[str]
) -> dict[int, Paper]:
    """Without vectors: a BM25 query of the profile's terms, plus the recent window."""
    filters = Filters(since=since)
    words = list(dict.fromkeys(w for t in terms for w in t.split()))[:KEYWORD_TERMS]
    keys = [k for k, _ in store.keyword_keys(words, limit=KEYWORD_CANDIDATES, filters=filters)]
    papers = store.get_by_keys(keys) if keys else {}
    if since is not None:
        window = store.papers_matching(filters, limit=KEYWORD_WINDOW)
        extra = {p.id for p in window}
        known = {p.id for p in papers.values()}
        # papers_matching yields papers, not keys: give them negative pseudo-keys
        for i, p in enumerate(window):
            if p.id in extra and p.id not in known:
                papers[-1 - i] = p
    return {k: p for k, p in papers.items() if p.id not in own}


def _on_or_after(paper: Paper, since: date) -> bool:
    return paper.day is not None and paper.day >= since


def _pool_candidates(
    store: Store, pool: _Among, terms: list[str], since: date | None, banned: set[str]
) -> dict[int, Paper]:
    """Without vectors, from a given window: its papers that match the profile's terms (BM25,
    over the whole store, kept if in the window), then the window's newest, `KEYWORD_WINDOW` in
    all."""
    words = list(dict.fromkeys(w for t in terms for w in t.split()))[:KEYWORD_TERMS]
    by_id = {p.id: k for k, p in pool.papers.items()}
    hits = store.keyword_keys(words, limit=KEYWORD_CANDIDATES, filters=Filters(since=since))
    matched = store.get_by_keys([k for k, _ in hits]) if hits else {}
    first = [by_id[matched[k].id] for k, _ in hits if k in matched and matched[k].id in by_id]
    order = list(dict.fromkeys([*first, *pool.papers]))
    out: dict[int, Paper] = {}
    for k in order:
        paper = pool.papers[k]
        if paper.id in banned or (since is not None and not _on_or_after(paper, since)):
            continue
        out[k] = paper
        if len(out) >= KEYWORD_WINDOW:
            break
    return out


def _in_one_vector_set(
    fn: Callable[Concatenate[Store, SemanticEngine | None, P], R],
) -> Callable[Concatenate[Store, SemanticEngine | None, P], R]:
    """Run `fn` with the engine's active vector set pinned (`SemanticEngine.pinned`): the flag
    read once, every step ranking in the same set."""

    @functools.wraps(fn)
    def pinned(store: Store, semantic: SemanticEngine | None, *args: P.args, **kwargs: P.kwargs) -> R:
        with semantic.pinned() if semantic is not None else nullcontext():
            return fn(store, semantic, *args, **kwargs)

    return pinned


@_in_one_vector_set
def recommend(
    store: Store,
    semantic: SemanticEngine | None,
    positive: Sequence[str],
    negative: Sequence[str] = (),
    *,
    exclude: Collection[str] = (),
    limit: int = 10,
    since: date | None = None,
    among: Sequence[str] | None = None,
    floor: bool = True,
    weights: Weights = WEIGHTS,
) -> list[Recommendation]:
    """Papers like the positives and unlike the negatives, best first, at most `limit`.

    `positive`/`negative` are canonical paper ids (unknown ones are ignored); `exclude` ids are
    never returned, nor are the positives and negatives themselves or papers with the same title.
    With `since`, only papers whose day is on or after it. With `among` (paper ids, newest
    first: a digest's new arrivals), only those papers, every one of them scored; the window is
    read once and shared by every request naming the same papers (a digest run's users).
    `[]` when `positive` names no paper, or (with `floor`) when nothing clears the relevance
    floor. Every step reads the one vector set active at the start."""
    lib = _resolve(store, semantic, positive, negative)
    if lib is None or limit <= 0:
        return []
    pool = _among(store, semantic, tuple(among)) if among is not None else None
    if pool is not None and not pool.papers:
        return []
    w = weights
    exclude = set(exclude)
    bg = _draw_background(store, semantic)
    own = {*lib.pos_ids, *lib.neg_ids}
    half = len(bg.keys) // 2
    fit_keys, cal_keys = bg.keys[:half], bg.keys[half:]
    dense = lib.pos_vecs is not None and semantic is not None and bg.vectors is not None
    own_keys = set(lib.keys.values())

    # candidates, and the dense score (with its calibration against the background)
    cand_papers: dict[int, Paper] = {}
    dense_z: dict[int, float] = {}
    cand_sims: dict[int, np.ndarray] = {}
    bg_dense_cal: np.ndarray | None = None
    if dense:
        assert semantic is not None and lib.pos_vecs is not None and lib.neg_vecs is not None
        assert bg.vectors is not None
        bvecs = bg.vectors
        keys, vecs = _dense_candidates(semantic, lib, since, w, pool)
        if not len(keys):
            return []
        # background negatives: the fit half minus the candidates (in a small corpus a sampled
        # paper is often a candidate too, and its own vector would weigh against it)
        keep = ~_members(bg.keys, own_keys)
        fit_keep = keep[:half] & ~(
            pool.members(fit_keys) if pool is not None and keys is pool.keys
            else _members(fit_keys, set(keys.tolist()))
        )
        fit_v, cal_v = bvecs[:half][fit_keep], bvecs[half:][keep[half:]]
        centroid = _unit(fit_v.mean(axis=0)) if len(fit_v) else None
        raw = _profile_score(vecs, lib.pos_vecs, lib.neg_vecs, centroid, w)
        cal_raw = _profile_score(cal_v, lib.pos_vecs, lib.neg_vecs, centroid, w)
        z = _standardise(raw, cal_raw)
        bg_dense_cal = _standardise(cal_raw, cal_raw)
        order = np.argsort(-z)
        wanted = min(len(order), w.shortlist + limit)
        if pool is not None:
            # the papers are at hand: the excluded ones (and those before `since`) dropped
            # before the shortlist is cut
            banned, allowed = exclude | own, []
            for i in order.tolist():
                arrival = pool.papers[int(keys[i])]
                if arrival.id in banned or (since is not None and not _on_or_after(arrival, since)):
                    continue
                allowed.append(i)
                if len(allowed) >= wanted:
                    break
            order = np.array(allowed, np.int64)
        elif exclude or since is not None:
            # drop excluded papers (and, for a large window, those before it) before the
            # shortlist is cut, looking up the ids of a bounded head of the ranking only
            order = _allowed(semantic, keys, order[: wanted * 4], exclude - own, since)
        pick = order[:wanted]
        got = (
            {int(keys[i]): pool.papers[int(keys[i])] for i in pick} if pool is not None
            else store.get_by_keys([int(keys[i]) for i in pick])
        )
        if exclude and since is None and pool is None:
            # a key whose paper was deleted since its vector was read: the next ones instead
            # (the filtered id look-up of a `since` request drops such keys before the cut)
            more = wanted
            while len(got) < len(pick) and more < len(order):
                extra = order[more : more + len(pick) - len(got)]
                more += len(extra)
                pick = np.concatenate((pick[[int(keys[i]) in got for i in pick]], extra))
                got.update(store.get_by_keys([int(keys[i]) for i in extra]))
        pick_sims = vecs[pick] @ lib.pos_vecs.T  # one product for the shortlist's reasons
        for j, i in enumerate(pick.tolist()):
            key = int(keys[i])
            paper = got.get(key)
            if paper is None or paper.id in own or paper.id in exclude or is_withdrawn(paper):
                continue
            if since is not None and (paper.day is None or paper.day < since):
                continue
            cand_papers[key] = paper
            dense_z[key] = float(z[i])
            cand_sims[key] = pick_sims[j]
        cal_dense_by_key = {
            int(k): float(v)
            for k, v in zip(cal_keys[keep[half:]], bg_dense_cal, strict=True)
        }
    else:
        cal_dense_by_key = {}

    # the sparse side: one tf-idf space over the shortlist, the library and the background
    pos_text_ids = lib.pos_ids[-TEXT_POSITIVES:]
    neg_text_ids = lib.neg_ids[-TEXT_POSITIVES:]
    fit_set, cal_set = set(fit_keys.tolist()), set(cal_keys.tolist())
    fit_items = [(k, t) for k, t in bg.texts.items() if k in fit_set and t[0] not in own]
    fit_texts = [t for _, t in fit_items]
    cal_items = [(k, t) for k, t in bg.texts.items() if k in cal_set and t[0] not in own]
    lib_texts = [(i, lib.texts.get(i, "")) for i in [*pos_text_ids, *neg_text_ids]]  # "": analysed
    if not dense:
        prelim = _Text([*lib_texts, *fit_texts], [bg.parts[k] for k, _ in fit_items], lib.analysed)
        profile = _mean_row(prelim.rows(0, len(pos_text_ids)))
        if neg_text_ids:
            profile -= w.negative * _mean_row(prelim.rows(len(pos_text_ids), len(lib_texts)))
        terms = _terms_of(profile, _Names(prelim, range(len(lib_texts))), KEYWORD_TERMS)
        if pool is not None:
            cand_papers = _pool_candidates(store, pool, terms, since, own | exclude)
        else:
            cand_papers = _keyword_candidates(store, terms, since, own | exclude)
        cand_papers = {
            k: p for k, p in cand_papers.items() if p.id not in exclude and not is_withdrawn(p)
        }
    if not cand_papers:
        return []
    cand_keys = list(cand_papers)
    cand_texts = [_doc(cand_papers[k]) for k in cand_keys]
    cand_ids = {p.id for p in cand_papers.values()}
    fit_items = [(k, t) for k, t in fit_items if t[0] not in cand_ids]
    # rows: the library, the candidates and the calibration sample (scored in one product),
    # the fit sample (the order of the documents changes no tf-idf value)
    space = _Text(
        [*lib_texts, *cand_texts, *(t for _, t in cal_items), *(t for _, t in fit_items)],
        bg.block([k for k, _ in [*cal_items, *fit_items]]),
        lib.analysed,
    )
    n_pos, n_lib, n_cand = len(pos_text_ids), len(lib_texts), len(cand_texts)
    n_scored = n_cand + len(cal_items)
    rows_pos = space.rows(0, n_pos)
    rows_neg = space.rows(n_pos, n_lib)
    rows_cand = space.rows(n_lib, n_lib + n_cand)
    rows_fit = space.rows(n_lib + n_scored, space.matrix.shape[0])
    sp_centroid = _unit(_mean_row(rows_fit)) if rows_fit.shape[0] else None
    scored = _profile_score(space.rows(n_lib, n_lib + n_scored), rows_pos, rows_neg, sp_centroid, w)
    sparse_raw, sparse_cal = scored[:n_cand], scored[n_cand:]
    sparse_z = _standardise(sparse_raw, sparse_cal)
    sparse_cal_z = _standardise(sparse_cal, sparse_cal)
    profile = _mean_row(rows_pos)
    if rows_neg.shape[0]:
        profile = profile - w.negative * _mean_row(rows_neg)

    # the combination, calibrated on the background papers that have both signals
    if dense:
        combined = np.array([dense_z[k] for k in cand_keys]) + w.sparse * sparse_z
        both = [i for i, (k, _) in enumerate(cal_items) if k in cal_dense_by_key]
        cal_combined = np.array(
            [cal_dense_by_key[cal_items[i][0]] + w.sparse * sparse_cal_z[i] for i in both]
        )
    else:
        combined, cal_combined = sparse_z, sparse_cal_z
    final = _standardise(combined, cal_combined)

    out: list[Recommendation] = []
    # a candidate with the title of a paper of the library's is left out (another version of
    # it): the title keys of the candidates looked up in the store's title-key index
    cand_title_keys = {k: title_key(p.title) for k, p in cand_papers.items()}
    if pool is not None:  # every candidate is one of the pool's, whose owners were read once
        seen = {tk for tk in cand_title_keys.values() if not pool.owners.get(tk, _NOBODY).isdisjoint(own)}
    else:
        seen = {tk for tk, pid in store.title_key_owners(list(cand_title_keys.values())) if pid in own}
    encoder = semantic.encoder_name if dense and semantic is not None else ""
    near = w.near_cosine.get(encoder, 1.01)
    for i in np.argsort(-final):
        zi = float(final[i])
        key = cand_keys[i]
        if floor and zi < w.floor_z and not (key in cand_sims and float(cand_sims[key].max()) >= near):
            continue
        paper = cand_papers[key]
        tk = cand_title_keys[key]
        if tk in seen:
            continue
        seen.add(tk)
        if key in cand_sims and lib.pos_vec_ids:
            sims = cand_sims[key]
            nearest = [lib.pos_vec_ids[j] for j in np.argsort(-sims)[:2]]
        else:
            sims = _sims(rows_pos, rows_cand.block(i, i + 1)).ravel()
            nearest = [pos_text_ids[j] for j in np.argsort(-sims)[:2]]
        columns, values = rows_cand.row(i)
        terms = _terms_of(values * profile[columns], _Names(space, [n_lib + i]), 3, columns)
        out.append(Recommendation(paper, _calibrated(zi, w), [], nearest, terms))
        if len(out) >= limit:
            break
    _titles_shown(store, lib, out)
    for hit in out:
        hit.reasons = _reasons(lib, hit.nearest, hit.terms)
    return out


def _titles_shown(store: Store, lib: _Library, hits: list[Recommendation]) -> None:
    """Read the titles the hits' reasons name that `_resolve` did not read."""
    wanted = [i for h in hits for i in h.nearest[:1] if i not in lib.titles]
    if wanted:
        lib.titles.update(store.titles_of(list(dict.fromkeys(wanted))))


def _doc(paper: Paper) -> tuple[str, str]:
    return paper.id, paper_text(paper.title, paper.abstract)


def _reasons(lib: _Library, nearest: list[str], terms: list[str]) -> list[str]:
    title = lib.titles.get(nearest[0], "") if nearest else ""
    if len(title) > REASON_TITLE:
        title = title[: REASON_TITLE - 1].rstrip() + "…"
    reasons = [f"close to your saved “{title}”"] if title else ["close to your library"]
    if terms:
        reasons.append("terms: " + ", ".join(terms))
    return reasons


@_in_one_vector_set
def explain(
    store: Store,
    semantic: SemanticEngine | None,
    positive: Sequence[str],
    negative: Sequence[str] = (),
    *,
    weights: Weights = WEIGHTS,
) -> Explanation:
    """What the model learns from these papers: each positive's weight (how much it agrees with
    the rest of the library, leave-one-out, and disagrees with the negatives; summing to 1), and
    the tf-idf profile's strongest terms for and against."""
    lib = _resolve(store, semantic, positive, negative, texts_wanted=True)  # its terms named
    if lib is None:
        return Explanation()
    w = weights
    pos_text_ids = lib.pos_ids[-TEXT_POSITIVES:]
    neg_text_ids = lib.neg_ids[-TEXT_POSITIVES:]
    bg = _draw_background(store, semantic)
    texts = [(i, lib.texts[i]) for i in [*pos_text_ids, *neg_text_ids]]
    space = _Text([*texts, *bg.texts.values()], list(bg.parts.values()), lib.analysed)
    rows_pos = space.rows(0, len(pos_text_ids))
    rows_neg = space.rows(len(pos_text_ids), len(texts))
    pos_mean = _mean_row(rows_pos)
    neg_mean = _mean_row(rows_neg) if rows_neg.shape[0] else np.zeros_like(pos_mean)
    names = _Names(space, range(len(texts)))
    likes = _terms_of(pos_mean - w.negative * neg_mean, names, 15)
    dislikes = _terms_of(w.negative * neg_mean - pos_mean, names, 15) if rows_neg.shape[0] else []
    vecs: Any
    negs: Any
    if lib.pos_vecs is not None and lib.neg_vecs is not None:
        ids, vecs, negs = lib.pos_vec_ids, lib.pos_vecs, lib.neg_vecs
    else:
        ids, vecs, negs = pos_text_ids, rows_pos, rows_neg
    n = len(ids)
    if n > 1:
        sims = _sims(vecs, vecs)
        k = min(w.knn, n - 1)
        np.fill_diagonal(sims, -np.inf)
        agree = np.sort(sims, axis=1)[:, -k:].mean(axis=1)
    else:
        agree = np.ones(1)
    if negs.shape[0]:
        agree = agree - w.negative * _topk_mean(_sims(vecs, negs), w.knn)
    spread = agree - agree.min() + 1e-3 if len(agree) > 1 else np.ones(1)
    share = spread / spread.sum()
    ranked = sorted(zip(ids, share.tolist(), strict=True), key=lambda t: -t[1])
    return Explanation([(pid, round(float(s), 6)) for pid, s in ranked], likes, dislikes)
