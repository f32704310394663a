"""Related papers: for one paper, the papers most like it.

Candidates come from the paper's vector neighbours and from a keyword (BM25) query of its title's
words; each candidate is then scored on every signal (vector similarity, that BM25 score, shared authors,
shared categories) and the signals are combined with weights chosen on the real related-papers
pages (see BENCHMARKS.md). The paper itself and papers with the same title (a duplicate record) are
never returned.

The vector signal is not the bare cosine but a diffusion over the candidates' own neighbour graph
(manifold ranking, Zhou et al. 2004, as used for query-time re-ranking in image retrieval): a
candidate that many of the paper's close neighbours are also close to ranks higher than an isolated
one with the same cosine. It costs one small linear solve (about the size of the candidate set) per
call, and on the real pages it is what lifts the ranking above vectors alone.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

import numpy as np

from paperfeed.embed import paper_text
from paperfeed.embed.engine import SemanticEngine, VectorSet
from paperfeed.records import Paper, title_key
from paperfeed.search import STOPWORDS, Hit, query_terms
from paperfeed.store.base import Store

DENSE_CANDIDATES = 100
KEYWORD_CANDIDATES = 15
TITLE_TERMS = 4
MAX_DOC_TERMS = 24
GRAPH_NEIGHBOURS = 15
DIFFUSION_ALPHA = 0.8
_WORD_RE = re.compile(r"[^\W\d_][\w-]*\w|[^\W\d_]", re.UNICODE)


@dataclass(frozen=True)
class Weights:
    """Weights of the min-max-normalised signals, and the vector diffusion's settings. On the real
    pages (benchmarks/bench_related.py) precision fell as the keyword weight grew, so vectors lead
    and keyword overlap, shared authors and categories only break near-ties (the pages carry no
    authors or categories to tune on). `alpha` = 0 turns the diffusion off (plain cosine)."""

    dense: float = 0.9
    keyword: float = 0.1
    authors: float = 0.05
    categories: float = 0.02
    alpha: float = DIFFUSION_ALPHA
    neighbours: int = GRAPH_NEIGHBOURS


WEIGHTS = Weights()
"""The bundled static encoder's weights (and the fallback for an encoder not in the table)."""
WEIGHTS_BY_ENCODER: dict[str, Weights] = {
    "minilm-static": WEIGHTS,
    # all-MiniLM-L6-v2: the same diffusion beat plain cosine on the pages, within each page and
    # across them (BENCHMARKS.md "Per-encoder ranking settings"); no other setting did.
    "minilm": Weights(),
}
WEIGHTS_BY_ENCODER["minilm-int8"] = WEIGHTS_BY_ENCODER["minilm"]  # the same model, int8


def weights_for(encoder: str | None) -> Weights:
    return WEIGHTS_BY_ENCODER.get(encoder or "", WEIGHTS)


def doc_terms(paper: Paper, limit: int = MAX_DOC_TERMS) -> list[str]:
    """A paper's most frequent content words (title words counted three times): the keyword-only
    related-papers baseline of benchmarks/bench_related.py queries with these."""
    words = [w.lower() for w in _WORD_RE.findall(paper.title)] * 3
    words += [w.lower() for w in _WORD_RE.findall(paper.abstract)]
    counts = Counter(w for w in words if w not in STOPWORDS and len(w) > 2)
    return [w for w, _ in counts.most_common(limit)]


def diffusion_scores(
    vector: np.ndarray, candidates: np.ndarray, *, neighbours: int = GRAPH_NEIGHBOURS,
    alpha: float = DIFFUSION_ALPHA,
) -> np.ndarray:
    """Manifold-ranking scores of `candidates` (rows, unit vectors) for the paper `vector`.

    The paper and its candidates form a graph in which every node keeps its `neighbours` most
    similar nodes (cosine, negatives dropped; an edge kept by either end). Ranking spreads from
    the paper along the symmetric-normalised edges: f = (I - alpha S)^-1 e0. `alpha` = 0 is the
    plain cosine order; towards 1 the graph's shape outweighs direct similarity."""
    nodes = np.vstack([vector[None, :], candidates]).astype(np.float64)
    n = len(nodes)
    if n < 3 or alpha <= 0:
        return candidates @ vector
    weights = np.clip(nodes @ nodes.T, 0.0, None)
    np.fill_diagonal(weights, 0.0)
    k = min(neighbours, n - 1)
    drop = np.argsort(-weights, axis=1)[:, k:]
    np.put_along_axis(weights, drop, 0.0, axis=1)
    weights = np.maximum(weights, weights.T)
    inv_sqrt = 1.0 / np.sqrt(weights.sum(axis=1) + 1e-12)
    spread = inv_sqrt[:, None] * weights * inv_sqrt[None, :]
    seed = np.zeros(n)
    seed[0] = 1.0
    return np.linalg.solve(np.eye(n) - alpha * spread, seed)[1:]


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


