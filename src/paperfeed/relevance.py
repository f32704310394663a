"""The relevance floor: when a search is about anything in the library at all.

A vector index always has nearest neighbours, so without a floor a query about nothing in the
library ("xyzzyplugh", a bread recipe) still fills a page. Two tests, per query and per candidate:

- a query is about something here when some candidate's cosine with it reaches the encoder's
  calibrated floor (`search.SETTINGS`; the floors come from `benchmarks/calibrate_floor.py`: the
  best cosine gibberish and random-word queries reach among papers sharing none of their words),
  or one of its best keyword matches holds at least `MIN_SUPPORT` of the query's word weight:
  each query word (stopwords dropped, as for keyword search) weighs its idf, and a paper holds a
  word when one of its title, abstract or author words has the same token (the keyword
  index's tokenizer, `store.tokens`). Weighing by idf is what stops an off-topic question whose
  only matches are a common word ("best", "fix") or one uncommon one ("recipe" in one abstract)
  from filling a page; otherwise the search returns nothing. A long query (a pasted sentence)
  needs less than that share: a paper holding as much weight as the query's `STRONGEST` rarest
  words together also counts (a sentence's own rare words are mostly incidental, so no paper
  holds 40 % of fifteen-odd of them, even the one it was taken from);
- within a search that is about something, a vector candidate below the floor that shares no
  query word is dropped instead of padding the page.
"""

from __future__ import annotations

import math
import sys
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence

from paperfeed.records import Paper
from paperfeed.store.tokens import query_tokens, tokens

MIN_SUPPORT = 0.4
"""The share of the query's idf mass a paper must hold to count as a lexical match."""
STRONGEST: int = 2
"""A paper holding the weight of this many of the query's rarest words matches, whatever share of
a long query that is (chance rarely puts two rare words of an unrelated question in one paper)."""
MIN_FRACTION = 1e-4
"""Document fractions below this (and words in no paper) weigh as this: every very rare or unseen
word is equally strong evidence."""


CACHED_PAPERS = 8192
"""How many papers' token sets `paper_tokens` keeps (least recently used dropped first): a search
checks up to ~110 candidates, and at a million papers tokenizing them was ~4 ms of each query."""
_cache: OrderedDict[int, frozenset[str]] = OrderedDict()
_cache_lock = threading.Lock()


def paper_tokens(paper: Paper) -> frozenset[str]:
    """The keyword index's tokens of a paper's title, abstract and author names (`store.tokens`),
    cached by a hash of exactly that text: an edited paper is tokenized afresh, and the cache
    holds no paper text."""
    key = hash((paper.id, paper.title, paper.abstract, *paper.author_names))
    with _cache_lock:
        found = _cache.get(key)
        if found is not None:
            _cache.move_to_end(key)
            return found
    words = frozenset(map(sys.intern, tokens(" ".join([paper.title, paper.abstract, *paper.author_names]))))
    with _cache_lock:
        _cache[key] = words
        while len(_cache) > CACHED_PAPERS:
            _cache.popitem(last=False)
    return words


def idf(fraction: float) -> float:
    """BM25's idf, ln(1 + (1 - f) / f), of the (smoothed) fraction f of papers holding a word."""
    f = min(max(fraction, MIN_FRACTION), 1.0)
    return math.log(1.0 + (1.0 - f) / f)


class QueryWords:
    """A query's words with their weights, to measure how much of the query a paper holds."""

    def __init__(self, terms: Sequence[str], fractions: dict[str, float] | None) -> None:
        weights: dict[str, float] = {}
        for term in terms:
            s = query_tokens([term])[0]
            w = idf(fractions.get(term, 0.0)) if fractions is not None else 1.0
            weights[s] = max(weights.get(s, 0.0), w)
        if weights and sum(weights.values()) <= 0:  # every word in every paper: weigh evenly
            weights = dict.fromkeys(weights, 1.0)
        self.weights = weights
        self.total = sum(weights.values())
        strongest = sum(sorted(weights.values(), reverse=True)[:STRONGEST])
        self.needed = min(MIN_SUPPORT * self.total, strongest)
        """The weight a paper must hold to match (`matches`)."""

    def held(self, paper: Paper) -> float:
        """The query word weight the paper's words hold."""
        words = paper_tokens(paper)
        return sum(w for s, w in self.weights.items() if s in words)

    def support(self, paper: Paper) -> float:
        """The share (0..1) of the query's word weight that the paper's words hold."""
        if self.total <= 0:
            return 0.0
        return self.held(paper) / self.total

    def matches(self, paper: Paper) -> bool:
        """Whether the paper holds enough of the query: `MIN_SUPPORT` of its weight, or as much
        as its `STRONGEST` rarest words."""
        return self.total > 0 and self.held(paper) >= self.needed - 1e-9

    def any_matches(self, papers: Iterable[Paper]) -> bool:
        return any(self.matches(p) for p in papers)

    def shares(self, paper: Paper) -> bool:
        """Whether the paper holds any of the query's words."""
        words = paper_tokens(paper)
        return any(w > 0 for s, w in self.weights.items() if s in words)
