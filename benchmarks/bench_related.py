"""Related papers on the real pages: precision@10 of several rankers, side by side in one run.

The two bundled pages (`src/paperfeed/sample/000_*.txt`, `001_*.txt`, 94 entries, 86 distinct
papers) were each produced by a papers site's own similarity search. For every paper, each ranker
lists 10 other papers; a hit is a paper that shares a page with it (a paper on both pages shares a
page with everyone). Rankers:

  keyword      BM25 (SQLite FTS5) of the paper's title and abstract words
  tfidf        arxiv-sanity's method: TF-IDF (uni+bigrams, sublinear tf, l2) cosine
  static       cosine of the bundled static encoder's vectors
  minilm       cosine of all-MiniLM-L6-v2 vectors
  related/X    `Library.related` (paperfeed's combined ranking) over encoder X's vectors

It also reports the combined ranking's weights grid (dense vs keyword) with a 2-fold check
(weights chosen on half the papers, scored on the other half), to show how much is tuning.

    python benchmarks/bench_related.py [--no-minilm] [--grid]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np

import paperfeed
from paperfeed.embed import get_encoder, paper_text
from paperfeed.records import Paper
from paperfeed.related import Weights, doc_terms
from paperfeed.search import keyword_search
from paperfeed.sources import FORMATS

SAMPLE = Path(paperfeed.__file__).parent / "sample"
K = 10


def pages() -> tuple[list[Paper], dict[str, set[int]]]:
    """Distinct papers of the two pages and, for each paper id, the pages it is on."""
    papers: dict[str, Paper] = {}
    on: dict[str, set[int]] = {}
    for number, path in enumerate(sorted(SAMPLE.glob("00[01]_*.txt"))):
        with path.open("rb") as f:
            for item in FORMATS["hf-page"](f, str(path)):
                if isinstance(item, Paper):
                    papers.setdefault(item.id, item)
                    on.setdefault(item.id, set()).add(number)
    return list(papers.values()), on


def precision(lists: dict[str, list[str]], on: dict[str, set[int]]) -> float:
    scores = []
    for pid, ranked in lists.items():
        hits = sum(1 for other in ranked[:K] if on[other] & on[pid])
        scores.append(hits / K)
    return float(np.mean(scores))


def cosine_lists(ids: list[str], matrix: np.ndarray) -> dict[str, list[str]]:
    sims = matrix @ matrix.T
    np.fill_diagonal(sims, -np.inf)
    return {ids[i]: [ids[j] for j in np.argsort(-sims[i])[:K]] for i in range(len(ids))}


def tfidf_lists(papers: list[Paper]) -> dict[str, list[str]]:
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(
        ngram_range=(1, 2), sublinear_tf=True, norm="l2", stop_words="english",
        strip_accents="unicode", token_pattern=r"(?u)\b[a-zA-Z_][a-zA-Z0-9_]+\b",
    )
    matrix = vectorizer.fit_transform([paper_text(p.title, p.abstract) for p in papers])
    return cosine_lists([p.id for p in papers], matrix.toarray().astype(np.float32))


def keyword_lists(lib: paperfeed.Library, papers: list[Paper]) -> dict[str, list[str]]:
    out = {}
    for p in papers:
        hits = keyword_search(lib.store, " ".join(doc_terms(p)), limit=K + 5)
        out[p.id] = [h.paper.id for h in hits if h.paper.id != p.id][:K]
    return out


def related_lists(lib: paperfeed.Library, papers: list[Paper], weights: Weights | None = None):
    from paperfeed.related import WEIGHTS, related

    return {
        p.id: [h.paper.id for h in related(lib.store, lib.semantic, p, limit=K,
                                           weights=weights or WEIGHTS)]
        for p in papers
    }


def library_with(encoder: str, home: Path) -> paperfeed.Library:
    from dataclasses import replace

    from paperfeed.config import Config
    from paperfeed.library import Library

    lib = Library(replace(Config.from_env(home=home), encoder=encoder))
    lib.import_files(sorted(SAMPLE.glob("00[01]_*.txt")), index=False)
    lib.index(encoder)
    return lib


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--no-minilm", action="store_true")
    parser.add_argument("--grid", action="store_true", help="also print the weights grid")
    args = parser.parse_args()
    papers, on = pages()
    ids = [p.id for p in papers]
    texts = [paper_text(p.title, p.abstract) for p in papers]
    results: dict[str, float] = {}
    encoders = ["minilm-static"] + ([] if args.no_minilm else ["minilm"])
    with tempfile.TemporaryDirectory() as tmp:
        libs = {e: library_with(e, Path(tmp) / e) for e in encoders}
        results["keyword (BM25, FTS5)"] = precision(keyword_lists(libs["minilm-static"], papers), on)
        results["tf-idf cosine (arxiv-sanity)"] = precision(tfidf_lists(papers), on)
        for e in encoders:
            vecs = get_encoder(e).encode(texts)
            results[f"semantic only: {e}"] = precision(cosine_lists(ids, vecs), on)
        for e in encoders:
            results[f"paperfeed related ({e})"] = precision(related_lists(libs[e], papers), on)
        grid = {}
        if args.grid:
            for e in encoders:
                for wd in np.arange(0.0, 1.01, 0.1):
                    w = Weights(dense=float(wd), keyword=float(1 - wd), authors=0.0)
                    lists = related_lists(libs[e], papers, w)
                    half = {0: {}, 1: {}}
                    for i, pid in enumerate(ids):
                        half[i % 2][pid] = lists[pid]
                    grid[(e, round(float(wd), 1))] = (
                        precision(lists, on), precision(half[0], on), precision(half[1], on)
                    )
        for lib in libs.values():
            lib.close()
    base = sum(len(on[p] & on[q]) > 0 for p in ids for q in ids if p != q) / (len(ids) * (len(ids) - 1))
    print(f"papers: {len(ids)}; a random list's expected precision@10: {base:.3f}")
    for name, value in results.items():
        print(f"{name:40s} P@10 = {value:.3f}")
    if grid:
        print("weights grid: encoder, dense weight -> P@10 all / even half / odd half")
        for (e, wd), (a, h0, h1) in sorted(grid.items()):
            print(f"  {e:14s} {wd:.1f}  {a:.3f}  {h0:.3f}  {h1:.3f}")
        for e in encoders:
            for tune, test in ((1, 2), (2, 1)):
                best = max((k for k in grid if k[0] == e), key=lambda k: grid[k][tune])
                print(f"  2-fold {e}: tuned on half {tune - 1} -> dense {best[1]}, "
                      f"held-out P@10 {grid[best][test]:.3f}")
    print(json.dumps({k: round(v, 4) for k, v in results.items()}))


if __name__ == "__main__":
    main()
