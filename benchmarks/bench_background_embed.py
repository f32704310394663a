"""Search latency with the background embedder filling the quality set, against without it, in the
same run (phases alternate: idle, embedding, idle, embedding), and the size of both vector sets.

    PYTHONPATH=src python benchmarks/bench_background_embed.py --papers 20000 --queries 200
    PYTHONPATH=src python benchmarks/bench_background_embed.py --home <store with static vectors>
        [--rate 4] [--phases 4] [--threads 1]

`--rate R` sends queries as a server receives them, R a second on average (Poisson arrivals, one
client at a time: a query due while another runs waits for it), latency counted from the query's
start; without it they run back to back, which leaves the embedder (it waits while a query is in
flight) almost no gap to work in. `--threads` and `--nice` set the embedder's onnxruntime
session and thread priority (defaults: `embed/background.py`'s). The papers the embedder filled
are counted per phase.

With `--home`, an existing store (e.g. the 1M synthetic store) is used instead of a fresh one, and
the queries are 2-4 consecutive words of random stored titles (as people type them); the quality
vectors the embedder wrote stay in that store (the next run resumes where it stopped).

A store of synthetic papers gets its instant (static) set; then hybrid searches are timed while the
embedder is idle and while `BackgroundEmbedder` fills `minilm-int8` (pausing, as under `serve`,
while a query is in flight). Prints p50/p99 per phase, the machine's load, and bytes per vector.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import threading
import time
from pathlib import Path

from paperfeed.config import Config
from paperfeed.embed.background import BackgroundEmbedder
from paperfeed.library import Library
from paperfeed.records import Paper

WORDS = [f"w{i}" for i in range(4000)] + (
    "graph neural network diffusion model language transformer attention sampling vision "
    "robot policy reinforcement learning quantization sparse retrieval benchmark".split()
)


def build(home: Path, n: int) -> None:
    rng = random.Random(1)
    papers = [Paper(id=f"2403.{i:05d}", title=" ".join(rng.choice(WORDS) for _ in range(8)),
                    abstract=" ".join(rng.choice(WORDS) for _ in range(120))) for i in range(n)]
    env = {"PAPERFEED_QUALITY_ENCODER": "none"}
    with Library(Config.from_env(home=home, env=env)) as lib:
        lib.store.upsert(papers)
        lib.index()


def timed(lib: Library, queries: list[str], flag: threading.Event, rate: float,
          rng: random.Random) -> list[float]:
    out = []
    due = time.perf_counter()
    for q in queries:
        if rate > 0:
            due += rng.expovariate(rate)
            time.sleep(max(0.0, due - time.perf_counter()))
        flag.set()  # a request in flight: the embedder pauses, as the web middleware makes it
        t = time.perf_counter()
        lib.search(q, mode="hybrid", limit=10)
        out.append((time.perf_counter() - t) * 1000)
        flag.clear()
    return out


def title_queries(lib: Library, n: int, rng: random.Random) -> list[str]:
    """2-4 consecutive words of random stored titles (the store's newest 200,000 rowids)."""
    top = lib.store.count()
    keys = [rng.randint(max(1, top - 200_000), top) for _ in range(n * 2)]
    titles = [p.title for p in lib.store.get_by_keys(keys).values()]
    out = []
    for t in titles:
        words = t.split()
        if len(words) >= 4:
            k = rng.randint(2, 4)
            i = rng.randint(0, len(words) - k)
            out.append(" ".join(words[i:i + k]))
    return out[:n]


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p * len(xs)))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--papers", type=int, default=20_000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--home", type=Path, default=None, help="an existing store with static vectors")
    ap.add_argument("--rate", type=float, default=0.0, help="queries/s (Poisson); 0: back to back")
    ap.add_argument("--phases", type=int, default=4, help="alternating idle / embedding phases")
    ap.add_argument("--warmup", type=int, default=60, help="queries before the phases, not counted")
    ap.add_argument("--threads", type=int, default=None, help="the embedder's onnxruntime threads")
    ap.add_argument("--nice", type=int, default=None, help="the embedder thread's nice value")
    args = ap.parse_args()
    options = {k: v for k, v in (("threads", args.threads), ("nice", args.nice)) if v is not None}
    rng = random.Random(2)
    with tempfile.TemporaryDirectory() as tmp:
        home = args.home or Path(tmp) / "home"
        if args.home is None:
            build(home, args.papers)
        lib = Library(Config.from_env(home=home, env={"PAPERFEED_QUALITY_ENCODER": "minilm-int8",
                                                      "PAPERFEED_SEARCH_CACHE": "0"}))
        lib.semantic.view().index.ready()
        flag = threading.Event()
        quality = lib.semantic.vector_set("minilm-int8")

        def filled() -> int:
            return quality.vectors.fingerprint().count if quality.exists() else 0

        results: dict[str, list[float]] = {"idle": [], "embedding": []}
        papers: dict[str, list[int]] = {"idle": [], "embedding": []}
        embedder: BackgroundEmbedder | None = None
        if args.warmup:  # the store's pages and the encoders' first calls, outside the figures
            warm = (title_queries(lib, args.warmup, rng) if args.home else [" ".join(
                rng.choice(WORDS) for _ in range(4)) for _ in range(args.warmup)])
            timed(lib, warm, flag, 0.0, rng)
        started = time.strftime("%H:%M:%S UTC", time.gmtime())
        for i in range(args.phases):
            phase = ("idle", "embedding")[i % 2]
            if phase == "embedding" and embedder is None:
                embedder = BackgroundEmbedder(lib.semantic, flag.is_set, poll=3600, **options).start()
                time.sleep(5)  # past the model load: the embedder is encoding
            if phase == "idle" and embedder is not None:
                embedder.stop()
                embedder = None
            if args.home is None:
                queries = [" ".join(rng.choice(WORDS) for _ in range(4)) for _ in range(args.queries)]
            else:
                queries = title_queries(lib, args.queries, rng)
            before, t = filled(), time.perf_counter()
            xs = timed(lib, queries, flag, args.rate, rng)
            seconds = time.perf_counter() - t
            results[phase] += xs
            papers[phase].append(filled() - before)
            print(f"phase {i + 1} {phase:<10} p50 {statistics.median(xs):7.1f} ms  p99 "
                  f"{pct(xs, 0.99):7.1f} ms  n={len(xs)}  {seconds:.0f} s  quality vectors "
                  f"+{papers[phase][-1]}  load {os.getloadavg()[0]:.1f}", flush=True)
        if embedder is not None:
            embedder.stop()
        print(f"started {started}, rate {args.rate or 'back to back'}, embedder {options or 'defaults'}")
        print(f"papers {lib.store.count()}, queries {args.queries} per phase x2, load {os.getloadavg()}")
        for phase, xs in results.items():
            print(f"{phase:<10} p50 {statistics.median(xs):7.1f} ms  p99 {pct(xs, 0.99):7.1f} ms"
                  f"  n={len(xs)}  quality vectors filled {sum(papers[phase])}")
        print(f"quality vectors in the store: {filled()}")
        directory = home / "paperfeed.db.vectors"
        for f in sorted(directory.glob("*.hnsw")):
            print(f"index file {f.name}: {f.stat().st_size / 1e6:.1f} MB"
                  f" = {f.stat().st_size / max(1, lib.store.count()):.0f} B/paper")
        db = home / "paperfeed.db"
        print(f"database {db.stat().st_size / 1e6:.1f} MB")
        lib.close()


if __name__ == "__main__":
    main()
