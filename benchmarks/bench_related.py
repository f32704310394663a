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
ranking and the best single signal), with --experiments the re-rankings tried and not shipped
(see `experiments`), and, with --grid, the grid of the vector diffusion's settings
(graph neighbours x alpha; alpha 0 = plain cosine) with a 2-fold check (settings chosen on half the
papers, scored on the other half), to show how much is tuning.

    python benchmarks/bench_related.py [--no-minilm] [--grid] [--experiments]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

import paperfeed
from paperfeed.embed import get_encoder, paper_text
from paperfeed.records import Paper
from paperfeed.related import Weights, doc_terms
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
    for p in papers:  # the store's BM25 itself: no relevance floor for a 24-word query
        hits = lib.store.keyword_search(doc_terms(p), limit=K + 5)
        out[p.id] = [other.id for other, _ in hits if other.id != p.id][:K]
    return out


def related_lists(lib: paperfeed.Library, papers: list[Paper], weights: Weights | None = None):
    """`related` with the given weights, or (None) the encoder's shipped ones."""
    from paperfeed.related import related

    return {
        p.id: [h.paper.id for h in related(lib.store, lib.semantic, p, limit=K, weights=weights)]
        for p in papers
    }


# -- per encoder (--per-encoder): the settings table of `related.WEIGHTS_BY_ENCODER` ------------

CANDIDATE_SETTINGS: dict[str, Weights] = {
    "plain cosine (vectors only)": Weights(dense=1.0, keyword=0.0, authors=0.0, categories=0.0,
                                           alpha=0.0),
    "cosine + 0.05 BM25": Weights(keyword=0.05, alpha=0.0),
    "cosine + 0.1 BM25": Weights(keyword=0.1, alpha=0.0),
    "cosine + 0.2 BM25": Weights(keyword=0.2, alpha=0.0),
    "diffusion k15 a0.5 + 0.1 BM25": Weights(alpha=0.5),
    "diffusion k15 a0.8 + 0.1 BM25 (static's)": Weights(alpha=0.8),
    "diffusion k15 a0.9 + 0.1 BM25": Weights(alpha=0.9),
    "diffusion k8 a0.8 + 0.1 BM25": Weights(alpha=0.8, neighbours=8),
    "diffusion k30 a0.8 + 0.1 BM25": Weights(alpha=0.8, neighbours=30),
}


def per_encoder(
    libs: dict[str, paperfeed.Library], papers: list[Paper], on: dict[str, set[int]]
) -> list[str]:
    """Each candidate setting per encoder: P@10 on all papers, on each page's own papers (a
    paper on one page only) and on the even / odd papers; minus that encoder's plain cosine with
    a paired bootstrap interval; and the 2-fold choices (tuned on one page, scored on the other;
    tuned on the even papers, scored on the odd, and back)."""
    ids = [p.id for p in papers]
    subsets = {
        "page 0": {p for p in ids if on[p] == {0}}, "page 1": {p for p in ids if on[p] == {1}},
        "even": set(ids[0::2]), "odd": set(ids[1::2]),
    }
    lines = ["per-encoder settings: P@10 all | page0-only | page1-only | even | odd ; "
             "minus plain cosine (95 % paired bootstrap)"]
    for e, lib in libs.items():
        table = {name: per_paper(related_lists(lib, papers, w), on)
                 for name, w in CANDIDATE_SETTINGS.items()}
        plain = table["plain cosine (vectors only)"]

        def mean(rows: dict[str, float], keep: set[str] | None = None) -> float:
            return float(np.mean([v for p, v in rows.items() if keep is None or p in keep]))

        for name, rows in table.items():
            lo, hi = paired_interval(rows, plain)
            cells = " | ".join(f"{mean(rows, subsets[s]):.3f}" for s in subsets)
            lines.append(f"  {e:14s} {name:42s} {mean(rows):.3f} | {cells} ; "
                         f"{mean(rows) - mean(plain):+.3f} ({lo:+.3f} .. {hi:+.3f})")
        for tune, test in (("page 0", "page 1"), ("page 1", "page 0"), ("even", "odd"), ("odd", "even")):
            best = max(table, key=lambda n: mean(table[n], subsets[tune]))
            lines.append(f"  {e:14s} 2-fold: best on {tune}: {best!r} -> on {test} "
                         f"{mean(table[best], subsets[test]):.3f} (plain cosine there "
                         f"{mean(plain, subsets[test]):.3f})")
    return lines


