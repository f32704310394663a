"""Import and keyword-search benchmark on a synthetic arXiv snapshot (see synth.py).

Measures, in one run on the same file:
  1. the baseline: merely parsing every line with the stdlib `json` module (and orjson);
  2. `Library.import_files(..., index=False)` into a fresh home: records/s, peak and sampled RSS;
  3. database size;
  4. keyword search latency over a few hundred realistic queries (p50/p99);
  5. with --stages, each stage of the import apart, in the same run: the reader alone (orjson,
     normalisation, validation), the reader and the store writes with the keyword index off,
     and the FTS5 'rebuild' alone on that loaded table (the keyword index's own cost: the floor
     of any import that builds it).

Every stage reports wall time, CPU time and the load average around it.

    python benchmarks/bench_import.py benchmarks/data/snapshot-1M.jsonl [--home DIR] [--queries N]
        [--stages]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import resource
import shutil
import statistics
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import orjson

import paperfeed
from paperfeed.importer import FileReport, import_items, read_records
from paperfeed.store.sqlite.keyword import FTS_TRIGGER_NAMES
from paperfeed.store.sqlite.store import SQLiteStore


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


class Stage:
    """Wall and CPU time of a block, and the load average before and after it."""

    def __init__(self, name: str, results: dict) -> None:
        self.name = name
        self.results = results

    def __enter__(self) -> Stage:
        self.load = os.getloadavg()[0]
        self.wall = time.perf_counter()
        self.cpu = time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.results[self.name] = {
            "wall_s": round(time.perf_counter() - self.wall, 2),
            "cpu_s": round(time.process_time() - self.cpu, 2),
            "load_before_after": [round(self.load, 2), round(os.getloadavg()[0], 2)],
        }
        print(self.name, self.results[self.name], flush=True)


def stages(snapshot: Path, home: Path, lines: int, json_s: float) -> dict:
    """The import's stages measured apart (see the module docstring)."""
    out: dict = {}
    with Stage("reader_only", out):
        _fmt, stream, items = read_records(snapshot, None)
        with stream:
            n = sum(1 for _ in items)
    shutil.rmtree(home, ignore_errors=True)
    store = SQLiteStore(home / "paperfeed.db")
    with store.transaction() as c:  # the keyword index off, and no bulk-mode follower either
        for name in FTS_TRIGGER_NAMES:
            c.execute(f"DROP TRIGGER {name}")
    with Stage("reader_and_writes_fts_off", out):
        _fmt, stream, items = read_records(snapshot, None)
        with stream:
            import_items(store, items, FileReport(str(snapshot)))
    with Stage("fts5_rebuild_alone", out), store.transaction() as c:
        c.execute("INSERT INTO papers_fts(papers_fts) VALUES ('rebuild')")
    store.close()
    shutil.rmtree(home, ignore_errors=True)
    reader = out["reader_only"]
    writes = {
        k: round(out["reader_and_writes_fts_off"][k] - reader[k], 2) for k in ("wall_s", "cpu_s")
    }
    out["writes_fts_off_derived"] = writes
    for name in ("reader_only", "writes_fts_off_derived", "fts5_rebuild_alone"):
        wall = out[name]["wall_s"]
        out[name]["records_per_s"] = round(lines / wall) if wall else None
        out[name]["ratio_to_json_parse"] = round(wall / json_s, 2)
    out["records"] = n
    return out


def title_fragments(lib: paperfeed.Library, seed: int = 11) -> Iterator[str]:
    """Endless realistic queries: 2-4 consecutive words of random titles (what people type)."""
    rng = random.Random(seed)
    conn = lib.store.conn  # type: ignore[attr-defined]
    total = conn.execute("SELECT max(rowid) FROM papers").fetchone()[0] or 0
    while total:
        row = conn.execute("SELECT title FROM papers WHERE rowid = ?", (rng.randint(1, total),)).fetchone()
        if not row:
            continue
        words = row[0].split()
        k = rng.randint(2, 4)
        start = rng.randint(0, max(0, len(words) - k))
        yield " ".join(words[start : start + k])


def realistic_queries(lib: paperfeed.Library, n: int, seed: int = 11) -> list[str]:
    """n realistic queries (`title_fragments`), repeats allowed, as a search box sees them."""
    return list(itertools.islice(title_fragments(lib, seed), n))


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
    ap.add_argument("--stages", action="store_true", help="also measure each stage apart")
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
        load_before = os.getloadavg()[0]
        started = time.perf_counter()
        cpu_started, main_cpu_started = time.process_time(), time.thread_time()
        report = lib.import_files([args.snapshot], index=False)
        import_s = time.perf_counter() - started
        import_cpu = time.process_time() - cpu_started
        import_main_cpu = time.thread_time() - main_cpu_started
        load_after = os.getloadavg()[0]
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
        "import_cpu_s": round(import_cpu, 2),
        "import_main_thread_cpu_s": round(import_main_cpu, 2),
        "import_load_before_after": [round(load_before, 2), round(load_after, 2)],
        "ratio_import_to_json_parse": round(import_s / json_s, 2),
        "rss_mb_samples_min_median_max": [
            round(min(samples), 1), round(statistics.median(samples), 1), round(max(samples), 1)
        ] if samples else None,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "database_bytes": stats["database_bytes"],
        "database_gb_per_million": round(stats["database_bytes"] / lines * 1e6 / 1e9, 2),
        **latency,
    }
    if args.stages:
        result["stages"] = stages(args.snapshot, Path(f"{args.home}-stages"), lines, json_s)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
