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
  from filling a page; otherwise the search returns nothing;
- within a search that is about something, a vector candidate below the floor that shares no
  query word is dropped instead of padding the page.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from paperfeed.records import Paper
from paperfeed.store.tokens import query_tokens, tokens

MIN_SUPPORT = 0.4
"""The share of the query's idf mass a paper must hold to count as a lexical match."""
MIN_FRACTION = 1e-4
"""Document fractions below this (and words in no paper) weigh as this: every very rare or unseen
word is equally strong evidence."""


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

    def support(self, paper: Paper) -> float:
        """The share (0..1) of the query's word weight that the paper's words hold."""
        if self.total <= 0:
            return 0.0
        words = set(tokens(" ".join([paper.title, paper.abstract, *paper.author_names])))
        return sum(w for s, w in self.weights.items() if s in words) / self.total

    def matches(self, paper: Paper) -> bool:
        """Whether the paper holds enough of the query (`MIN_SUPPORT`)."""
        return self.support(paper) >= MIN_SUPPORT - 1e-9

    def any_matches(self, papers: Iterable[Paper]) -> bool:
        return any(self.matches(p) for p in papers)

    def shares(self, paper: Paper) -> bool:
        """Whether the paper holds any of the query's words."""
        return self.support(paper) > 0.0