def library_with(encoder: str, home: Path) -> paperfeed.Library:
    from dataclasses import replace

    from paperfeed.config import Config
    from paperfeed.library import Library

    lib = Library(replace(Config.from_env(home=home), encoder=encoder))
    lib.import_files(sorted(SAMPLE.glob("00[01]_*.txt")), index=False)
    lib.index(encoder)
    return lib


# -- experiments (--experiments): re-rankings tried for related papers, none shipped ------------------
#
# Each experiment replaces the dense signal of `related` (the diffusion) by another score over the
# same candidates (here: the other 85 papers), keeping the rest of the combination (0.9 x min-max
# dense + 0.1 x min-max BM25 of the title's words; the pages carry no authors or categories). Each
# runs on the library's stored vectors; a check row re-implements the shipped ranking this way and
# must equal `related` itself. Settings are the published defaults where there are any.


def _unit_rows(x: np.ndarray) -> np.ndarray:
    return x / (np.linalg.norm(x, axis=1, keepdims=True) + 1e-12)


def _minmax(x: np.ndarray) -> np.ndarray:
    lo, hi = x.min(), x.max()
    return (x - lo) / (hi - lo) if hi > lo else np.ones_like(x)


def _graph(affinity: np.ndarray, k: int = 15, mutual: bool = False, power: float = 1.0) -> np.ndarray:
    """Symmetric-normalised k-NN graph of an affinity matrix (as in `related.diffusion_scores`)."""
    w = np.clip(affinity, 0.0, None) ** power
    np.fill_diagonal(w, 0.0)
    drop = np.argsort(-w, axis=1)[:, min(k, len(w) - 1):]
    np.put_along_axis(w, drop, 0.0, axis=1)
    w = np.minimum(w, w.T) if mutual else np.maximum(w, w.T)
    d = 1.0 / np.sqrt(w.sum(axis=1) + 1e-12)
    return d[:, None] * w * d[None, :]


def _diffuse(spread: np.ndarray, seed: np.ndarray | None = None, alpha: float = 0.8) -> np.ndarray:
    if seed is None:
        seed = np.zeros(len(spread))
        seed[0] = 1.0
    return np.linalg.solve(np.eye(len(spread)) - alpha * spread, seed)


def _k_reciprocal(x: np.ndarray, k1: int = 20, k2: int = 6, lam: float = 0.3) -> np.ndarray:
    """Re-ranking similarity of every pair of rows by k-reciprocal encoding (Zhong et al. 2017,
    with the paper's defaults): 1 - ((1 - lam) Jaccard distance of the expanded k-reciprocal
    sets + lam original distance)."""
    n = len(x)
    dist = np.clip(2.0 - 2.0 * (x @ x.T), 0.0, None)
    dist = dist / dist.max(axis=0, keepdims=True)
    rank = np.argsort(dist, axis=1)
    k1 = min(k1, n - 1)

    def reciprocal(i: int, k: int) -> np.ndarray:
        forward = rank[i, : k + 1]
        return forward[np.any(rank[forward, : k + 1] == i, axis=1)]

    v = np.zeros((n, n))
    for i in range(n):
        own = reciprocal(i, k1)
        expanded = own
        for c in own:
            theirs = reciprocal(int(c), round(k1 / 2))
            if len(np.intersect1d(theirs, own)) > 2 / 3 * len(theirs):
                expanded = np.append(expanded, theirs)
        expanded = np.unique(expanded)
        e = np.exp(-dist[i, expanded])
        v[i, expanded] = e / e.sum()
    if k2 > 1:
        v = v[rank[:, :k2]].mean(axis=1)
    jaccard = 1.0 - np.minimum(v[:, None], v[None]).sum(-1) / np.maximum(
        np.maximum(v[:, None], v[None]).sum(-1), 1e-12
    )
    return 1.0 - ((1.0 - lam) * jaccard + lam * dist)


