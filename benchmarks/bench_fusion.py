"""Hybrid fusion per encoder, measured honestly: nDCG@10 of BM25, vectors alone and hybrid fusion
at several keyword weights (and reciprocal-rank fusion), each against BM25 with a paired
bootstrap interval over queries, the relevance floor on and off, and a cross-fitted choice of
the weight (chosen on a random half of the queries, scored on the other half, 50 splits).

Two labelled sets built from the 86 papers of the bundled pages:

  titles     the BEIR fixture (`tests/fixtures/beir`): query = a paper's title, corpus = the
             abstracts (titles left out); the set the fusion was first tuned on
  sentences  query = the first sentence of a paper's abstract, corpus = each paper's title and
             the rest of its abstract; a longer, natural-language query style, not tuned on

    python benchmarks/bench_fusion.py [--encoders minilm-static,minilm]
"""

from __future__ import annotations

import argparse
import re
import tempfile
from pathlib import Path

import numpy as np

import paperfeed
from paperfeed import search
from paperfeed.evaluate import ID_PREFIX, BeirData, load_beir, load_library, ndcg_at
from paperfeed.records import Paper
from paperfeed.sources import FORMATS
from paperfeed.store.base import Filters

ROOT = Path(__file__).resolve().parents[1]
WEIGHTS = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")


def sample_papers() -> list[Paper]:
    """The bundled sample's papers (the two saved pages), each once."""
    papers: dict[str, Paper] = {}
    for path in sorted((Path(paperfeed.__file__).parent / "sample").glob("00[01]_*.txt")):
        with path.open("rb") as f:
            for item in FORMATS["hf-page"](f, str(path)):
                if isinstance(item, Paper):
                    papers.setdefault(item.id, item)
    return list(papers.values())


def sentence_set() -> BeirData:
    """Query = first sentence of each abstract; document = title + the rest of the abstract."""
    corpus, queries, qrels = {}, {}, {}
    for n, p in enumerate(sample_papers()):
        parts = _SENTENCE.split(p.abstract, maxsplit=1)
        if len(parts) < 2 or len(parts[0]) < 40:
            continue
        doc = f"d{n}"
        corpus[doc] = (p.title, parts[1])
        queries[f"q{n}"] = parts[0]
        qrels[f"q{n}"] = {doc: 1}
    return BeirData(corpus=corpus, queries=queries, qrels=qrels)


def per_query(data: BeirData, rank) -> dict[str, float]:
    return {q: ndcg_at(rank(data.queries[q], 100), rels) for q, rels in data.qrels.items()}


def interval(a: dict[str, float], b: dict[str, float], rounds: int = 10_000) -> tuple[float, float]:
    diff = np.array([a[q] - b[q] for q in a])
    rng = np.random.default_rng(7)
    means = diff[rng.integers(0, len(diff), size=(rounds, len(diff)))].mean(axis=1)
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--encoders", default="minilm-static,minilm")
    args = parser.parse_args()
    sets = {"titles": load_beir(ROOT / "tests/fixtures/beir"), "sentences": sentence_set()}
    with tempfile.TemporaryDirectory() as tmp:
        for set_name, data in sets.items():
            for encoder in args.encoders.split(","):
                lib = load_library(data, Path(tmp) / f"{set_name}-{encoder}", encoder, embed=True)

                def ids(hits) -> list[str]:
                    return [h.paper.id.removeprefix(ID_PREFIX) for h in hits]

                def hybrid(method: str, w: float, floor: float | None = None, lib=lib):
                    return lambda text, depth: ids(search.hybrid_search(
                        lib.store, lib.semantic, text, limit=depth, filters=Filters(),
                        method=method, keyword_weight=w, floor=floor))

                def mode(name: str, lib=lib):
                    return lambda text, depth: ids(lib.search(text, mode=name, limit=depth))

                runs = {
                    "BM25": per_query(data, mode("keyword")),
                    "vectors": per_query(data, mode("semantic")),
                    "BM25, floor off": per_query(data, lambda text, depth, lib=lib: [
                        p.id.removeprefix(ID_PREFIX) for p, _ in lib.store.keyword_search(
                            search.query_terms(text), limit=depth)]),
                }
                for w in WEIGHTS:
                    runs[f"weighted w_kw={w:.1f}"] = per_query(data, hybrid("weighted", w))
                for w in (0.5, 0.7):
                    runs[f"rrf w_kw={w:.1f}"] = per_query(data, hybrid("rrf", w))
                shipped = search.settings_for(encoder)
                runs["shipped, floor off"] = per_query(
                    data, hybrid(shipped.fusion, shipped.keyword_weight, floor=-2.0))
                base = runs["BM25"]
                mb = np.mean(list(base.values()))
                print(f"\n{set_name} ({len(data.qrels)} queries), {encoder} (shipped: {shipped})")
                for name, r in runs.items():
                    m = np.mean(list(r.values()))
                    lo, hi = interval(r, base)
                    print(f"  {name:22s} nDCG@10 {m:.4f}  x{m / mb:.3f} of BM25  "
                          f"diff {m - mb:+.4f} ({lo:+.4f} .. {hi:+.4f})")
                qids = list(base)
                rng = np.random.default_rng(11)
                held, picks = [], []
                fused = [n for n in runs if n.startswith(("weighted", "rrf"))]
                for _ in range(50):
                    perm = rng.permutation(len(qids))
                    a, b = [qids[i] for i in perm[::2]], [qids[i] for i in perm[1::2]]
                    best = max(fused, key=lambda n: np.mean([runs[n][q] for q in a]))
                    picks.append(best)
                    held.append(np.mean([runs[best][q] for q in b]) / np.mean([base[q] for q in b]))
                common = max(set(picks), key=picks.count)
                print(f"  cross-fitted (50 half splits): held-out x{np.mean(held):.3f} of BM25 "
                      f"(p5 {np.percentile(held, 5):.3f}); most picked {common!r} ({picks.count(common)}/50)")
                lib.close()


if __name__ == "__main__":
    main()
