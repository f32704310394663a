"""Search quality on a BEIR-layout directory (default: the bundled development set made from the
sample pages, `tests/fixtures/beir`): keyword, semantic and hybrid for each encoder, and the
hybrid fusion grid (weighted normalised scores at several keyword weights, reciprocal-rank
fusion) the default was chosen from.

    python benchmarks/bench_semantic_quality.py [DIR] [--no-minilm]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from paperfeed import search
from paperfeed.evaluate import ID_PREFIX, library_ranker, load_beir, load_library, score_run
from paperfeed.store.base import Filters

ROOT = Path(__file__).resolve().parents[1]


def fusion_ranker(lib, method: str, weight: float):
    def rank(query: str, depth: int) -> list[str]:
        hits = search.hybrid_search(
            lib.store, lib.semantic, query, limit=depth, filters=Filters(),
            method=method, keyword_weight=weight,
        )
        return [h.paper.id.removeprefix(ID_PREFIX) for h in hits]

    return rank


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("directory", nargs="?", default=str(ROOT / "tests/fixtures/beir"))
    parser.add_argument("--no-minilm", action="store_true")
    args = parser.parse_args()
    data = load_beir(args.directory)
    print(f"{args.directory}: {len(data.corpus)} documents, {len(data.qrels)} judged queries")
    encoders = ["minilm-static"] + ([] if args.no_minilm else ["minilm"])
    with tempfile.TemporaryDirectory() as tmp:
        for encoder in encoders:
            lib = load_library(data, Path(tmp) / encoder, encoder, embed=True)
            for mode in ("keyword", "semantic", "hybrid"):
                print(f"{encoder:14s} {mode:9s} {score_run(data, library_ranker(lib, mode))}")
            for method, weight in [("weighted", w / 10) for w in range(1, 10)] + [
                ("rrf", 0.5), ("rrf", 0.7)
            ]:
                m = score_run(data, fusion_ranker(lib, method, weight))
                print(f"{encoder:14s}   fusion {method:8s} w_kw={weight:.1f} {m}")
            lib.close()


if __name__ == "__main__":
    main()
