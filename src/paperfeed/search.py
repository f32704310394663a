"""Ranking: from a user's query text to ranked papers.

Query text is never passed to an engine as syntax: it is cut into plain words here, and the store
quotes each one. An arXiv id (any style, with or without version, or an arXiv URL) or a paper's exact
title finds that paper first.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from paperfeed.records import Paper, parse_arxiv_id, title_key
from paperfeed.relevance import QueryWords
from paperfeed.store.base import Filters, Store

if TYPE_CHECKING:
    import numpy as np

    from paperfeed.embed.engine import SemanticEngine, VectorSet

MAX_TERMS = 32
_WORD_RE = re.compile(r"\w+", re.UNICODE)

STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before
    being below between both but by can did do does doing down during each few for from
    further had has have having he her here hers how i if in into is it its itself just me
    more most my no nor not now of off on once only or other our out over own same she
    should so some such than that the their them then there these they this those through to
    too under until up very was we were what when where which while who whom why will with
    you your via using based towards toward""".split()
)



@dataclass(slots=True)
class Hit:
    """A ranked paper. `score` is higher-is-better within one result list; `why` names the signals
    that found it (e.g. "id", "title", "keyword", "semantic")."""

    paper: Paper
    score: float
    why: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {**self.paper.to_dict(), "score": round(self.score, 6), "why": self.why}


def query_terms(query: str) -> list[str]:
    """Plain lower-case words of a query, stopwords dropped, at most MAX_TERMS of them (a pasted
    10,000-word text still answers quickly). A query of nothing but stopwords has no keyword
    terms (an exact title such as "All you need" is still found by `exact_matches`)."""
    words = [w.lower() for w in _WORD_RE.findall(query)]
    return list(dict.fromkeys(w for w in words if w not in STOPWORDS))[:MAX_TERMS]


def exact_matches(store: Store, query: str) -> list[Paper]:
    """The paper an arXiv id or an exact title names, if any."""
    q = query.strip()
    parsed = parse_arxiv_id(q)
    if parsed:
        paper = store.get(parsed[0])
        return [paper] if paper else []
    if len(q) < 8:
        return []
    return store.find_by_title_key(title_key(q))


def keyword_search(
    store: Store, query: str, *, limit: int = 10, filters: Filters = Filters()
) -> list[Hit]:
    """BM25 over title, abstract and authors (see the store for how each engine ranks)."""
    terms = query_terms(query)
    if not terms:
        return []
    found = store.keyword_search(terms, limit=limit, filters=filters)
    # The relevance floor: when no match holds enough of the query (only any-word matches on
    # its common or lesser words), the query is about nothing here.
    if found and not QueryWords(terms, store.term_fractions(terms)).any_matches(p for p, _ in found):
        return []
    return [Hit(paper, score, ["keyword"]) for paper, score in found]


def missing_arxiv_id(store: Store, query: str) -> str | None:
    """The arXiv id a query names when that paper is not in the library (None otherwise)."""
    parsed = parse_arxiv_id(query.strip())
    if not parsed or store.get(parsed[0]) is not None:
        return None
    return parsed[0]


def with_exact_first(store: Store, query: str, hits: list[Hit], limit: int) -> list[Hit]:
    """Put the paper an id or exact title names at the top, without duplicates."""
    exact = exact_matches(store, query)
    if not exact:
        return hits[:limit]
    top = max((h.score for h in hits), default=0.0)
    ids = {p.id for p in exact}
    why = "id" if parse_arxiv_id(query.strip()) else "title"
    first = [Hit(p, top + 1.0, [why]) for p in exact]
    return (first + [h for h in hits if h.paper.id not in ids])[:limit]


# ---------------------------------------------------------------------------------------------
# Semantic and hybrid ranking. See README "Search and ranking" for how the fusion was
# chosen; the figures are in BENCHMARKS.md.

K = TypeVar("K", bound=str | int)

CANDIDATES = 100
"""How many papers each side (keyword, vectors) proposes to the fusion."""
RRF_K = 60
GATE_CANDIDATES = 10
"""How many of the best keyword matches are checked for holding enough of a query that has no
candidate above the floor."""


