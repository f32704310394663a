"""Recommendation latency at scale, and the relevance floor on random libraries.

On a synthetic store (`benchmarks/synth.py` snapshot, static vectors, SQLite; built on the first
run under --home), measures `paperfeed.recommend.recommend`:

  library     a 200-paper library with 50 dismissals (random papers: the worst case for the
              candidate set, whose anchors then spread over the whole corpus), p50/p99 over
              distinct libraries (each request's candidates mostly unseen: cold term cache);
              once stateless (ids alone) and once as a stored library, whose papers' text
              analyses the store holds (`paperfeed.terms.TermRows`)
  digest      a 50-paper collection against the newest day's window (`since`), what a digest's
              For-you section asks, per collection
  (each also as CPU time of this process, all its threads: on a machine shared with other
  work, wall time measures the other work too)
  baseline    zotero-arxiv-daily's method at the same scale: mean cosine of every stored vector
              to the library (exact numpy scan of vectors already in memory)

and the floor's null distribution: for random 5-paper libraries (papers with nothing in common,
as the synthetic text has no topics), the share of libraries that get at least one
recommendation over the floor, at several floor settings (`z`, see `recommend.Weights.floor_z`).

    python benchmarks/bench_recommend_speed.py [--papers 100000] [--home DIR] [--requests 60]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

import paperfeed
from paperfeed.embed import paper_text
from paperfeed.recommend import WEIGHTS, recommend
from paperfeed.store.base import Filters

try:  # a tree before stored analyses has none: its runs skip the stored-library request
    from paperfeed.terms import TermRows
except ImportError:
    TermRows = None  # type: ignore[assignment,misc]

HERE = Path(__file__).resolve().parent


def build(home: Path, papers: int) -> None:
    snapshot = home.parent / f"snapshot-{papers}.jsonl"
    if not snapshot.exists():
        subprocess.run([sys.executable, str(HERE / "synth.py"), str(papers), str(snapshot)],
                       check=True)
    t0 = time.perf_counter()
    with paperfeed.open(home) as lib:
        lib.import_files([snapshot], index=False)
        lib.index("minilm-static")  # the static set only: the quality set takes hours at 1M
    print(f"built {papers} papers with vectors in {time.perf_counter() - t0:.0f} s")


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--papers", type=int, default=100_000)
    parser.add_argument("--home", type=Path, default=HERE / "data" / "home-recommend")
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if not (args.home / "paperfeed.db").exists():
        args.home.mkdir(parents=True, exist_ok=True)
        build(args.home, args.papers)
    report: dict = {"papers": args.papers, "cpus": os.cpu_count()}
    with paperfeed.open(args.home) as lib:
        store, semantic = lib.store, lib.semantic
        assert semantic is not None
        n = store.count()
        rng = np.random.default_rng(1)
        ids_of = semantic.vectors.ids_of

        def random_ids(count: int) -> list[str]:
            keys = rng.choice(np.arange(1, n + 1), count, replace=False).tolist()
            return list(ids_of(keys).values())

        # warm: the index loaded, the encoder and sklearn imported, the background drawn
        recommend(store, semantic, random_ids(5), random_ids(2))

        timings, cpu = [], []
        for _ in range(args.requests):
            pos, neg = random_ids(200), random_ids(50)
            t0, c0 = time.perf_counter(), time.process_time()
            recommend(store, semantic, pos, neg, floor=False)
            timings.append((time.perf_counter() - t0) * 1000)
            cpu.append((time.process_time() - c0) * 1000)
        report["library_200_50_ms"] = {"p50": pct(timings, 50), "p99": pct(timings, 99),
                                       "mean": statistics.fmean(timings),
                                       "cpu_p50": pct(cpu, 50), "cpu_p99": pct(cpu, 99)}

        if TermRows is not None:
            # the same request from a stored library: its papers' analyses are in the store
            # (written by `index` and each digest run for saved and dismissed papers), written
            # here before the clock starts; other distinct libraries, so the candidates are cold
            rows = TermRows(store.db)
            libraries = [(random_ids(200), random_ids(50)) for _ in range(args.requests)]
            for pos, neg in libraries:
                rows.remember({pid: paper_text(t, a)
                               for pid, (t, a) in store.texts_of(pos + neg).items()})
            timings, cpu = [], []
            for pos, neg in libraries:
                t0, c0 = time.perf_counter(), time.process_time()
                recommend(store, semantic, pos, neg, floor=False)
                timings.append((time.perf_counter() - t0) * 1000)
                cpu.append((time.process_time() - c0) * 1000)
            report["library_200_50_stored_ms"] = {
                "p50": pct(timings, 50), "p99": pct(timings, 99), "mean": statistics.fmean(timings),
                "cpu_p50": pct(cpu, 50), "cpu_p99": pct(cpu, 99),
            }

        latest = store.latest_day()
        window = semantic.vectors.count_filtered(
            Filters(since=latest), 1_000_000
        ) if latest else 0
        digest, digest_cpu = [], []
        for _ in range(args.requests):
            pos = random_ids(50)
            t0, c0 = time.perf_counter(), time.process_time()
            recommend(store, semantic, pos, since=latest)
            digest.append((time.perf_counter() - t0) * 1000)
            digest_cpu.append((time.process_time() - c0) * 1000)
        report["digest_50_since_latest_day_ms"] = {
            "window_papers": window, "p50": pct(digest, 50), "p99": pct(digest, 99),
            "mean": statistics.fmean(digest),
            "cpu_p50": pct(digest_cpu, 50), "cpu_p99": pct(digest_cpu, 99),
        }

        t0 = time.perf_counter()
        keys, vecs = [], []
        for k, v in semantic.vectors.iter_vectors():
            keys.append(k)
            vecs.append(v)
        matrix = np.vstack(vecs)
        load = time.perf_counter() - t0
        scan = []
        for _ in range(args.requests):
            lib_keys = rng.choice(len(matrix), 200, replace=False)
            t0 = time.perf_counter()
            scores = matrix @ matrix[lib_keys].mean(axis=0)
            np.argpartition(-scores, 10)[:10]
            scan.append((time.perf_counter() - t0) * 1000)
        report["baseline_meancos_scan_ms"] = {"p50": pct(scan, 50), "p99": pct(scan, 99),
                                              "load_all_vectors_s": load}

        # the floor's null: random libraries; z of each hit recovered from its score
        floors = (2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0)
        for label, since in (("whole corpus", None), ("newest day", latest)):
            best_z = []
            for _ in range(args.requests):
                hits = recommend(store, semantic, random_ids(5), random_ids(3), floor=False,
                                 since=since, limit=1)
                if hits:
                    s = min(max(hits[0].score, 1e-12), 1 - 1e-12)
                    best_z.append(WEIGHTS.floor_z + math.log(s / (1 - s)))
            report[f"random_library_cleared ({label})"] = {
                f"z>={f}": float(np.mean([z >= f for z in best_z])) for f in floors
            }
    print(json.dumps(report, indent=1))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
