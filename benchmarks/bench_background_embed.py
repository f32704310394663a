"""Search latency with the background embedder filling the quality set, against without it, in the
same run (phases alternate: idle, embedding, idle, embedding), and the size of both vector sets.

    PYTHONPATH=src python benchmarks/bench_background_embed.py --papers 20000 --queries 200

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


def timed(lib: Library, queries: list[str], flag: threading.Event) -> list[float]:
    out = []
    for q in queries:
        flag.set()  # a request in flight: the embedder pauses, as the web middleware makes it
        t = time.perf_counter()
        lib.search(q, mode="hybrid", limit=10)
        out.append((time.perf_counter() - t) * 1000)
        flag.clear()
    return out


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p * len(xs)))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--papers", type=int, default=20_000)
    ap.add_argument("--queries", type=int, default=200)
    args = ap.parse_args()
    rng = random.Random(2)
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        build(home, args.papers)
        lib = Library(Config.from_env(home=home, env={"PAPERFEED_QUALITY_ENCODER": "minilm-int8",
                                                      "PAPERFEED_SEARCH_CACHE": "0"}))
        lib.semantic.view().index.ready()
        flag = threading.Event()
        results: dict[str, list[float]] = {"idle": [], "embedding": []}
        embedder: BackgroundEmbedder | None = None
        for phase in ("idle", "embedding", "idle", "embedding"):
            if phase == "embedding" and embedder is None:
                embedder = BackgroundEmbedder(lib.semantic, flag.is_set, poll=3600).start()
                time.sleep(5)  # past the model load: the embedder is encoding
            if phase == "idle" and embedder is not None:
                embedder.stop()
                embedder = None
            queries = [" ".join(rng.choice(WORDS) for _ in range(4)) for _ in range(args.queries)]
            results[phase] += timed(lib, queries, flag)
        if embedder is not None:
            embedder.stop()
        quality = lib.semantic.vector_set("minilm-int8")
        filled = quality.vectors.fingerprint().count if quality.exists() else 0
        print(f"papers {args.papers}, queries {args.queries} per phase x2, load {os.getloadavg()}")
        for phase, xs in results.items():
            print(f"{phase:<10} p50 {statistics.median(xs):7.1f} ms  p99 {pct(xs, 0.99):7.1f} ms"
                  f"  n={len(xs)}")
        print(f"quality vectors embedded during the run: {filled}")
        directory = home / "paperfeed.db.vectors"
        for f in sorted(directory.glob("*.hnsw")):
            print(f"index file {f.name}: {f.stat().st_size / 1e6:.1f} MB"
                  f" = {f.stat().st_size / max(1, lib.store.count()):.0f} B/paper")
        db = home / "paperfeed.db"
        print(f"database {db.stat().st_size / 1e6:.1f} MB")
        lib.close()



if __name__ == "__main__":
    main()
