"""Personal recommendations on the real pages: precision@10 of paperfeed's engine against
arxiv-sanity-lite's and zotero-arxiv-daily's methods, side by side in one run.

Data: the two bundled related-papers pages (`src/paperfeed/sample/00[01]_*.txt`, 86 distinct
papers, each page the papers near one topic, 9 papers on both). A trial saves 5 papers of one page
(the positives) and dismisses 3 papers that are only on the other page (the negatives); every
method ranks the remaining papers, and precision@10 is the share of its top 10 that are on the
saved page. Trials are drawn at random (seeded); the page saved alternates.

Methods (each over the same library, vectors of the encoder named):
  ours/X          `paperfeed.recommend.recommend` (floor off, so the top 10 are always full)
  svm-tfidf       arxiv-sanity-lite: TF-IDF over the corpus (1-2 grams, sublinear tf, l2,
                  max 20k features, English stopwords, its token pattern; `min_df`/`max_df` as
                  published (5, 0.1) and relaxed (1, 1.0) for this tiny corpus, the better one
                  reported), then per request LinearSVC(C=0.01, class_weight='balanced') with the
                  positives as 1 and every other paper as 0, ranked by decision function
  meancos/X       zotero-arxiv-daily: mean cosine to the library's papers (it has no negatives)
  exp-*           experiments not shipped (see `experiments`)

Honesty: the settings of `recommend.Weights` are chosen on trials inside one random half of the
papers (both pages represented; the other half excluded from candidates) and checked on trials
inside the other half, which the choice never saw (`--grid` shows the grid). Intervals are 95 %
paired bootstrap intervals over trials of (ours - baseline). Trials share papers, so they are not
independent: read the intervals as optimistic.

The floor: with the corpus being these two near topics, a random paper of the store is as likely
a topic-mate as not, so the floor (calibrated against random corpus papers) is measured in
another way: libraries of papers foreign to the store (the physics and mathematics records of the
arXiv fixtures) saved into it must get nothing (`[]`), and `bench_recommend_speed.py` checks
random libraries on a synthetic corpus.

    python benchmarks/bench_recommend.py [--trials 300] [--no-minilm] [--grid [--tune-trials 75]]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from bench_related import library_with, pages

import paperfeed
from paperfeed.embed import paper_text
from paperfeed.recommend import WEIGHTS, Weights, recommend

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures"
K = 10
SAVED, DISMISSED = 5, 3


def make_trials(ids: list[str], on: dict[str, set[int]], count: int, seed: int,
                within: set[str] | None = None) -> list[tuple[int, list[str], list[str]]]:
    rng = np.random.default_rng(seed)
    pool = [i for i in ids if within is None or i in within]
    out = []
    for t in range(count):
        page = t % 2
        saved = [i for i in pool if page in on[i]]
        other = [i for i in pool if on[i] == {1 - page}]
        pos = [str(x) for x in rng.choice(saved, SAVED, replace=False)]
        neg = [str(x) for x in rng.choice(other, DISMISSED, replace=False)]
        out.append((page, pos, neg))
    return out


def precision(ranked: list[str], page: int, on: dict[str, set[int]]) -> float:
    return sum(1 for pid in ranked[:K] if page in on[pid]) / K


def interval(diff: np.ndarray, rounds: int = 10_000) -> tuple[float, float]:
    rng = np.random.default_rng(7)
    means = diff[rng.integers(0, len(diff), size=(rounds, len(diff)))].mean(axis=1)
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


class Baselines:
    """The per-request baselines over the whole (tiny) corpus, as their projects compute them."""

    def __init__(self, ids: list[str], texts: list[str], vectors: dict[str, np.ndarray]) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.ids = ids
        self.index = {pid: i for i, pid in enumerate(ids)}
        self.vectors = vectors
        self.tfidf = {}
        for name, (min_df, max_df) in {"published": (5, 0.1), "relaxed": (1, 1.0)}.items():
            v = TfidfVectorizer(
                input="content", encoding="utf-8", decode_error="replace",
                strip_accents="unicode", lowercase=True, analyzer="word", stop_words="english",
                token_pattern=r"(?u)\b[a-zA-Z_][a-zA-Z0-9_]+\b", ngram_range=(1, 2),
                max_features=20_000, norm="l2", use_idf=True, smooth_idf=True, sublinear_tf=True,
                max_df=max_df, min_df=min_df,
            )
            self.tfidf[name] = v.fit_transform(texts)

    def _rank(self, scores: np.ndarray, skip: set[str], allowed: set[str] | None) -> list[str]:
        order = np.argsort(-scores, kind="stable")
        return [self.ids[i] for i in order if self.ids[i] not in skip
                and (allowed is None or self.ids[i] in allowed)][:K]

    def svm(self, variant: str, pos: list[str], skip: set[str], allowed: set[str] | None):
        from sklearn.svm import LinearSVC

        x = self.tfidf[variant]
        y = np.zeros(len(self.ids))
        y[[self.index[p] for p in pos]] = 1
        clf = LinearSVC(class_weight="balanced", max_iter=10_000, tol=1e-6, C=0.01)
        clf.fit(x, y)
        return self._rank(clf.decision_function(x), skip, allowed)

    def meancos(self, encoder: str, pos: list[str], skip: set[str], allowed: set[str] | None):
        v = self.vectors[encoder]
        return self._rank(v @ v[[self.index[p] for p in pos]].mean(axis=0), skip, allowed)

    # -- experiments: the "obvious" per-request learners, not shipped --------------------------

    def exp_linear(self, encoder: str, pos: list[str], neg: list[str], skip: set[str],
                   allowed: set[str] | None, sparse: float = 0.5):
        """LinearSVC (balanced, C=1) on [dense ; sparse x tf-idf], positives vs the explicit
        negatives (weight 3) and every other paper as background (weight 1)."""
        from scipy.sparse import csr_matrix, hstack
        from sklearn.svm import LinearSVC

        x = hstack([csr_matrix(self.vectors[encoder]), sparse * self.tfidf["relaxed"]]).tocsr()
        y = np.zeros(len(self.ids))
        y[[self.index[p] for p in pos]] = 1
        weight = np.ones(len(self.ids))
        weight[[self.index[n] for n in neg]] = 3.0
        clf = LinearSVC(class_weight="balanced", C=1.0, max_iter=10_000, tol=1e-6)
        clf.fit(x, y, sample_weight=weight)
        return self._rank(clf.decision_function(x), skip, allowed)

    def exp_negcos(self, encoder: str, pos: list[str], neg: list[str], skip: set[str],
                   allowed: set[str] | None):
        """Mean cosine to the positives minus half the mean cosine to the negatives."""
        v = self.vectors[encoder]
        s = v @ v[[self.index[p] for p in pos]].mean(axis=0)
        s = s - 0.5 * (v @ v[[self.index[n] for n in neg]].mean(axis=0))
        return self._rank(s, skip, allowed)


def ours(lib: paperfeed.Library, pos: list[str], neg: list[str], outside: set[str],
         weights: Weights = WEIGHTS) -> list[str]:
    hits = recommend(lib.store, lib.semantic, pos, neg, exclude=outside, limit=K, floor=False,
                     weights=weights)
    return [h.paper.id for h in hits]


def run_trials(methods: dict, trials, on, within: set[str] | None, ids: list[str]) -> dict:
    outside = set(ids) - within if within is not None else set()
    scores: dict[str, list[float]] = {name: [] for name in methods}
    for page, pos, neg in trials:
        skip = set(pos) | set(neg)
        for name, fn in methods.items():
            scores[name].append(precision(fn(pos, neg, skip, outside, within), page, on))
    return {name: np.array(v) for name, v in scores.items()}


def grid() -> list[Weights]:
    return [
        replace(WEIGHTS, negative=n, background=b, sparse=s)
        for n in (0.5, 0.75, 1.0) for b in (0.0, 0.25, 0.5) for s in (0.0, 0.25, 0.5)
    ]


def floor_check(lib: paperfeed.Library, page_ids: list[str], rounds: int = 20) -> dict:
    """Libraries of papers foreign to the store: how often anything clears the floor."""
    from paperfeed.sources import FORMATS

    foreign = []
    for fmt, name in (("arxiv-snapshot", "arxiv_snapshot.jsonl"), ("arxiv-atom", "arxiv_atom.xml"),
                      ("arxiv-oai", "arxiv_oai_arxiv.xml")):
        with (FIXTURES / name).open("rb") as f:
            foreign += [p for p in FORMATS[fmt](f, name) if isinstance(p, paperfeed.Paper)]
    lib.store.upsert(foreign)
    lib.semantic.embed_ids([p.id for p in foreign])
    ids = [p.id for p in foreign]
    rng = np.random.default_rng(3)
    empty = cleared = 0
    for _ in range(rounds):
        pos = [str(x) for x in rng.choice(ids, min(3, len(ids)), replace=False)]
        hits = recommend(lib.store, lib.semantic, pos, exclude=set(ids) - set(pos), limit=K)
        empty += not hits
        cleared += len(hits)
    page_hits = []
    rng = np.random.default_rng(4)
    for _ in range(rounds):
        pos = [str(x) for x in rng.choice(page_ids, SAVED, replace=False)]
        page_hits.append(len(recommend(lib.store, lib.semantic, pos, exclude=set(ids), limit=K)))
    lib.store.delete(ids)
    return {"foreign_papers": len(ids), "foreign_libraries": rounds, "foreign_empty": empty,
            "foreign_cleared_per_library": cleared / rounds,
            "page_library_cleared_mean": float(np.mean(page_hits))}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=300)
    parser.add_argument("--no-minilm", action="store_true")
    parser.add_argument("--grid", action="store_true", help="the settings grid on half 1")
    parser.add_argument("--tune-trials", type=int, default=75)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    papers, on = pages()
    ids = [p.id for p in papers]
    texts = [paper_text(p.title, p.abstract) for p in papers]
    encoders = ["minilm-static"] + ([] if args.no_minilm else ["minilm"])
    libs, vectors = {}, {}
    for enc in encoders:
        libs[enc] = library_with(enc, Path(tempfile.mkdtemp(prefix=f"bench-rec-{enc}-")))
        keys = libs[enc].semantic.vectors.keys_of(ids)
        found, vecs = libs[enc].semantic.vectors.get_vectors([keys[i] for i in ids])
        by_key = dict(zip(found.tolist(), vecs, strict=True))
        v = np.array([by_key[keys[i]] for i in ids], dtype=np.float64)
        vectors[enc] = v / np.linalg.norm(v, axis=1, keepdims=True)
    base = Baselines(ids, texts, vectors)
    report: dict = {"trials": args.trials, "papers": len(ids)}

    def methods(weights: Weights = WEIGHTS, experiments: bool = True) -> dict:
        out = {}
        for enc in encoders:
            out[f"ours/{enc}"] = (
                lambda p, n, s, o, w, e=enc: ours(libs[e], p, n, o, weights)
            )
        out["svm-tfidf(published)"] = lambda p, n, s, o, w: base.svm("published", p, s, w)
        out["svm-tfidf(relaxed)"] = lambda p, n, s, o, w: base.svm("relaxed", p, s, w)
        for enc in encoders:
            out[f"meancos/{enc}"] = lambda p, n, s, o, w, e=enc: base.meancos(e, p, s, w)
            if experiments:
                out[f"exp-svm[dense;tfidf]/{enc}"] = (
                    lambda p, n, s, o, w, e=enc: base.exp_linear(e, p, n, s, w)
                )
                out[f"exp-meancos-0.5neg/{enc}"] = (
                    lambda p, n, s, o, w, e=enc: base.exp_negcos(e, p, n, s, w)
                )
        return out

    rng = np.random.default_rng(11)
    order = [str(x) for x in rng.permutation(ids)]
    halves = [set(order[0::2]), set(order[1::2])]
    tune_enc = encoders[-1]
    if args.grid:
        tune = make_trials(ids, on, args.tune_trials, 21, halves[0])
        results = []
        for w in grid():
            got = run_trials(
                {"x": lambda p, n, s, o, wi, w=w: ours(libs[tune_enc], p, n, o, w)},
                tune, on, halves[0], ids,
            )["x"]
            results.append((float(got.mean()), w))
            print(f"  tune {w.negative:.2f} {w.background:.2f} {w.sparse:.2f}: {got.mean():.3f}")
        report["grid"] = {
            "tuned_on": tune_enc, "tune_trials": len(tune),
            "table": [{"negative": w.negative, "background": w.background, "sparse": w.sparse,
                       "p10": s} for s, w in results],
        }
    # the check: trials inside the other half, with the shipped settings, against the baselines
    check = make_trials(ids, on, args.trials, 22, halves[1])
    checked = run_trials(methods(experiments=False), check, on, halves[1], ids)
    report["check_half2"] = {k: float(v.mean()) for k, v in checked.items()}
    report["check_half2_intervals"] = {}
    for enc in encoders:
        for baseline in ("svm-tfidf(published)", "svm-tfidf(relaxed)", f"meancos/{enc}"):
            diff = checked[f"ours/{enc}"] - checked[baseline]
            lo, hi = interval(diff)
            report["check_half2_intervals"][f"ours/{enc} - {baseline}"] = [
                float(diff.mean()), lo, hi]
    print("check on half 2:", json.dumps(report["check_half2"], indent=1))

    trials = make_trials(ids, on, args.trials, 5)
    t0 = time.perf_counter()
    scores = run_trials(methods(), trials, on, None, ids)
    elapsed = time.perf_counter() - t0
    svm_best = max(("svm-tfidf(published)", "svm-tfidf(relaxed)"), key=lambda k: scores[k].mean())
    report["precision_at_10"] = {k: float(v.mean()) for k, v in scores.items()}
    report["intervals"] = {}
    for enc in encoders:
        for baseline in (svm_best, *(f"meancos/{e}" for e in encoders)):
            diff = scores[f"ours/{enc}"] - scores[baseline]
            lo, hi = interval(diff)
            report["intervals"][f"ours/{enc} - {baseline}"] = [float(diff.mean()), lo, hi]
    report["floor"] = floor_check(libs[encoders[-1]], ids)
    report["seconds"] = elapsed
    print(json.dumps({k: v for k, v in report.items() if k != "grid"}, indent=1))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    for lib in libs.values():
        lib.close()


if __name__ == "__main__":
    main()