def _minmax(values: dict[str, float]) -> dict[str, float]:
    if not values:
        return {}
    lo, hi = min(values.values()), max(values.values())
    return {k: (v - lo) / (hi - lo) if hi > lo else 1.0 for k, v in values.items()}


def related(
    store: Store,
    engine: SemanticEngine | VectorSet | None,
    paper: Paper,
    *,
    limit: int = 10,
    weights: Weights | None = None,
) -> list[Hit]:
    """The papers most like `paper`, best first. Without vectors, keyword and author signals
    only. `weights` default to the vectors' encoder's (`WEIGHTS_BY_ENCODER`)."""
    if weights is None:
        weights = weights_for(engine.encoder_name if engine is not None else None)
    self_key = title_key(paper.title)
    candidates: dict[str, Paper] = {}
    dense: dict[str, float] = {}
    key_of: dict[str, int] = {}
    vectors = engine.vectors if engine is not None else None
    vector = None
    if engine is not None and vectors is not None and engine.has_vectors():
        own = vectors.keys_of([paper.id]).get(paper.id)
        if own is not None:
            _, vecs = vectors.get_vectors([own])
            vector = vecs[0] if len(vecs) else None
        if vector is None:
            vector = engine.encoder.encode([paper_text(paper.title, paper.abstract)])[0]
        exclude = {own} if own is not None else set()
        for key, pid, sim in engine.nearest(vector, DENSE_CANDIDATES, exclude=exclude):
            dense[pid] = sim
            key_of[pid] = key
    keyword: dict[str, float] = {}
    # The title's first content words only (a title leads with its topic): fewer and shorter
    # posting lists to rank, which at a million papers is most of the cost of `related`.
    terms = query_terms(paper.title)[:TITLE_TERMS]
    for other, score in store.keyword_search(terms, limit=KEYWORD_CANDIDATES):
        candidates[other.id] = other
        keyword[other.id] = score
    missing = [pid for pid in dense if pid not in candidates]
    candidates.update(store.get_many(missing))
    candidates = {
        pid: p for pid, p in candidates.items()
        if pid != paper.id and title_key(p.title) != self_key
    }
    if not candidates:
        return []
    ids = list(candidates)
    if vectors is not None:
        key_of.update(vectors.keys_of([pid for pid in ids if pid not in key_of]))
    if vector is not None and vectors is not None:
        found, vecs = vectors.get_vectors([key_of[pid] for pid in ids if pid in key_of])
        if len(found):
            by_key = {key: pid for pid, key in key_of.items()}
            scores = diffusion_scores(
                np.asarray(vector, dtype=np.float64), vecs, neighbours=weights.neighbours,
                alpha=weights.alpha,
            )
            dense = {by_key[int(k)]: float(s) for k, s in zip(found, scores, strict=True)}
    authors = {a.lower() for a in paper.author_names}
    cats = set(paper.categories)
    dn, kw = _minmax({p: dense[p] for p in ids if p in dense}), _minmax(
        {p: keyword[p] for p in ids if p in keyword}
    )
    scored: list[tuple[float, str, list[str]]] = []
    for pid in ids:
        other = candidates[pid]
        a = _jaccard(authors, {n.lower() for n in other.author_names})
        c = _jaccard(cats, set(other.categories))
        score = (
            weights.dense * dn.get(pid, 0.0)
            + weights.keyword * kw.get(pid, 0.0)
            + weights.authors * a
            + weights.categories * c
        )
        why = [
            name for name, on in (
                ("semantic", pid in dense), ("keyword", pid in keyword), ("authors", a > 0),
                ("categories", c > 0),
            ) if on
        ]
        scored.append((score, pid, why))
    scored.sort(key=lambda t: (-t[0], t[1]))
    out: list[Hit] = []
    seen_titles = {self_key}
    for score, pid, why in scored:
        tkey = title_key(candidates[pid].title)
        if tkey in seen_titles:
            continue
        seen_titles.add(tkey)
        out.append(Hit(candidates[pid], float(score), why))
        if len(out) >= limit:
            break
    return out
