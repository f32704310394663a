"""Web throughput and latency with a real load generator (wrk) against uvicorn workers.

    python benchmarks/bench_web.py [--home benchmarks/data/home-web] [--source DIR] [--workers 4]
        [--runs 3] [--only search] [--baseline-src DIR]

The store is a copy of `--source` (a data directory: the database and its vectors), copied once
to `--home`. What is measured, each `--runs` times (the median is reported):

- paper page `/papers/{id}` and `/api/papers/{id}`: random ids out of 2,000 (a wrk Lua script),
  32 connections, requests/s — with `--workers` uvicorn processes and, as a baseline, with one;
  and a static file from the same server (the framework's ceiling on this machine);
- the search page `/search?q=...`, 32 connections, latency p50/p99 and requests/s, in keyword
  mode and in the default mode (hybrid when the store has vectors), for two query streams:
  * `zipf`: a realistic stream, queries drawn with a Zipf law (exponent `--zipf-s`, 1.0) from a
    pool of `--pool` (20,000) distinct realistic queries (2-4 consecutive words of random titles,
    as in bench_import.py); the server is warmed with unmeasured runs of the same stream until
    the search cache's hit rate settles (rises by less than a point: a server that has been up
    a while), and the hit rate is counted from each response's Server-Timing header;
  * `distinct`: the worst case, every query a new one (a second pool, walked through without
    repeats), so every search misses the cache;
  with `--baseline-src` (the `src` directory of an older checkout, e.g. from `git archive HEAD`),
  the zipf stream is also served by that code, side by side.

`--ab` (with `--baseline-src`, and `--baseline-home` when the older code needs its own store, e.g.
its own vector layout): before/after instead. Each of `--runs` rounds starts the new server,
measures the paper page, the API paper and the search page (zipf stream, warmed, then the
every-query-new stream), stops it, and does the same with the baseline, so the two alternate on
the same machine; medians of the rounds and the after/before ratios are printed.

Writes benchmarks/out/web.json and prints Markdown tables for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.parse import quote, urlencode

from bench_import import title_fragments

import paperfeed

ROOT = Path(__file__).resolve().parent

WRK = shutil.which("wrk") or "/usr/bin/wrk"
LUA = """
local paths = {}
for line in io.lines("%s") do paths[#paths + 1] = line end
math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
request = function()
  return wrk.format("GET", paths[math.random(#paths)])
end
"""
# Search streams. `pick()` chooses the next path; responses are counted by their Server-Timing
# header (the search page says whether the cache answered).
SEARCH_LUA = """
local paths = {}
for line in io.lines("%(paths)s") do paths[#paths + 1] = line end
local threads = {}
function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end
function init(args)
  hits, misses = 0, 0
  math.randomseed(os.time() + tid * 7919)
  %(init)s
end
%(pick)s
request = function()
  return wrk.format("GET", paths[pick()])
end
response = function(status, headers, body)
  local timing = headers["server-timing"] or headers["Server-Timing"] or ""
  if timing:find("cache hit", 1, true) then hits = hits + 1 elseif timing ~= "" then misses = misses + 1 end
end
done = function(summary, latency, requests)
  local h, m = 0, 0
  for _, t in ipairs(threads) do h = h + t:get("hits"); m = m + t:get("misses") end
  io.write(string.format("CACHE %%d %%d\\n", h, m))
end
"""
ZIPF_INIT = """
  cum = {}
  local total = 0
  for i = 1, #paths do total = total + 1 / (i ^ %(s)s); cum[i] = total end
  for i = 1, #paths do cum[i] = cum[i] / total end
"""
ZIPF_PICK = """
function pick()
  local u, lo, hi = math.random(), 1, #cum
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    if cum[mid] < u then lo = mid + 1 else hi = mid end
  end
  return lo
end
"""
# Each wrk thread walks its own slice of the run's block [start, stop) of the pool: no query is
# ever asked twice.
DISTINCT_INIT = """
  local per = math.floor((%(stop)d - %(start)d) / %(threads)d)
  next_i = %(start)d + tid * per
  last_i = next_i + per
"""
DISTINCT_PICK = """
function pick()
  next_i = next_i + 1
  if next_i > last_i then next_i = last_i end
  return next_i
end
"""
WRK_THREADS = 2


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """uvicorn with N workers on the app factory, access log off (as behind a proxy that logs).
    `src`: serve the paperfeed package found there instead (an older checkout, for a baseline)."""

    def __init__(self, home: Path, workers: int, src: Path | None = None, **env_extra: str) -> None:
        self.port = free_port()
        env = {**os.environ, "PAPERFEED_HOME": str(home), **env_extra}
        if src is not None:
            env["PYTHONPATH"] = str(src)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "paperfeed.web.app:app_from_env", "--factory",
             "--host", "127.0.0.1", "--port", str(self.port), "--workers", str(workers),
             "--no-access-log", "--log-level", "warning",
             # as `paperfeed serve` does: uvicorn's 5 s default restarts busy workers cold
             "--timeout-worker-healthcheck", "120"],
            env=env,
            start_new_session=True,
        )
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 300
        while True:
            try:
                urllib.request.urlopen(self.url + "/api/daily_papers?limit=1", timeout=30).read()
                break
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError("server did not start") from None
                time.sleep(0.5)

    def warm(self, paths: list[str], n: int = 200) -> None:
        for path in paths[:n]:
            with contextlib.suppress(OSError):
                urllib.request.urlopen(self.url + path, timeout=120).read()

    def stop(self) -> None:
        os.killpg(self.proc.pid, signal.SIGTERM)
        self.proc.wait(timeout=60)


def wrk(url: str, paths: list[str], connections: int, seconds: int, lua: str | None = None) -> dict:
    """One wrk run over `paths`: picked at random (paper pages), or by a search-stream script
    (`lua`, with `%(paths)s` for the listing's file name)."""
    with tempfile.TemporaryDirectory() as tmp:
        listing = Path(tmp) / "paths.txt"
        listing.write_text("\n".join(paths) + "\n")
        script = Path(tmp) / "paths.lua"
        script.write_text(LUA % listing if lua is None else lua.replace("%(paths)s", str(listing)))
        out = subprocess.run(
            [WRK, f"-t{WRK_THREADS}", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script),
             url],
            capture_output=True, text=True, check=True,
        ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    latency = {p: _ms(re.search(rf"\s{p}%\s+([\d.]+\w+)", out).group(1)) for p in ("50", "99")}
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors: .*", out)
    cache = re.search(r"CACHE (\d+) (\d+)", out)
    result: dict = {
        "rps": rps, "p50_ms": latency["50"], "p99_ms": latency["99"],
        "non_2xx": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": errors.group(0) if errors else "",
        "load": round(os.getloadavg()[0], 2),
    }
    if cache:
        hits, misses = int(cache.group(1)), int(cache.group(2))
        result["cache_hits"], result["cache_misses"] = hits, misses
        result["hit_rate"] = round(hits / max(1, hits + misses), 3)
    return result


def zipf_script(s: float) -> str:
    return SEARCH_LUA % {"paths": "%(paths)s", "init": ZIPF_INIT % {"s": s}, "pick": ZIPF_PICK}


def distinct_script(start: int, stop: int) -> str:
    init = DISTINCT_INIT % {"start": start, "stop": stop, "threads": WRK_THREADS}
    return SEARCH_LUA % {"paths": "%(paths)s", "init": init, "pick": DISTINCT_PICK}


def _ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(\w+)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def median_of(runs: list[dict]) -> dict:
    keys = ("rps", "p50_ms", "p99_ms")
    out: dict = {k: round(statistics.median(r[k] for r in runs), 2) for k in keys}
    out["runs"] = [{k: r[k] for k in (*keys, "load", "hit_rate") if k in r} for r in runs]
    out["non_2xx"] = sum(r["non_2xx"] for r in runs)
    if all("cache_hits" in r for r in runs):
        hits = sum(r["cache_hits"] for r in runs)
        out["hit_rate"] = round(hits / max(1, hits + sum(r["cache_misses"] for r in runs)), 3)
    out["load"] = [r["load"] for r in runs]
    return out


def distinct_queries(lib: paperfeed.Library, n: int, seed: int = 11) -> list[str]:
    """n different realistic queries (bench_import.title_fragments without repeats)."""
    seen: dict[str, None] = {}
    for query in title_fragments(lib, seed):
        seen.setdefault(query)
        if len(seen) >= n:
            break
    return list(seen)


def search_paths(queries: list[str], mode: str | None) -> list[str]:
    return ["/search?" + urlencode({"q": q, **({"mode": mode} if mode else {})}) for q in queries]


def search_streams(
    args: argparse.Namespace, results: dict, zipf_pool: list[str], distinct_pool: list[str],
    has_vectors: bool,
) -> None:
    """The search page under the zipf and distinct streams, keyword and default mode; and, with
    --baseline-src, the zipf stream served by the older code."""
    modes = ["keyword", None] if has_vectors else ["keyword"]
    servers = [("new", None)] + ([("baseline", args.baseline_src)] if args.baseline_src else [])
    for label, src in servers:
        server = Server(args.home, args.workers, src)
        try:
            for mode in modes:
                name = f"{mode or 'default'}"
                zipf = search_paths(zipf_pool, mode)
                server.warm(zipf, 20)
                # Unmeasured runs of the same stream until the caches' hit rate settles, as in a
                # server that has been running for a while.
                warm_up(server, zipf, args)
                runs = [wrk(server.url, zipf, args.connections, args.seconds, zipf_script(args.zipf_s))
                        for _ in range(args.runs)]
                results[f"search_zipf_{name}_{label}"] = median_of(runs)
                print(label, "zipf", name, results[f"search_zipf_{name}_{label}"], file=sys.stderr)
                if label != "new":
                    continue
                distinct = search_paths(distinct_pool, mode)
                block = len(distinct) // args.runs  # each run its own queries (Lua counts from 1)
                runs = [
                    wrk(server.url, distinct, args.connections, args.seconds,
                        distinct_script(r * block, (r + 1) * block))
                    for r in range(args.runs)
                ]
                results[f"search_distinct_{name}_{label}"] = median_of(runs)
                print(label, "distinct", name, results[f"search_distinct_{name}_{label}"], file=sys.stderr)
        finally:
            server.stop()


def warm_up(server: Server, paths: list[str], args: argparse.Namespace, most: int = 8) -> None:
    """Run the zipf stream unmeasured until its cache hit rate rises by less than a point."""
    rate = -1.0
    for _ in range(most):
        run = wrk(server.url, paths, args.connections, args.seconds, zipf_script(args.zipf_s))
        now = run.get("hit_rate", 0.0)
        print(f"  warm-up: hit rate {now}", file=sys.stderr)
        if now - rate < 0.01:
            return
        rate = now


def page_cases(args: argparse.Namespace, results: dict, ids: list[str], queries: list[str]) -> None:
    paper_paths = [f"/papers/{quote(i)}" for i in ids]
    api_paths = [f"/api/papers/{quote(i)}" for i in ids]
    searches = search_paths(queries, None)
    for workers in sorted({1, args.workers}, reverse=True):
        server = Server(args.home, workers)
        try:
            server.warm(paper_paths + api_paths[:100] + searches[:50])
            cases = {"paper_page": paper_paths, "api_paper": api_paths, "static_file": ["/static/style.css"]}
            for name, paths in cases.items():
                runs = [wrk(server.url, paths, args.connections, args.seconds) for _ in range(args.runs)]
                results[f"{name}@{workers}w"] = median_of(runs)
                print(name, workers, results[f"{name}@{workers}w"], file=sys.stderr)
        finally:
            server.stop()


AB_CASES = ("paper_page", "api_paper", "search_zipf_keyword", "search_zipf_default",
            "search_distinct_keyword", "search_distinct_default")


def ab_round(args: argparse.Namespace, home: Path, src: Path | None, ids: list[str], zipf_pool: list[str],
             distinct: list[str], modes: list[str | None]) -> dict[str, dict]:
    """One round of the --ab comparison on one tree: every case once, a fresh server."""
    out: dict[str, dict] = {}
    server = Server(home, args.workers, src)
    try:
        pages = {"paper_page": [f"/papers/{quote(i)}" for i in ids],
                 "api_paper": [f"/api/papers/{quote(i)}" for i in ids]}
        server.warm(pages["paper_page"] + pages["api_paper"][:100])
        for name, paths in pages.items():
            out[name] = wrk(server.url, paths, args.connections, args.seconds)
        for mode in modes if args.only != "pages" else []:
            name = mode or "default"
            zipf = search_paths(zipf_pool, mode)
            server.warm(zipf, 20)
            warm_up(server, zipf, args)
            out[f"search_zipf_{name}"] = wrk(server.url, zipf, args.connections, args.seconds,
                                             zipf_script(args.zipf_s))
            paths = search_paths(distinct, mode)
            out[f"search_distinct_{name}"] = wrk(server.url, paths, args.connections, args.seconds,
                                                 distinct_script(0, len(paths)))
    finally:
        server.stop()
    return out


def ab(args: argparse.Namespace, results: dict, ids: list[str], zipf_pool: list[str],
       distinct_pool: list[str], has_vectors: bool) -> None:
    """Before/after, alternating: new, baseline, new, baseline, ... (see the module docstring).
    Each round's every-query-new stream gets its own block of the pool, the same block for both
    trees, so neither is helped by the other's cache (each server starts with an empty one)."""
    modes: list[str | None] = ["keyword", None] if has_vectors else ["keyword"]
    block = len(distinct_pool) // args.runs
    rounds: dict[str, list[dict[str, dict]]] = {"after": [], "before": []}
    for r in range(args.runs):
        distinct = distinct_pool[r * block:(r + 1) * block]
        for label, home, src in (("after", args.home, None),
                                 ("before", args.baseline_home or args.home, args.baseline_src)):
            rounds[label].append(ab_round(args, home, src, ids, zipf_pool, distinct, modes))
            print(label, r, {k: (v["rps"], v["p50_ms"], v["p99_ms"]) for k, v in rounds[label][-1].items()},
                  file=sys.stderr)
    for label, runs in rounds.items():
        for case in AB_CASES:
            if runs and case in runs[0]:
                results[f"{case}_{label}"] = median_of([run[case] for run in runs])
    print(f"\n| {results['papers']:,} papers, {args.workers} workers, {args.connections} connections, "
          f"median of {args.runs} alternating rounds | before req/s | after req/s | after/before "
          "| before p50 / p99 ms | after p50 / p99 ms |")
    print("|---|---|---|---|---|---|")
    for case in AB_CASES:
        if f"{case}_after" not in results:
            continue
        a, b = results[f"{case}_after"], results[f"{case}_before"]
        print(f"| {case} | {b['rps']:.0f} | {a['rps']:.0f} | {a['rps'] / max(b['rps'], 1e-9):.2f} "
              f"| {b['p50_ms']:.1f} / {b['p99_ms']:.1f} | {a['p50_ms']:.1f} / {a['p99_ms']:.1f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--home", type=Path, default=ROOT / "data" / "home-web")
    ap.add_argument("--source", type=Path, default=ROOT / "data" / "home-1M")
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--pool", type=int, default=20_000, help="distinct queries of the zipf stream")
    ap.add_argument("--zipf-s", type=float, default=1.0)
    ap.add_argument("--distinct", type=int, default=60_000, help="queries of the every-query-new stream")
    ap.add_argument("--only", choices=["search", "pages"], default=None)
    ap.add_argument("--baseline-src", type=Path, default=None)
    ap.add_argument("--baseline-home", type=Path, default=None,
                    help="the baseline's own store (--ab); default: the same --home")
    ap.add_argument("--ab", action="store_true", help="before/after in alternating rounds (--baseline-src)")
    args = ap.parse_args()
    if not (args.home / "paperfeed.db").exists():
        print(f"copying {args.source} -> {args.home} ...", file=sys.stderr)
        shutil.copytree(args.source, args.home, dirs_exist_ok=True)
    with paperfeed.open(args.home) as lib:  # applies migrations once, before the workers start
        papers = lib.store.count()
        has_vectors = lib.has_vectors()
        rng = random.Random(7)
        top = lib.store.conn.execute("SELECT max(rowid) FROM papers").fetchone()[0]  # type: ignore[attr-defined]
        ids = [r[0] for r in lib.store.conn.execute(  # type: ignore[attr-defined]
            f"SELECT id FROM papers WHERE rowid IN ({','.join(str(rng.randint(1, top)) for _ in range(2000))})"
        )]
        pool = distinct_queries(lib, args.pool + args.distinct)
    rng.shuffle(pool)  # the zipf ranks: popular queries are not the shortest or the first drawn
    zipf_pool, distinct_pool = pool[: args.pool], pool[args.pool :]
    results: dict[str, object] = {
        "papers": papers, "vectors": has_vectors, "workers": args.workers,
        "connections": args.connections, "seconds_per_run": args.seconds, "runs": args.runs,
        "cpus": os.cpu_count(), "zipf_pool": args.pool, "zipf_s": args.zipf_s,
        "load_before": round(os.getloadavg()[0], 2),
    }
    if args.ab:
        if args.baseline_src is None:
            ap.error("--ab needs --baseline-src")
        ab(args, results, ids, zipf_pool, distinct_pool, has_vectors)
        out = ROOT / "out" / "web-ab.json"
        out.parent.mkdir(exist_ok=True)
        out.write_text(json.dumps(results, indent=2))
        return
    if args.only != "search":
        page_cases(args, results, ids, zipf_pool[:300])
    if args.only != "pages":
        search_streams(args, results, zipf_pool, distinct_pool, has_vectors)
    out = ROOT / "out" / "web.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    w = args.workers
    if args.only != "search":
        print(f"| measure ({papers:,} papers, {args.connections} connections) | {w} workers | 1 worker |")
        print("|---|---|---|")
        for name in ("paper_page", "api_paper", "static_file"):
            many, one = results[f"{name}@{w}w"], results[f"{name}@1w"]
            print(f"| {name} req/s (p99 ms) | {many['rps']:.0f} ({many['p99_ms']:.0f}) "
                  f"| {one['rps']:.0f} ({one['p99_ms']:.0f}) |")
    if args.only != "pages":
        print(f"\n| search page, {papers:,} papers, {w} workers, {args.connections} connections "
              "| p50 / p99 ms | req/s | cache hit rate |")
        print("|---|---|---|---|")
        for key, value in results.items():
            if key.startswith("search_") and isinstance(value, dict):
                print(f"| {key} | {value['p50_ms']:.0f} / {value['p99_ms']:.0f} | {value['rps']:.0f} "
                      f"| {value.get('hit_rate', '–')} |")


if __name__ == "__main__":
    main()