def _tfidf(papers: list[Paper]) -> np.ndarray:
    """Unit tf-idf rows (sublinear tf, smooth idf) of title+abstract words, the idf taken over
    these papers only: what `related` could compute from the candidates it already fetched."""
    from collections import Counter

    from paperfeed.related import _WORD_RE
    from paperfeed.search import STOPWORDS

    counts = [
        Counter(w for w in (t.lower() for t in _WORD_RE.findall(f"{p.title} {p.abstract}"))
                if w not in STOPWORDS and len(w) > 2)
        for p in papers
    ]
    df = Counter(w for c in counts for w in c)
    vocab = {w: j for j, w in enumerate(df)}
    out = np.zeros((len(papers), len(vocab)))
    for r, c in enumerate(counts):
        for w, tf in c.items():
            out[r, vocab[w]] = (1 + np.log(tf)) * (np.log((1 + len(papers)) / (1 + df[w])) + 1)
    return _unit_rows(out)


def _augmented(x: np.ndarray, k: int = 10, power: float = 3.0) -> np.ndarray:
    """Database-side augmentation / alpha query expansion (Radenovic et al. 2018): each row
    replaced by the sum of itself and its k nearest rows weighted by cosine^power, re-normalised."""
    a = x @ x.T
    top = np.argsort(-a, axis=1)[:, : k + 1]
    w = np.zeros_like(a)
    np.put_along_axis(w, top, np.clip(np.take_along_axis(a, top, axis=1), 0.0, None) ** power, axis=1)
    return _unit_rows(w @ x)


def _csls(x: np.ndarray, k: int = 10) -> np.ndarray:
    """Cross-domain similarity local scaling (Conneau et al. 2018): 2 cos - r_x - r_y, r = mean
    cosine to the k nearest: a hub (close to everyone) loses."""
    a = x @ x.T
    b = a.copy()
    np.fill_diagonal(b, -np.inf)
    r = np.sort(b, axis=1)[:, -k:].mean(axis=1)
    return 2 * a - r[:, None] - r[None, :]


def _mutual_proximity(x: np.ndarray) -> np.ndarray:
    """Empirical mutual proximity (Schnitzer et al. 2012), another hubness reduction."""
    a = x @ x.T
    b = a.copy()
    np.fill_diagonal(b, np.nan)
    p = np.nanmean(b[:, None, :] < a[:, :, None], axis=2)
    return p * p.T


NO_KEYWORD = "shipped diffusion, keyword weight 0"
Scorer = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], np.ndarray]
"""(vectors, tf-idf rows, title vectors, BM25 seed), rows = the paper then its candidates ->
dense scores of the candidates."""


