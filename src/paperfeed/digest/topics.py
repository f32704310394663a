"""Topics (saved searches) matched against the papers that arrived since a digest.

A digest's topic section lists "the best matches among the papers that arrived since the last
digest". The store's keyword index ranks the whole corpus, where a day's arrivals would drown in
a million older papers, so a send run indexes just the arrivals window in memory (a few thousand
papers a day) and ranks them with BM25 over the same fields and weights as keyword search (title
5, abstract 1, authors 2). Query words are `search.query_terms` (stopwords dropped); words are
lower-cased, accents folded and a plural `s` dropped on both sides.

A paper must contain every word of a topic of one or two words, and all but one word of a longer
topic; papers with more of the words rank first, then by BM25. Identical topics of different
subscribers share one ranking per run (`ArrivalIndex.match` caches).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import defaultdict

from paperfeed.records import Paper
from paperfeed.search import query_terms

_WORD = re.compile(r"\w+", re.UNICODE)
FIELD_WEIGHTS = (5.0, 1.0, 2.0)  # title, abstract, authors
K1, B = 1.2, 0.75


def normalise(word: str) -> str:
    word = word.lower()
    if not word.isascii():
        word = "".join(c for c in unicodedata.normalize("NFKD", word) if not unicodedata.combining(c))
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        word = word[:-1]
    return word


def _words(text: str) -> list[str]:
    return [normalise(w) for w in _WORD.findall(text)]


class ArrivalIndex:
    """An in-memory BM25 index over a list of papers (the arrivals window)."""

    def __init__(self, papers: list[Paper]) -> None:
        self.papers = papers
        self.postings: dict[str, dict[int, float]] = defaultdict(dict)
        self.lengths: list[float] = []
        for doc, paper in enumerate(papers):
            weighted: dict[str, float] = defaultdict(float)
            length = 0.0
            fields = (paper.title, paper.abstract, " ".join(a.name for a in paper.authors))
            for text, weight in zip(fields, FIELD_WEIGHTS, strict=True):
                words = _words(text or "")
                length += weight * len(words)
                for word in words:
                    weighted[word] += weight
            for word, tf in weighted.items():
                self.postings[word][doc] = tf
            self.lengths.append(length)
        self.avg_length = (sum(self.lengths) / len(self.lengths)) if self.lengths else 1.0
        self._norms = [K1 * (1 - B + B * length / self.avg_length) for length in self.lengths]
        self._cache: dict[str, list[tuple[int, float]]] = {}

    def match(self, topic: str) -> list[tuple[int, float]]:
        """(document number, score) of the papers matching a topic, best first."""
        key = " ".join(topic.lower().split())
        cached = self._cache.get(key)
        if cached is None:
            cached = self._cache[key] = self._match(topic)
        return cached

    def _match(self, topic: str) -> list[tuple[int, float]]:
        terms = list(dict.fromkeys(normalise(t) for t in query_terms(topic)))
        if not terms:
            return []
        needed = len(terms) if len(terms) <= 2 else len(terms) - 1
        postings = sorted((self.postings.get(t, {}) for t in terms), key=len)
        if needed == len(terms) and not postings[0]:
            return []  # a word no arrival has
        # A paper with `needed` of the n words is in one of the n - needed + 1 rarest postings:
        # only those are walked; the other words are looked up.
        candidates: set[int] = set()
        for posting in postings[: len(terms) - needed + 1]:
            candidates.update(posting)
        n = len(self.papers)
        idfs = [math.log(1 + (n - len(p) + 0.5) / (len(p) + 0.5)) for p in postings]
        norms = self._norms
        ranked: list[tuple[int, int, float]] = []
        for doc in candidates:
            hits, score = 0, 0.0
            for posting, idf in zip(postings, idfs, strict=True):
                tf = posting.get(doc)
                if tf is not None:
                    hits += 1
                    score += idf * tf * (K1 + 1) / (tf + norms[doc])
            if hits >= needed:
                ranked.append((-hits, doc, score))
        ranked.sort(key=lambda x: (x[0], -x[2], x[1]))
        return [(doc, score) for _, doc, score in ranked]
