"""Recommendations from a reader's positives (saved papers) and negatives (dismissed papers).

A simple engine behind the interface the Library uses: candidates are the ANN neighbours of
each positive (and nothing fitted over the corpus per request); a candidate scores its mean cosine
to the positives minus half its mean cosine to the negatives; a floor on the best single cosine
keeps weak matches out, so a list may be short or empty rather than padded. Each hit names the
saved paper it is closest to and the words it shares with it.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np

from paperfeed.embed.engine import SemanticEngine
from paperfeed.records import Paper, title_key
from paperfeed.search import STOPWORDS
from paperfeed.store.base import Filters, Store

NEIGHBOURS = 50
NEGATIVE_WEIGHT = 0.5
FLOOR = 0.35
"""Least cosine to the nearest positive a recommendation must reach (with `floor=True`)."""
MAX_POSITIVES = 500
_WORD_RE = re.compile(r"[^\W\d_][\w-]*\w", re.UNICODE)


@dataclass
class Recommendation:
    paper: Paper
    score: float
    reasons: list[str] = field(default_factory=list)
    nearest: list[str] = field(default_factory=list)  # ids of the closest positives
    terms: list[str] = field(default_factory=list)  # the words that drove it


@dataclass
class Explanation:
    weights: list[tuple[str, float]] = field(default_factory=list)  # (paper id, weight)
    likes: list[str] = field(default_factory=list)
    dislikes: list[str] = field(default_factory=list)


def _words(paper: Paper) -> Counter[str]:
    words = [w.lower() for w in _WORD_RE.findall(f"{paper.title} {paper.title} {paper.abstract}")]
    return Counter(w for w in words if w not in STOPWORDS and len(w) > 2)


def _vectors(semantic: SemanticEngine, ids: Sequence[str]) -> tuple[list[str], np.ndarray]:
    keys = semantic.vectors.keys_of(list(ids))
    by_key = {key: pid for pid, key in keys.items()}
    found, vecs = semantic.vectors.get_vectors(list(keys.values()))
    return [by_key[int(k)] for k in found], np.asarray(vecs, dtype=np.float32)


def recommend(
    store: Store,
    semantic: SemanticEngine | None,
    positive: Sequence[str],
    negative: Sequence[str] = (),
    *,
    exclude: Collection[str] = (),
    limit: int = 10,
    since: date | None = None,
    floor: bool = True,
) -> list[Recommendation]:
    """The best candidates, best first; [] when `positive` is empty, there are no vectors, or
    nothing clears the floor."""
    positive = list(dict.fromkeys(positive))[-MAX_POSITIVES:]
    if not positive or semantic is None or not semantic.has_vectors():
        return []
    pos_ids, pos = _vectors(semantic, positive)
    if not pos_ids:
        return []
    neg_ids, neg = _vectors(semantic, list(negative)) if negative else ([], np.zeros((0, 0)))
    skip = set(exclude) | set(positive) | set(negative)
    filters = Filters(since=since)
    candidates: dict[int, str] = {}
    for vector in pos:
        for key, pid, _ in semantic.nearest(vector, NEIGHBOURS, filters):
            if pid not in skip:
                candidates[key] = pid
    if not candidates:
        return []
    found, vecs = semantic.vectors.get_vectors(list(candidates))
    if not len(found):
        return []
    sims = vecs @ pos.T  # candidates × positives
    scores = sims.mean(axis=1)
    if len(neg_ids):
        scores = scores - NEGATIVE_WEIGHT * (vecs @ neg.T).mean(axis=1)
    best = sims.max(axis=1)
    order = np.argsort(-scores)
    papers = store.get_many([candidates[int(found[i])] for i in order[: limit * 3 + 10]])
    positives = store.get_many(pos_ids)
    seen_titles = {title_key(p.title) for p in positives.values()}
    out: list[Recommendation] = []
    for i in order:
        if floor and best[i] < FLOOR:
            continue
        paper = papers.get(candidates[int(found[i])])
        if paper is None or title_key(paper.title) in seen_titles:
            continue
        seen_titles.add(title_key(paper.title))
        near = [pos_ids[j] for j in np.argsort(-sims[i])[:2]]
        anchor = positives.get(near[0])
        terms = _shared_terms(paper, anchor) if anchor else []
        reasons = [f"close to your saved paper “{anchor.title[:120]}”" if anchor else "close to your library"]
        if terms:
            reasons.append("shares: " + ", ".join(terms))
        out.append(Recommendation(paper, float(scores[i]), reasons, near, terms))
        if len(out) >= limit:
            break
    return out


def _shared_terms(paper: Paper, anchor: Paper, limit: int = 4) -> list[str]:
    mine, theirs = _words(paper), _words(anchor)
    shared = Counter({w: min(c, theirs[w]) for w, c in mine.items() if w in theirs})
    return [w for w, _ in shared.most_common(limit)]


def explain(
    store: Store, semantic: SemanticEngine | None, positive: Sequence[str], negative: Sequence[str]
) -> Explanation:
    """What the model learned: each positive's weight (its mean cosine to the other positives:
    the papers at the centre of the library weigh most) and the words of the positives and
    negatives that tell them apart."""
    papers = store.get_many(list(dict.fromkeys([*positive, *negative])))
    likes: Counter[str] = Counter()
    dislikes: Counter[str] = Counter()
    for pid in positive:
        if pid in papers:
            likes.update(_words(papers[pid]))
    for pid in negative:
        if pid in papers:
            dislikes.update(_words(papers[pid]))
    weights: list[tuple[str, float]] = []
    if semantic is not None and semantic.has_vectors() and positive:
        ids, vecs = _vectors(semantic, list(positive))
        if ids:
            centre = vecs.mean(axis=0)
            weights = sorted(
                ((pid, float(s)) for pid, s in zip(ids, vecs @ centre, strict=True)),
                key=lambda t: -t[1],
            )
    if not weights:
        weights = [(pid, 1.0) for pid in positive if pid in papers]
    like_words = [w for w, _ in (likes - dislikes).most_common(15)]
    dislike_words = [w for w, _ in (dislikes - likes).most_common(15)]
    return Explanation(weights, like_words, dislike_words)
