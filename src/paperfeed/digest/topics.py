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

import numpy as np

from paperfeed.records import Paper
from paperfeed.search import query_terms

_WORD = re.compile(r"\w+", re.UNICODE)
FIELD_WEIGHTS = (5.0, 1.0, 2.0)  # title, abstract, authors
K1, B = 1.2, 0.75


def normalise(word: str) -> str:
    """A lower-cased word with accents folded and a plural `s` dropped."""
    word = word.lower()
    if not word.isascii():
        word = "".join(c for c in unicodedata.normalize("NFKD", word) if not unicodedata.combining(c))
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        word = word[:-1]
    return word


class ArrivalIndex:
    """An in-memory BM25 index over a list of papers (the arrivals window). Postings are numpy
    arrays, so ranking a topic is a few vector operations over the window, whatever its size."""

    def __init__(self, papers: list[Paper]) -> None:
        self.papers = papers
        postings: dict[str, tuple[list[int], list[float]]] = defaultdict(lambda: ([], []))
        lengths: list[float] = []
        seen: dict[str, str] = {}  # word → normalised word: most words repeat
        for doc, paper in enumerate(papers):
            weighted: dict[str, float] = defaultdict(float)
            length = 0.0
            fields = (paper.title, paper.abstract, " ".join(a.name for a in paper.authors))
            for text, weight in zip(fields, FIELD_WEIGHTS, strict=True):
                words = _WORD.findall((text or "").lower())
                length += weight * len(words)
                for word in words:
                    norm = seen.get(word)
                    if norm is None:
                        norm = seen[word] = normalise(word)
                    weighted[norm] += weight
            for word, tf in weighted.items():
                docs, tfs = postings[word]
                docs.append(doc)
                tfs.append(tf)
            lengths.append(length)
        self._postings = postings
        self._arrays: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        length_array = np.asarray(lengths, dtype=np.float64)
        avg = float(length_array.mean()) if len(lengths) else 1.0
        self._norms = K1 * (1 - B + B * length_array / (avg or 1.0))
        self._cache: dict[str, list[tuple[int, float]]] = {}

    def _posting(self, term: str) -> tuple[np.ndarray, np.ndarray]:
        array = self._arrays.get(term)
        if array is None:
            docs, tfs = self._postings.get(term, ([], []))
            array = self._arrays[term] = (np.asarray(docs, dtype=np.int64), np.asarray(tfs, dtype=np.float64))
        return array

    def match(self, topic: str) -> list[tuple[int, float]]:
        """(document number, score) of the papers matching a topic, best first."""
        key = " ".join(topic.lower().split())
        cached = self._cache.get(key)
        if cached is None:
            cached = self._cache[key] = self._match(topic)
        return cached

    def _match(self, topic: str) -> list[tuple[int, float]]:
        terms = list(dict.fromkeys(normalise(t) for t in query_terms(topic)))
        n = len(self.papers)
        if not terms or not n:
            return []
        needed = len(terms) if len(terms) <= 2 else len(terms) - 1
        scores = np.zeros(n)
        hits = np.zeros(n, dtype=np.int32)
        for term in terms:
            docs, tfs = self._posting(term)
            if not len(docs):
                continue
            idf = math.log(1 + (n - len(docs) + 0.5) / (len(docs) + 0.5))
            scores[docs] += idf * tfs * (K1 + 1) / (tfs + self._norms[docs])
            hits[docs] += 1
        found = np.flatnonzero(hits >= needed)
        if not len(found):
            return []
        order = np.lexsort((found, -scores[found], -hits[found]))  # last key sorts first
        ranked = found[order]
        return list(zip(ranked.tolist(), scores[ranked].tolist(), strict=True))
