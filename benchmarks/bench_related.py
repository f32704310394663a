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

It also reports a paired bootstrap (95 % interval of the per-paper difference between the combined
ranking and the best single signal) and, with --grid, the grid of the vector diffusion's settings
(graph neighbours x alpha; alpha 0 = plain cosine) with a 2-fold check (settings chosen on half the
papers, scored on the other half), to show how much is tuning.

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


def per_paper(lists: dict[str, list[str]], on: dict[str, set[int]]) -> dict[str, float]:
    return {
        pid: sum(1 for other in ranked[:K] if on[other] & on[pid]) / K for pid, ranked in lists.items()
    }


def precision(lists: dict[str, list[str]], on: dict[str, set[int]]) -> float:
    return float(np.mean(list(per_paper(lists, on).values())))


def paired_interval(a: dict[str, float], b: dict[str, float], rounds: int = 10_000) -> tuple[float, float]:
    """95 % bootstrap interval of mean(a - b) over papers (resampling papers)."""
    diff = np.array([a[p] - b[p] for p in a])
    rng = np.random.default_rng(7)
    means = diff[rng.integers(0, len(diff), size=(rounds, len(diff)))].mean(axis=1)
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


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
    rows: dict[str, dict[str, float]] = {}
    encoders = ["minilm-static"] + ([] if args.no_minilm else ["minilm"])
    with tempfile.TemporaryDirectory() as tmp:
        libs = {e: library_with(e, Path(tmp) / e) for e in encoders}
        rows["keyword (BM25, FTS5)"] = per_paper(keyword_lists(libs["minilm-static"], papers), on)
        rows["tf-idf cosine (arxiv-sanity)"] = per_paper(tfidf_lists(papers), on)
        for e in encoders:
            vecs = get_encoder(e).encode(texts)
            rows[f"semantic only: {e}"] = per_paper(cosine_lists(ids, vecs), on)
        singles = list(rows)
        for e in encoders:
            rows[f"paperfeed related, no diffusion ({e})"] = per_paper(
                related_lists(libs[e], papers, Weights(alpha=0.0)), on
            )
            rows[f"paperfeed related ({e})"] = per_paper(related_lists(libs[e], papers), on)
        results = {name: float(np.mean(list(r.values()))) for name, r in rows.items()}
        grid = {}
        if args.grid:
            for e in encoders:
                for neighbours in (8, 12, 15, 20, 30):
                    for alpha in (0.0, 0.5, 0.7, 0.8, 0.9):
                        w = Weights(alpha=alpha, neighbours=neighbours)
                        lists = related_lists(libs[e], papers, w)
                        half: dict[int, dict[str, list[str]]] = {0: {}, 1: {}}
                        for i, pid in enumerate(ids):
                            half[i % 2][pid] = lists[pid]
                        grid[(e, neighbours, alpha)] = (
                            precision(lists, on), precision(half[0], on), precision(half[1], on)
                        )
        for lib in libs.values():
            lib.close()
    base = sum(len(on[p] & on[q]) > 0 for p in ids for q in ids if p != q) / (len(ids) * (len(ids) - 1))
    print(f"papers: {len(ids)}; a random list's expected precision@10: {base:.3f}")
    for name, value in results.items():
        print(f"{name:50s} P@10 = {value:.3f}")
    best_single = max(singles, key=lambda name: results[name])
    for e in encoders:
        name = f"paperfeed related ({e})"
        lo, hi = paired_interval(rows[name], rows[best_single])
        print(f"{name} - {best_single}: {results[name] - results[best_single]:+.3f} "
              f"(95 % paired bootstrap interval {lo:+.3f} .. {hi:+.3f})")
    if grid:
        print("diffusion grid: encoder, graph neighbours, alpha -> P@10 all / even half / odd half")
        for (e, k, alpha), (a, h0, h1) in sorted(grid.items()):
            print(f"  {e:14s} {k:3d} {alpha:.1f}  {a:.3f}  {h0:.3f}  {h1:.3f}")
        for e in encoders:
            for tune, test in ((1, 2), (2, 1)):
                best = max((k for k in grid if k[0] == e), key=lambda k: grid[k][tune])
                print(f"  2-fold {e}: tuned on half {tune - 1} -> neighbours {best[1]}, alpha {best[2]}, "
                      f"held-out P@10 {grid[best][test]:.3f} (shipped settings there: "
                      f"{grid[(e, 15, 0.8)][test]:.3f})")
    print(json.dumps({k: round(v, 4) for k, v in results.items()}))


if __name__ == "__main__":
    main()
