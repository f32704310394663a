"""Import and keyword-search benchmark on a synthetic arXiv snapshot (see synth.py).

Measures, in one run on the same file:
  1. the baseline: merely parsing every line with the stdlib `json` module (and orjson);
  2. `Library.import_files(..., index=False)` into a fresh home: records/s, peak and sampled RSS;
  3. database size;
  4. keyword search latency over a few hundred realistic queries (p50/p99).

    python benchmarks/bench_import.py benchmarks/data/snapshot-1M.jsonl [--home DIR] [--queries N]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import statistics
import threading
import time
from pathlib import Path

import orjson

import paperfeed


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def parse_baseline(path: Path, loads) -> float:
    started = time.perf_counter()
    with path.open("rb") as f:
        for line in f:
            loads(line)
    return time.perf_counter() - started


def realistic_queries(lib: paperfeed.Library, n: int, seed: int = 11) -> list[str]:
    """2-4 consecutive words from random titles (what people type), plus whole short titles."""
    rng = random.Random(seed)
    total = lib.stats()["papers"]
    queries = []
    conn = lib.store.conn  # type: ignore[attr-defined]
    while len(queries) < n:
        rowid = rng.randint(1, total)
        row = conn.execute("SELECT title FROM papers WHERE rowid = ?", (rowid,)).fetchone()
        if not row:
            continue
        words = row[0].split()
        k = rng.randint(2, 4)
        start = rng.randint(0, max(0, len(words) - k))
        queries.append(" ".join(words[start : start + k]))
    return queries


def search_latency(lib: paperfeed.Library, n: int) -> dict[str, float]:
    queries = realistic_queries(lib, n)
    for q in queries[:20]:  # warm the page cache as a serving process would be
        lib.search(q, mode="keyword")
    times = []
    for q in queries:
        t = time.perf_counter()
        lib.search(q, mode="keyword", limit=10)
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    return {
        "keyword_queries": len(times),
        "keyword_p50_ms": round(statistics.median(times), 2),
        "keyword_p90_ms": round(times[int(0.9 * len(times)) - 1], 2),
        "keyword_p99_ms": round(times[int(0.99 * len(times)) - 1], 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("snapshot", type=Path)
    ap.add_argument("--home", type=Path, default=Path("benchmarks/data/home-import"))
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/out/import.json"))
    ap.add_argument("--search-only", action="store_true", help="reuse --home, skip the import")
    args = ap.parse_args()
    if args.search_only:
        with paperfeed.open(args.home) as lib:
            result = search_latency(lib, args.queries)
        print(json.dumps(result, indent=2))
        return

    lines = sum(1 for _ in args.snapshot.open("rb"))
    json_s = parse_baseline(args.snapshot, json.loads)
    orjson_s = parse_baseline(args.snapshot, orjson.loads)

    shutil.rmtree(args.home, ignore_errors=True)
    samples: list[float] = []
    done = threading.Event()

    def sample() -> None:
        while not done.wait(2.0):
            samples.append(rss_mb())

    thread = threading.Thread(target=sample, daemon=True)
    with paperfeed.open(args.home) as lib:
        thread.start()
        started = time.perf_counter()
        report = lib.import_files([args.snapshot], index=False)
        import_s = time.perf_counter() - started
        done.set()
        stats = lib.stats()
        latency = search_latency(lib, args.queries)
    result = {
        "records": lines,
        "imported": report.summary(),
        "json_parse_s": round(json_s, 2),
        "orjson_parse_s": round(orjson_s, 2),
        "import_s": round(import_s, 2),
        "import_records_per_s": round(lines / import_s),
        "ratio_import_to_json_parse": round(import_s / json_s, 2),
        "rss_mb_samples_min_median_max": [
            round(min(samples), 1), round(statistics.median(samples), 1), round(max(samples), 1)
        ] if samples else None,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "database_bytes": stats["database_bytes"],
        "database_gb_per_million": round(stats["database_bytes"] / lines * 1e6 / 1e9, 2),
        **latency,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