def _scorers() -> dict[str, Scorer]:
    def shipped(x, t, ti, kw):
        return _diffuse(_graph(x @ x.T))[1:]

    def qe_round(m: int) -> Scorer:
        def f(x, t, ti, kw):
            s = _graph(x @ x.T)
            seed = np.zeros(len(x))
            seed[0] = 1.0
            seed[1 + np.argsort(-_diffuse(s)[1:])[:m]] = 1.0
            return _diffuse(s, seed)[1:]
        return f

    def bm25_seed(beta: float) -> Scorer:
        return lambda x, t, ti, kw: _diffuse(_graph(x @ x.T), np.r_[1.0, beta * kw])[1:]

    def two_views(mix: float) -> Scorer:
        return lambda x, t, ti, kw: _diffuse(
            (1 - mix) * _graph(x @ x.T) + mix * _graph(t @ t.T)
        )[1:]

    def krec_and_diffusion(k1: int) -> Scorer:
        return lambda x, t, ti, kw: 0.5 * _minmax(_k_reciprocal(x, k1=k1)[0, 1:]) + 0.5 * _minmax(
            _diffuse(_graph(x @ x.T))[1:]
        )

    def contextual(x, t, ti, kw):
        f = _unit_rows(np.linalg.inv(np.eye(len(x)) - 0.8 * _graph(x @ x.T)))
        return f[1:] @ f[0]

    out: dict[str, Scorer] = {
        "shipped diffusion (check: must equal related)": shipped,
        NO_KEYWORD: shipped,
        "two graphs, vectors + tf-idf, mixed 3:1": two_views(0.25),
        "two graphs, vectors + tf-idf, mixed 1:1": two_views(0.5),
        "diffusion on mean of cosine and tf-idf cosine": lambda x, t, ti, kw: _diffuse(
            _graph((x @ x.T + t @ t.T) / 2))[1:],
        "diffusion on product of cosine and tf-idf cosine": lambda x, t, ti, kw: _diffuse(
            _graph(np.clip(x @ x.T, 0, None) * (t @ t.T)))[1:],
        "diffusion on mean of cosine and title-vector cosine": lambda x, t, ti, kw: _diffuse(
            _graph((x @ x.T + ti @ ti.T) / 2))[1:],
        "diffusion, mutual k-NN graph": lambda x, t, ti, kw: _diffuse(_graph(x @ x.T, mutual=True))[1:],
        "diffusion, affinity cubed (Iscen 2017)": lambda x, t, ti, kw: _diffuse(
            _graph(x @ x.T, power=3))[1:],
        "diffusion, mutual k-NN + cubed (Iscen 2017)": lambda x, t, ti, kw: _diffuse(
            _graph(x @ x.T, mutual=True, power=3))[1:],
        "diffusion, soft seed cos^3": lambda x, t, ti, kw: _diffuse(
            _graph(x @ x.T), np.clip(x @ x[0], 0, None) ** 3)[1:],
        "diffusion + BM25 second seed 0.1": bm25_seed(0.1),
        "diffusion + BM25 second seed 0.3": bm25_seed(0.3),
        "second diffusion round, expanded by top 1": qe_round(1),
        "second diffusion round, expanded by top 3": qe_round(3),
        "second diffusion round, expanded by top 5": qe_round(5),
        "k-reciprocal (Zhong 2017: 20, 6, 0.3)": lambda x, t, ti, kw: _k_reciprocal(x)[0, 1:],
        "diffusion on the k-reciprocal similarity": lambda x, t, ti, kw: _diffuse(
            _graph(_k_reciprocal(x)))[1:],
        "cosine of diffusion rows (contextual similarity)": contextual,
        "cosine after augmentation (alpha-QE / DBA: 10, 3)": lambda x, t, ti, kw: (
            lambda y: y[1:] @ y[0])(_augmented(x)),
        "CSLS (k 10)": lambda x, t, ti, kw: _csls(x)[0, 1:],
        "diffusion on CSLS": lambda x, t, ti, kw: _diffuse(_graph(_csls(x)))[1:],
        "diffusion on mutual proximity": lambda x, t, ti, kw: _diffuse(_graph(_mutual_proximity(x)))[1:],
    }
    for k1 in (10, 15, 20, 30):
        out[f"mean of k-reciprocal (k1 {k1}) and diffusion"] = krec_and_diffusion(k1)
    return out


