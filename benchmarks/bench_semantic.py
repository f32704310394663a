"""Semantic search speed: encoder throughput, and search / related latency at scale.

    python benchmarks/bench_semantic.py encoders [--snapshot benchmarks/data/snapshot-1M.jsonl]
    python benchmarks/bench_semantic.py scale --home benchmarks/data/home-semantic [--queries 300]

`encoders`: abstracts/s of the static encoder on real abstracts (the bundled sample pages, cycled)
and on synthetic snapshot text (pseudo-words split into many word pieces: a pessimistic case), side
by side with all-MiniLM-L6-v2 on the same real abstracts; median of 3 runs each.

`scale`: on a home already imported (`paperfeed import --no-index`) and indexed (`paperfeed
index`): latency p50/p99 of keyword, semantic and hybrid search over realistic queries (2-4
consecutive words of random titles) and of related papers for random papers; the vector index's
memory; ANN recall@10 against exact (brute-force float32) search on the stored vectors.
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import statistics
import time
from pathlib import Path

import numpy as np
import orjson

import paperfeed
from paperfeed.embed import get_encoder, paper_text
from paperfeed.sources import FORMATS

SAMPLE = Path(paperfeed.__file__).parent / "sample"


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def real_texts(n: int) -> list[str]:
    texts = []
    for path in sorted(SAMPLE.glob("*.txt")):
        with path.open("rb") as f:
            texts += [paper_text(p.title, p.abstract) for p in FORMATS["hf-page"](f, str(path))
                      if hasattr(p, "abstract")]
    return list(itertools.islice(itertools.cycle(texts), n))


def synthetic_texts(path: Path, n: int, skip: int = 300_000) -> list[str]:
    out = []
    with path.open("rb") as f:
        for line in itertools.islice(f, skip, skip + n):
            d = orjson.loads(line)
            out.append(paper_text(d["title"], " ".join(d["abstract"].split())))
    return out


def throughput(name: str, texts: list[str], runs: int = 3) -> float:
    """Median abstracts/s of wall time; also prints abstracts per CPU-second of this process (all
    its threads), which a shared, loaded machine distorts far less than wall time."""
    encoder = get_encoder(name)
    encoder.encode(texts[:64])  # warm up
    rates, cpu_rates = [], []
    for _ in range(runs):
        started, cpu = time.perf_counter(), time.process_time()
        for i in range(0, len(texts), 1024):
            encoder.encode(texts[i : i + 1024])
        rates.append(len(texts) / (time.perf_counter() - started))
        cpu_rates.append(len(texts) / (time.process_time() - cpu))
    print(f"  [{name}: {statistics.median(cpu_rates):.0f} abstracts per CPU-second; "
          f"load average {os.getloadavg()[0]:.1f}]")
    return statistics.median(rates)


def cmd_encoders(args: argparse.Namespace) -> None:
    real = real_texts(args.n)
    static_real = throughput("minilm-static", real)
    print(f"static, real abstracts ({len(real)}):       {static_real:8.0f} abstracts/s")
    if args.snapshot and Path(args.snapshot).exists():
        synth = synthetic_texts(Path(args.snapshot), args.n)
        print(f"static, synthetic snapshot text ({len(synth)}): "
              f"{throughput('minilm-static', synth):8.0f} abstracts/s")
    minilm = throughput("minilm", real[: args.minilm_n], runs=3)
    print(f"minilm (all-MiniLM-L6-v2), real ({args.minilm_n}): {minilm:8.1f} abstracts/s")
    print(f"static / minilm: {static_real / minilm:.0f}x; 1M abstracts: static "
          f"{1e6 / static_real / 60:.1f} min, minilm {1e6 / minilm / 3600:.1f} h")


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def timed(fn, items) -> list[float]:
    out = []
    for item in items:
        started = time.perf_counter()
        fn(item)
        out.append((time.perf_counter() - started) * 1000)
    return out


def warm_page_cache(home: Path) -> float:
    """Read the database file once so the OS holds it in memory, as on a serving machine that
    has run a while (a fresh copy of a 5 GB store is otherwise read from disk query by query)."""
    started = time.perf_counter()
    for path in home.glob("*.db"):
        with path.open("rb") as f:
            while f.read(1 << 24):
                pass
    return time.perf_counter() - started


def cmd_scale(args: argparse.Namespace) -> None:
    rng = random.Random(7)
    if args.warm:
        print(f"page cache warmed: read the database in {warm_page_cache(Path(args.home)):.1f} s")
    before = rss_mb()
    with paperfeed.open(args.home) as lib:
        semantic = lib.semantic
        assert semantic is not None
        started = time.perf_counter()
        index = semantic.index.ready()
        load_s = time.perf_counter() - started
        n = len(index) if index is not None else 0
        print(f"vectors: {n:,} ({semantic.encoder_name}) for {lib.store.count():,} papers; index "
              f"ready in {load_s:.2f} s (rebuilt: {semantic.index.rebuilt}); RSS +"
              f"{rss_mb() - before:.0f} MB after opening")
        print(f"index file: {semantic.index.path.stat().st_size / 2**20:.0f} MiB "
              f"({semantic.index.path.stat().st_size / n:.0f} bytes per vector; faiss HNSW, float16 "
              f"cells, M=16)")
        total = lib.store.count()
        conn = lib.store.conn  # type: ignore[attr-defined]
        titles, ids = [], []
        while len(titles) < args.queries:
            row = conn.execute("SELECT id, title FROM papers WHERE rowid = ?",
                               (rng.randint(1, total),)).fetchone()
            if row:
                words = row[1].split()
                k = rng.randint(2, 4)
                s = rng.randint(0, max(0, len(words) - k))
                titles.append(" ".join(words[s : s + k]))
                ids.append(row[0])
        for mode in ("keyword", "semantic", "hybrid"):
            lib.search(titles[0], mode=mode)  # warm up
            ms = timed(lambda q, m=mode: lib.search(q, mode=m, limit=10), titles)
            print(f"search {mode:8s}: p50 {pct(ms, 50):7.1f} ms  p99 {pct(ms, 99):7.1f} ms  "
                  f"(n={len(ms)})")
        ms = timed(lambda pid: lib.related(pid, limit=10), ids[: args.related])
        print(f"related        : p50 {pct(ms, 50):7.1f} ms  p99 {pct(ms, 99):7.1f} ms  "
              f"(n={len(ms)})")
        # ANN recall@10 against exact search over every stored vector.
        keys, vecs = [], []
        for k, v in semantic.vectors.iter_vectors(batch=100_000):
            keys.append(k)
            vecs.append(v)
        all_keys, matrix = np.concatenate(keys), np.vstack(vecs)
        # Two query sets: search queries (2-4 title words, encoded as queries) and stored
        # papers' own vectors (what `related` asks; the paper itself excluded from both lists).
        sample = rng.sample(range(len(matrix)), args.recall)
        queries = {
            "title-word queries": (semantic.encoder.encode(titles[: args.recall]), [None] * args.recall),
            "stored paper vectors": (matrix[sample], [int(all_keys[i]) for i in sample]),
        }
        from paperfeed.embed import index as index_module

        shipped = index_module.EXPANSION_SEARCH
        for name, (qs, owners) in queries.items():
            exact_sets = []
            for q, own in zip(qs, owners, strict=True):
                top = np.argpartition(-(matrix @ q), 11)[:11]
                top = top[np.argsort(-(matrix[top] @ q))]
                exact_sets.append([int(k) for k in all_keys[top] if k != own][:10])
            for ef in sorted({shipped, 32, 64, 256, 512}):
                index_module.EXPANSION_SEARCH = ef
                recall, ms = [], []
                for q, own, exact in zip(qs, owners, exact_sets, strict=True):
                    started = time.perf_counter()
                    found, _ = semantic.index.search(q, 11)
                    ms.append((time.perf_counter() - started) * 1000)
                    got = [int(k) for k in found if int(k) != own][:10]
                    recall.append(len(set(exact) & set(got)) / 10)
                mark = " (shipped)" if ef == shipped else ""
                print(f"ANN recall@10 vs exact float32, {name}, ef={ef}{mark}: {np.mean(recall):.3f}, "
                      f"query p50 {pct(ms, 50):.2f} ms (n={len(recall)})")
            index_module.EXPANSION_SEARCH = shipped


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="cmd", required=True)
    enc = sub.add_parser("encoders")
    enc.add_argument("--n", type=int, default=20_000)
    enc.add_argument("--minilm-n", type=int, default=256)
    enc.add_argument("--snapshot", default="benchmarks/data/snapshot-1M.jsonl")
    scale = sub.add_parser("scale")
    scale.add_argument("--home", required=True)
    scale.add_argument("--queries", type=int, default=300)
    scale.add_argument("--warm", action="store_true", help="read the database file first")
    scale.add_argument("--related", type=int, default=200)
    scale.add_argument("--recall", type=int, default=200)
    args = parser.parse_args()
    {"encoders": cmd_encoders, "scale": cmd_scale}[args.cmd](args)


if __name__ == "__main__":
    main()
