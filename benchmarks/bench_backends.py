"""SQLite vs PostgreSQL side by side in one run.

1. Import rate: the first `--import-records` records of the synthetic snapshot into a fresh SQLite
   store and a fresh PostgreSQL database (the same `Library.import_files`, no embedding).
2. At 1M papers: the SQLite store `--home` (a copy of the 1M import; vectors added by `prepare`
   when missing) and the same library copied into PostgreSQL by `paperfeed migrate` (timed):
   hybrid search p50/p99, keyword p50/p99, related-papers p50/p99, and the top-10 agreement of
   the two backends' rankings.
3. Requests/s of the paper page (`/papers/{id}`) from PostgreSQL with 1 app server and with 2
   (wrk, a Lua script rotating over 2,000 paper ids; with 2 servers, one wrk per server at once).

    python benchmarks/bench_backends.py --home benchmarks/data/home-backends \
        --pg-root benchmarks/data/pg-backends --out benchmarks/out/backends-1M.json

`prepare` (when the store has no vectors): to keep the run within a session on a shared 2-core
machine, papers are embedded from their *titles* with the static encoder (about 20x faster than
title + abstract); latencies depend on the vector count and dimension, not on which text made them.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from pg import PgServer  # noqa: E402

from paperfeed.config import Config  # noqa: E402
from paperfeed.embed import get_encoder  # noqa: E402
from paperfeed.library import Library  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SNAPSHOT = ROOT / "benchmarks" / "data" / "snapshot-1M.jsonl"
PG_SETTINGS = {
    "shared_buffers": "'3GB'",
    "effective_cache_size": "'12GB'",
    "maintenance_work_mem": "'4GB'",  # 1M vectors' HNSW graph must fit, or the build crawls
    "work_mem": "'32MB'",
    "max_wal_size": "'8GB'",
    "checkpoint_timeout": "'30min'",
    "max_parallel_maintenance_workers": "2",
    "random_page_cost": "1.1",
    "jit": "off",
}


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def log(*args: object) -> None:
    print(time.strftime("%H:%M:%S"), f"[load {load()}]", *args, file=sys.stderr, flush=True)


def pct(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)), 2)


def timed(fn, items) -> list[float]:
    out = []
    for item in items:
        t = time.perf_counter()
        fn(item)
        out.append((time.perf_counter() - t) * 1000)
    return out


# -- 1. import rate ----------------------------------------------------------------------------------


class ByteClock:
    """Import progress (bytes read) logged at every 5 % of the file, with the elapsed time: a
    long import shows its rate as the store grows (and what a stopped run had reached)."""

    def __init__(self, name: str, total: int) -> None:
        self.name, self.total, self.done, self.next = name, total, 0, 0.05
        self.t0 = time.perf_counter()

    def __call__(self, n: int) -> None:
        self.done += n
        if self.done >= self.next * self.total:
            log(f"import {self.name}: {self.done / self.total:.0%} of the bytes after "
                f"{time.perf_counter() - self.t0:.0f} s")
            self.next += 0.05


def import_rate(server: PgServer, n: int, backends: list[str]) -> dict[str, float]:
    """Records/s importing the first `n` records (0: the whole snapshot) into each backend."""
    path = SNAPSHOT
    if n:
        path = Path(tempfile.mkdtemp()) / "head.jsonl"
        with SNAPSHOT.open("rb") as src, path.open("wb") as dst:
            for _, line in zip(range(n), src, strict=False):
                dst.write(line)
    rates: dict[str, float] = {}
    for name in backends:
        url = server.new_database() if name == "postgresql" else None
        home = Path(tempfile.mkdtemp())
        with Library(Config.from_env(home=home, database_url=url)) as lib:
            t = time.perf_counter()
            report = lib.import_files([path], index=False, progress=ByteClock(name, path.stat().st_size))
            elapsed = time.perf_counter() - t
        imported = report.counts.imported
        assert imported == n or not n, report.summary()
        rates[name] = round(imported / elapsed)
        rates[f"{name}_records"] = imported
        rates[f"{name}_seconds"] = round(elapsed)
        rates[f"{name}_load_after"] = load()
        log("import", name, imported, "records in", round(elapsed), "s:", rates[name], "records/s")
        if url:
            server.drop_database(url)
    if n:
        path.unlink()
    return rates


# -- 2. the 1M stores --------------------------------------------------------------------------------


def prepare(home: Path) -> None:
    """Title vectors (static encoder) for every paper of the SQLite store that has none."""
    from paperfeed.store.sqlite.store import SQLiteStore
    from paperfeed.store.sqlite.vectors import SQLiteVectors

    store = SQLiteStore(home / "paperfeed.db")
    vectors = SQLiteVectors(store)
    encoder = get_encoder("minilm-static")
    vectors.set_encoder(encoder.name, encoder.dim)
    after, done, t = 0, 0, time.time()
    while rows := vectors.missing(20_000, after_key=after):
        after = rows[-1][0]
        vectors.put([r[0] for r in rows], encoder.encode([r[1] for r in rows]))
        done += len(rows)
        if done % 200_000 < 20_000:
            log("prepare: embedded", done, f"{done / (time.time() - t):.0f}/s")
    store.close()
    with Library(Config.from_env(home=home)) as lib:  # builds the usearch index file once
        t = time.time()
        lib.semantic.index.sync()
        log("prepare: usearch index built in", round(time.time() - t), "s")


def queries(lib: Library, n: int, seed: int = 7) -> tuple[list[str], list[str]]:
    """Query texts (2-3 words of a random paper's title) and paper ids, both seeded."""
    rng = random.Random(seed)
    top = lib.store.count()
    texts: list[str] = []
    ids: list[str] = []
    conn = lib.store.conn
    while len(texts) < n:
        row = conn.execute("SELECT id, title FROM papers WHERE rowid = ?",
                           (rng.randint(1, top),)).fetchone()
        if not row:
            continue
        words = [w for w in row[1].split() if len(w) > 3]
        if len(words) >= 2:
            start = rng.randint(0, max(0, len(words) - 3))
            texts.append(" ".join(words[start : start + rng.choice((2, 3))]))
            ids.append(row[0])
    return texts, ids


def jaccard(a: list[str], b: list[str]) -> float:
    return len(set(a) & set(b)) / max(len(set(a) | set(b)), 1)


def search_side_by_side(libs: dict[str, Library], texts: list[str], ids: list[str]) -> dict:
    out: dict[str, dict] = {}
    for name, lib in libs.items():
        for q in texts[:10]:  # warm caches
            lib.search(q, mode="hybrid")
        res = {}
        for mode in ("hybrid", "keyword"):
            ms = timed(lambda q, m=mode, lib=lib: lib.search(q, mode=m, limit=10), texts)
            res[f"{mode}_p50_ms"], res[f"{mode}_p99_ms"] = pct(ms, 50), pct(ms, 99)
        ms = timed(lambda pid, lib=lib: lib.related(pid, limit=10), ids[:100])
        res["related_p50_ms"], res["related_p99_ms"] = pct(ms, 50), pct(ms, 99)
        out[name] = res
        log(name, res)
    agree = {}
    for mode in ("keyword", "semantic", "hybrid"):
        scores = []
        for q in texts[:100]:
            lists = [[h.paper.id for h in lib.search(q, mode=mode, limit=10)] for lib in libs.values()]
            scores.append(jaccard(*lists))
        agree[f"{mode}_top10_jaccard"] = round(statistics.mean(scores), 3)
    scores = []
    for pid in ids[:50]:
        lists = [[h.paper.id for h in lib.related(pid, limit=10)] for lib in libs.values()]
        scores.append(jaccard(*lists))
    agree["related_top10_jaccard"] = round(statistics.mean(scores), 3)
    out["agreement"] = agree
    log("agreement", agree)
    return out


# -- 3. paper page requests/s ---------------------------------------------------------------------------

LUA = """
local ids = {}
for line in io.lines("%s") do ids[#ids + 1] = line end
local i = 0
request = function()
  i = i %% #ids + 1
  return wrk.format("GET", "/papers/" .. ids[i])
end
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(url: str, port: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        [str(Path(sys.executable).with_name("paperfeed")), "--database", url, "serve", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    import httpx

    for _ in range(600):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/about", timeout=2).status_code < 500:
                return proc
        except httpx.TransportError:
            time.sleep(0.2)
    raise RuntimeError("server did not start")


def wrk(ports: list[int], script: Path, seconds: int) -> float:
    procs = [
        subprocess.Popen(
            ["wrk", "-t1", f"-c{16 // len(ports)}", f"-d{seconds}s", "-s", str(script),
             f"http://127.0.0.1:{p}"],
            stdout=subprocess.PIPE, text=True,
        )
        for p in ports
    ]
    total = 0.0
    for proc in procs:
        out, _ = proc.communicate()
        line = next(x for x in out.splitlines() if x.startswith("Requests/sec"))
        total += float(line.split()[1])
        if "Non-2xx" in out:
            raise RuntimeError(out)
    return round(total)


def page_rate(url: str, ids: list[str], seconds: int, runs: int) -> dict[str, float]:
    script = Path(tempfile.mkdtemp()) / "ids.lua"
    (script.parent / "ids.txt").write_text("\n".join(ids) + "\n")
    script.write_text(LUA % (script.parent / "ids.txt"))
    ports = [free_port(), free_port()]
    servers = [serve(url, p) for p in ports]
    try:
        wrk(ports, script, 3)  # warm up both
        res: dict[str, list[float]] = {"1_server": [], "2_servers": []}
        for _ in range(runs):  # interleaved: noise hits both alike
            res["1_server"].append(wrk(ports[:1], script, seconds))
            res["2_servers"].append(wrk(ports, script, seconds))
        log("page req/s", res)
        return {k: statistics.median(v) for k, v in res.items()} | {"runs": res, "load_after": load()}
    finally:
        for s in servers:
            s.terminate()
            s.wait()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--home", type=Path, default=ROOT / "benchmarks/data/home-backends")
    ap.add_argument("--pg-root", type=Path, default=ROOT / "benchmarks/data/pg-backends")
    ap.add_argument("--import-records", type=int, default=100_000, help="0: the whole snapshot")
    ap.add_argument("--import-backends", default="sqlite,postgresql")
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--wrk-seconds", type=int, default=15)
    ap.add_argument("--wrk-runs", type=int, default=3)
    ap.add_argument("--skip", default="", help="comma list of: import,search,web")
    ap.add_argument("--only-import", action="store_true", help="step 1 only (no --home needed)")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks/out/backends-1M.json")
    args = ap.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    result: dict = {"machine": f"{os.cpu_count()} cores, shared", "started": time.strftime("%F %T")}

    missing = 0
    if not args.only_import:
        with Library(Config.from_env(home=args.home)) as lib:
            missing = lib.missing_vectors()
    if missing:
        log("prepare:", missing, "papers without vectors")
        prepare(args.home)

    server = PgServer(durable=True, settings=PG_SETTINGS, root=args.pg_root).start()
    try:
        if "import" not in skip:
            result["import_records_per_s"] = import_rate(
                server, args.import_records, args.import_backends.split(",")
            )
        if args.only_import:
            return
        url = server.url("paperfeed_bench")
        import psycopg

        with psycopg.connect(server.admin_url, autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = 'paperfeed_bench'").fetchone()
            if not exists:
                conn.execute("CREATE DATABASE paperfeed_bench TEMPLATE paperfeed_template")
        with Library(Config.from_env(home=args.home)) as sq:
            t = time.perf_counter()
            copied = sq.migrate_to(url)
            result["migrate"] = {"seconds": round(time.perf_counter() - t), **copied["copied"],
                                 "ok": copied["ok"], "load_after": load()}
            log("migrate", result["migrate"])
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("VACUUM ANALYZE")
            texts, ids = queries(sq, args.queries)
            with Library(Config.from_env(home=args.home / "pg", database_url=url)) as pg:
                result["papers"] = {"sqlite": sq.store.count(), "postgresql": pg.store.count()}
                if "search" not in skip:
                    result["search"] = search_side_by_side({"sqlite": sq, "postgresql": pg}, texts, ids)
                    result["search"]["load_after"] = load()
        if "web" not in skip:
            result["paper_page_req_per_s_postgresql"] = page_rate(
                url, ids[:2000], args.wrk_seconds, args.wrk_runs
            )
    finally:
        server.stop()
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2))
        print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