def experiments(
    libs: dict[str, paperfeed.Library], papers: list[Paper], on: dict[str, set[int]],
    shipped: dict[str, dict[str, float]], reference: dict[str, float],
) -> list[str]:
    """P@10 of every experiment for each encoder, the paired bootstrap against `reference` (the
    strongest single signal), and a cross-fitted check of the whole search: the experiment best
    on the even papers (for both encoders together) is scored on the odd ones and vice versa."""
    from paperfeed.related import KEYWORD_CANDIDATES, TITLE_TERMS
    from paperfeed.search import query_terms

    ids = [p.id for p in papers]
    n = len(ids)
    tfidf = _tfidf(papers)
    bm25 = np.zeros((n, n))
    store = next(iter(libs.values())).store
    for i, p in enumerate(papers):
        hits = {o.id: s for o, s in store.keyword_search(query_terms(p.title)[:TITLE_TERMS],
                                                           limit=KEYWORD_CANDIDATES) if o.id != p.id}
        cols = [ids.index(pid) for pid in hits]
        if cols:
            bm25[i, cols] = _minmax(np.array(list(hits.values())))
    table: dict[str, dict[str, dict[str, float]]] = {}
    for e, lib in libs.items():
        vectors = lib.semantic.vectors
        keys = vectors.keys_of(ids)
        found, vecs = vectors.get_vectors([keys[pid] for pid in ids])
        by_key = {int(k): v for k, v in zip(found, vecs, strict=True)}
        x_all = np.vstack([by_key[keys[pid]] for pid in ids]).astype(np.float64)
        titles = _unit_rows(get_encoder(e).encode([p.title for p in papers]).astype(np.float64))
        for name, scorer in _scorers().items():
            lists = {}
            for i, pid in enumerate(ids):
                others = np.array([j for j in range(n) if j != i])
                rows = np.r_[i, others]
                dense = scorer(x_all[rows], tfidf[rows], titles[rows], bm25[i, others])
                score = 0.9 * _minmax(dense) + (0.0 if name == NO_KEYWORD else 0.1) * bm25[i, others]
                order = sorted(range(len(others)), key=lambda r: (-score[r], ids[others[r]]))
                lists[pid] = [ids[others[r]] for r in order[:K]]
            table.setdefault(name, {})[e] = per_paper(lists, on)
    check = table["shipped diffusion (check: must equal related)"]
    for e in libs:
        assert check[e] == shipped[e], f"re-implementation differs from related ({e})"
    encoders = list(libs)
    lines = [f"experiments ({len(table)} x {len(encoders)} configurations): P@10, and minus the "
          "strongest single signal (95 % paired bootstrap interval)"]
    for name, per_encoder in table.items():
        cells = []
        for e in encoders:
            lo, hi = paired_interval(per_encoder[e], reference)
            mean = np.mean(list(per_encoder[e].values()))
            cells.append(f"{e} {mean:.3f} ({mean - np.mean(list(reference.values())):+.3f}, "
                         f"{lo:+.3f} .. {hi:+.3f})")
        lines.append(f"  {name:52s} " + "  ".join(cells))
    halves = [set(ids[0::2]), set(ids[1::2])]
    held: dict[str, dict[str, float]] = {e: {} for e in encoders}
    for tune, test in ((0, 1), (1, 0)):
        best = max(table, key=lambda name: sum(
            np.mean([table[name][e][p] for p in halves[tune]]) for e in encoders))
        lines.append(f"  cross-fitted: best on half {tune}: {best!r}")
        for e in encoders:
            held[e].update({p: table[best][e][p] for p in halves[test]})
    for e in encoders:
        lo, hi = paired_interval(held[e], reference)
        mean = np.mean(list(held[e].values()))
        lines.append(f"  cross-fitted held-out {e}: P@10 {mean:.3f}, minus the strongest single signal "
              f"{mean - np.mean(list(reference.values())):+.3f} ({lo:+.3f} .. {hi:+.3f})")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--no-minilm", action="store_true")
    parser.add_argument("--grid", action="store_true", help="also print the weights grid")
    parser.add_argument("--per-encoder", action="store_true",
                        help="also compare the candidate per-encoder settings (CANDIDATE_SETTINGS)")
    parser.add_argument("--experiments", action="store_true",
                        help="also run the re-rankings tried and not shipped (see `experiments`)")
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
        tried: list[str] = []
        table_lines = per_encoder(libs, papers, on) if args.per_encoder else []
        grid = {}
        if args.grid:
            for e in encoders:
                for neighbours in (8, 12, 15, 20, 30):
                    for alpha in (0.0, 0.5, 0.7, 0.8, 0.9):
                        w = Weights(alpha=alpha, neighbours=neighbours)  # static's other weights
                        lists = related_lists(libs[e], papers, w)
                        half: dict[int, dict[str, list[str]]] = {0: {}, 1: {}}
                        for i, pid in enumerate(ids):
                            half[i % 2][pid] = lists[pid]
                        grid[(e, neighbours, alpha)] = (
                            precision(lists, on), precision(half[0], on), precision(half[1], on)
                        )
        if args.experiments:
            best_single = max(singles, key=lambda name: results[name])
            tried = experiments(
                libs, papers, on, {e: rows[f"paperfeed related ({e})"] for e in encoders}, rows[best_single]
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
    if table_lines:
        print("\n".join(table_lines))
    if tried:
        print("\n".join(tried))
    print(json.dumps({k: round(v, 4) for k, v in results.items()}))


if __name__ == "__main__":
    main()