@dataclass(frozen=True, slots=True)
class SearchSettings:
    """Ranking settings of one encoder's vectors (cosines of two encoders live on different
    scales). `floor`: the relevance floor's cosine (see `paperfeed.relevance`);
    `keyword_weight`: the normalised keyword score's weight in hybrid fusion (the dense side gets
    the rest); `fusion`: "weighted" or "rrf"."""

    floor: float
    keyword_weight: float = 0.5
    fusion: str = "weighted"


SETTINGS: dict[str, SearchSettings] = {
    "minilm-static": SearchSettings(floor=0.55, keyword_weight=0.5),
    "minilm": SearchSettings(floor=0.40, keyword_weight=0.5),
}
"""Per encoder, chosen on the evaluations in BENCHMARKS.md ("Per-encoder ranking settings")."""
SETTINGS["minilm-int8"] = SETTINGS["minilm"]  # the same model; its vectors are >= 0.99 cosine
FALLBACK = SETTINGS["minilm-static"]
"""For an encoder not in the table (its cosines uncalibrated): the strictest floor."""
KEYWORD_WEIGHT = FALLBACK.keyword_weight
FUSION = FALLBACK.fusion


def settings_for(encoder: str) -> SearchSettings:
    return SETTINGS.get(encoder, FALLBACK)


def semantic_search(
    store: Store, engine: SemanticEngine | VectorSet, query: str, *, limit: int = 10,
    filters: Filters = Filters(),
) -> list[Hit]:
    """Papers nearest the query's meaning (cosine of encoder vectors). A query without a word
    (punctuation only) has no meaning to search for."""
    terms = query_terms(query)
    if not terms:
        return []
    vector = engine.embed_query(query)
    if not vector.any():  # no token the encoder knows: nothing to compare
        return []
    floor = settings_for(engine.encoder_name).floor
    found = engine.nearest(vector, limit, filters)
    if not found or found[-1][2] >= floor:
        papers = store.get_many([pid for _, pid, _ in found])
        return [Hit(papers[pid], sim, ["semantic"]) for _, pid, sim in found if pid in papers]
    # Some fall below the floor: look deeper, keep those that share a query word, and only if
    # the query is about something here at all (`paperfeed.relevance`).
    found = engine.nearest(vector, max(CANDIDATES, limit), filters)
    papers = store.get_many([pid for _, pid, _ in found])
    words = QueryWords(terms, store.term_fractions(terms))
    if found[0][2] < floor and not words.any_matches(papers[pid] for _, pid, _ in found if pid in papers):
        return []
    hits = [
        Hit(papers[pid], sim, ["semantic"]) for _, pid, sim in found
        if pid in papers and (sim >= floor or words.shares(papers[pid]))
    ]
    return hits[:limit]


def _minmax(scores: dict[K, float]) -> dict[K, float]:
    if not scores:
        return {}
    lo, hi = min(scores.values()), max(scores.values())
    span = hi - lo
    return {k: (v - lo) / span if span > 0 else 1.0 for k, v in scores.items()}


def fuse(
    keyword: dict[K, float],
    dense: dict[K, float],
    *,
    method: str = FUSION,
    keyword_weight: float = KEYWORD_WEIGHT,
    rrf_k: int = RRF_K,
) -> dict[K, float]:
    """One score per paper (id or key) from a keyword score list and a dense (cosine) score list.

    `weighted`: each side min-max normalised over the candidates it scored, then
    `w * keyword + (1 - w) * dense` (a side that did not score a paper adds 0).
    `rrf`: reciprocal-rank fusion, `w / (k + rank_kw) + (1 - w) / (k + rank_dense)`."""
    if method == "rrf":
        out: dict[K, float] = {}
        for weight, scores in ((keyword_weight, keyword), (1 - keyword_weight, dense)):
            ranked = sorted(scores, key=scores.__getitem__, reverse=True)
            for rank, pid in enumerate(ranked, start=1):
                out[pid] = out.get(pid, 0.0) + weight / (rrf_k + rank)
        return out
    kw, dn = _minmax(keyword), _minmax(dense)
    return {
        pid: keyword_weight * kw.get(pid, 0.0) + (1 - keyword_weight) * dn.get(pid, 0.0)
        for pid in {*kw, *dn}
    }


