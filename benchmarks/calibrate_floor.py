"""Calibrate the relevance floor of each encoder (`search.SETTINGS[...].floor`).

Method: queries about nothing in the library are generated at random, and for each one the best
cosine it reaches among the papers that share none of its words (same words and stems as
`relevance.QueryWords`, the test search uses) is recorded: how close meaning alone gets by
chance. Two kinds of null query:

  gibberish    1-3 random lower-case letter strings of 4-11 letters ("qwrtzp vbnmkl")
  word salad   2-5 words drawn uniformly from the corpus vocabulary, in random order: real
               words, no topic

The floor is the 99th percentile of those best cosines (rounded up to 0.01): a paper without the
query's words must look closer to the query than 99 % of random queries ever get to anything.
(Search drops a candidate below it only when it shares no query word, and a whole search only
when no keyword match holds enough of the query: `relevance.QueryWords.matches`.)
As a check the script also reports, for on-topic queries (each paper's title, against the other
papers' abstracts with the title's own paper removed from the corpus, and each title against its
own abstract), how often the relevant abstract is below the floor *and* lacks the query's words
(what the floor would wrongly drop).

The corpus is the 86 papers of the two bundled pages (the only real abstracts at hand); best-hit
cosines grow with corpus size, so the printed floors are rounded up, not down.

    python benchmarks/calibrate_floor.py [--queries 1000] [--encoders minilm-static,minilm]
"""

from __future__ import annotations

import argparse
import random
import re
import string
from collections import Counter
from pathlib import Path

import numpy as np

import paperfeed
from paperfeed.embed import get_encoder, paper_text
from paperfeed.records import Paper
from paperfeed.relevance import QueryWords
from paperfeed.search import STOPWORDS, query_terms
from paperfeed.sources import FORMATS
from paperfeed.store.tokens import query_tokens, tokens

SAMPLE = Path(paperfeed.__file__).parent / "sample"
PERCENTILE = 99


def corpus() -> list[Paper]:
    papers: dict[str, Paper] = {}
    for path in sorted(SAMPLE.glob("00[01]_*.txt")):
        with path.open("rb") as f:
            for item in FORMATS["hf-page"](f, str(path)):
                if isinstance(item, Paper):
                    papers.setdefault(item.id, item)
    return list(papers.values())


def doc_fractions(papers: list[Paper]) -> dict[str, float]:
    """Fraction of papers holding each stem (what the store's `term_fractions` reports)."""
    df: Counter[str] = Counter()
    for p in papers:
        df.update(set(tokens(" ".join([p.title, p.abstract, *p.author_names]))))
    return {s: n / len(papers) for s, n in df.items()}


def null_queries(papers: list[Paper], n: int, rng: random.Random) -> dict[str, list[str]]:
    vocab = sorted({w for p in papers for w in re.findall(r"\w+", f"{p.title} {p.abstract}".lower())
                    if w.isalpha() and len(w) > 2 and w not in STOPWORDS})
    gibberish = [
        " ".join("".join(rng.choices(string.ascii_lowercase, k=rng.randint(4, 11)))
                 for _ in range(rng.randint(1, 3)))
        for _ in range(n)
    ]
    salad = [" ".join(rng.sample(vocab, rng.randint(2, 5))) for _ in range(n)]
    return {"gibberish": gibberish, "word salad": salad}


def best_unsupported(
    query: str, qvec: np.ndarray, papers: list[Paper], vecs: np.ndarray, fractions: dict[str, float]
) -> float:
    terms = query_terms(query)
    words = QueryWords(terms, {t: fractions.get(query_tokens([t])[0], 0.0) for t in terms})
    sims = vecs @ qvec
    for i in np.argsort(-sims):
        if words.support(papers[i]) == 0.0:
            return float(sims[i])
    return -1.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--queries", type=int, default=1000, help="per kind of null query")
    parser.add_argument("--encoders", default="minilm-static,minilm")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    papers = corpus()
    fractions = doc_fractions(papers)
    queries = null_queries(papers, args.queries, random.Random(args.seed))
    print(f"{len(papers)} papers; {args.queries} queries of each kind; floor = p{PERCENTILE}")
    for name in args.encoders.split(","):
        encoder = get_encoder(name)
        vecs = encoder.encode([paper_text(p.title, p.abstract) for p in papers])
        abstracts = encoder.encode([p.abstract for p in papers])
        best: dict[str, np.ndarray] = {}
        for kind, qs in queries.items():
            qvecs = encoder.encode(qs)
            best[kind] = np.array([
                best_unsupported(q, v, papers, vecs, fractions) if v.any() else -1.0
                for q, v in zip(qs, qvecs, strict=True)
            ])
        pooled = np.concatenate(list(best.values()))
        floor = float(np.ceil(np.percentile(pooled, PERCENTILE) * 100) / 100)
        titles = encoder.encode([p.title for p in papers])
        own = np.einsum("ij,ij->i", titles, abstracts)  # title vs its own abstract
        lost = 0
        for i, p in enumerate(papers):
            terms = query_terms(p.title)
            words = QueryWords(terms, {t: fractions.get(query_tokens([t])[0], 0.0) for t in terms})
            bare = Paper(id=p.id, title="", abstract=p.abstract)
            if own[i] < floor and not words.matches(bare):
                lost += 1
        print(f"\n{name}")
        for kind, b in best.items():
            print(f"  {kind:10s} best no-shared-word cosine: median {np.median(b):.3f}  "
                  f"p95 {np.percentile(b, 95):.3f}  p99 {np.percentile(b, 99):.3f}  max {b.max():.3f}")
        print(f"  on-topic   title -> own abstract cosine: median {np.median(own):.3f}  "
              f"p5 {np.percentile(own, 5):.3f}  min {own.min():.3f}")
        print(f"  floor {floor:.2f}: own abstract dropped (below floor, lacks the title's words) "
              f"for {lost}/{len(papers)} titles")


if __name__ == "__main__":
    main()