def hybrid_search(
    store: Store, engine: SemanticEngine | VectorSet, query: str, *, limit: int = 10,
    filters: Filters = Filters(), method: str | None = None, keyword_weight: float | None = None,
    floor: float | None = None,
) -> list[Hit]:
    """Keyword and vector candidates fused into one ranking. Every candidate gets its exact
    cosine (from the stored vectors, for keyword candidates the ANN list missed); a vector
    candidate outside the keyword list scores 0 on that side. (Scoring those with BM25 too was
    tried: FTS5 cannot rank a given set of rows without reading whole posting lists, which took
    seconds per query at a million papers.)

    Candidates are handled by key (the integer both the store and the vector index know a paper
    by), not by paper id: translating between the two took a sixth of a search at a million
    papers. Fusion method, keyword weight and relevance floor default to the encoder's
    `SETTINGS`; a candidate below the floor is kept only if it holds enough of the query's
    words (`paperfeed.relevance`)."""
    view = getattr(engine, "view", None)  # one vector set for every step, in either thread
    engine = view() if callable(view) else engine
    tuned = settings_for(engine.encoder_name)
    method = method or tuned.fusion
    keyword_weight = tuned.keyword_weight if keyword_weight is None else keyword_weight
    floor = tuned.floor if floor is None else floor
    terms = query_terms(query)
    if not terms:
        return []
    pool = max(CANDIDATES, limit)

    def nearest() -> tuple[np.ndarray, dict[int, float]]:
        vector = engine.embed_query(query)
        return vector, dict(engine.nearest_keys(vector, pool, filters)) if vector.any() else {}

    if store.concurrent_reads:  # the two sides overlap, each on its own pooled connection
        with ThreadPoolExecutor(1, thread_name_prefix="hybrid") as side:
            semantic = side.submit(nearest)
            keyword = dict(store.keyword_keys(terms, limit=pool, filters=filters))
            vector, dense = semantic.result()
    else:
        keyword = dict(store.keyword_keys(terms, limit=pool, filters=filters))
        vector, dense = nearest()
    if vector.any():
        # Keyword candidates the ANN list missed: their exact cosine from the stored vectors.
        dense.update(engine.similarities(vector, [key for key in keyword if key not in dense]))
    fused = fuse(keyword, dense, method=method, keyword_weight=keyword_weight)
    ranked = sorted(fused, key=fused.__getitem__, reverse=True)
    words: list[QueryWords] = []  # built on the first candidate below the floor

    def query_words() -> QueryWords:
        if not words:
            words.append(QueryWords(terms, store.term_fractions(terms)))
        return words[0]

    if max(dense.values(), default=-1.0) < floor:
        # Nothing near in meaning: the query is about something here only if one of the best
        # keyword matches holds enough of it (`paperfeed.relevance`).
        best = sorted(keyword, key=keyword.__getitem__, reverse=True)[:GATE_CANDIDATES]
        if not query_words().any_matches(store.get_by_keys(best).values()):
            return []

    def relevant(key: int, paper: Paper) -> bool:
        """A candidate below the floor stays when it shares a query word."""
        return key in keyword or dense.get(key, -1.0) >= floor or query_words().shares(paper)

    return [
        Hit(paper, fused[key], [w for w, side in (("keyword", keyword), ("semantic", dense)) if key in side])
        for key, paper in _papers_in_order(store, ranked, limit, relevant)
    ]


def _papers_in_order(
    store: Store, keys: list[int], limit: int, keep: Callable[[int, Paper], bool]
) -> list[tuple[int, Paper]]:
    """The first `limit` of `keys` whose papers exist and pass `keep`, with them (a key the
    vector index still holds for a deleted paper is skipped). Each next chunk is as many as the
    last one's share of papers kept says are needed, doubling while none is kept: a query that
    matches little turns down most of its candidates, and a round trip per `limit` of them was
    most of its time on PostgreSQL."""
    out: list[tuple[int, Paper]] = []
    start, size = 0, limit
    while len(out) < limit and start < len(keys):
        chunk = keys[start : start + size]
        found = store.get_by_keys(chunk)
        kept = 0
        for key in chunk:
            if key in found and keep(key, found[key]):
                out.append((key, found[key]))
                kept += 1
                if len(out) >= limit:
                    break
        start += len(chunk)
        needed = limit - len(out)
        size = math.ceil(needed * len(chunk) / kept) if kept else 2 * len(chunk)
    return out
