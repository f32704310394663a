"""Web throughput and latency with a real load generator (wrk) against uvicorn workers.

    python benchmarks/bench_web.py [--home benchmarks/data/home-web] [--workers 4] [--runs 3]

The store is a copy of the 1M-paper import benchmark's store (`benchmarks/data/home-import`,
copied once to `--home`; the copy gets the web's migrations). What is measured, each `--runs`
times (the median is reported):

- paper page `/papers/{id}` and `/api/papers/{id}`: random ids out of 2,000 (a wrk Lua script),
  32 connections, requests/s — with `--workers` uvicorn processes and, as a baseline, with one;
  and a static file from the same server (the framework's ceiling on this machine);
- search page `/search?q=...`: 300 realistic queries (2–4 consecutive words of random titles,
  as in bench_import.py), 32 connections, latency p50/p99 and requests/s.

Writes benchmarks/out/web.json and prints a Markdown table for BENCHMARKS.md.
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

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

from bench_import import realistic_queries  # noqa: E402

import paperfeed  # noqa: E402

WRK = shutil.which("wrk") or "/usr/bin/wrk"
LUA = """
local paths = {}
for line in io.lines("%s") do paths[#paths + 1] = line end
math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
request = function()
  return wrk.format("GET", paths[math.random(#paths)])
end
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """uvicorn with N workers on the app factory, access log off (as behind a proxy that logs)."""

    def __init__(self, home: Path, workers: int) -> None:
        self.port = free_port()
        env = {**os.environ, "PAPERFEED_HOME": str(home)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "paperfeed.web.app:app_from_env", "--factory",
             "--host", "127.0.0.1", "--port", str(self.port), "--workers", str(workers),
             "--no-access-log", "--log-level", "warning"],
            env=env,
            start_new_session=True,
        )
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 120
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
                urllib.request.urlopen(self.url + path, timeout=30).read()

    def stop(self) -> None:
        os.killpg(self.proc.pid, signal.SIGTERM)
        self.proc.wait(timeout=30)


def wrk(url: str, paths: list[str], connections: int, seconds: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        listing = Path(tmp) / "paths.txt"
        listing.write_text("\n".join(paths) + "\n")
        script = Path(tmp) / "paths.lua"
        script.write_text(LUA % listing)
        out = subprocess.run(
            [WRK, "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), url],
            capture_output=True, text=True, check=True,
        ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    latency = {p: _ms(re.search(rf"\s{p}%\s+([\d.]+\w+)", out).group(1)) for p in ("50", "99")}
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors: .*", out)
    return {
        "rps": rps, "p50_ms": latency["50"], "p99_ms": latency["99"],
        "non_2xx": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": errors.group(0) if errors else "",
    }


def _ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(\w+)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def median_of(runs: list[dict[str, float]]) -> dict[str, float]:
    keys = ("rps", "p50_ms", "p99_ms")
    out = {k: round(statistics.median(r[k] for r in runs), 2) for k in keys}
    out["runs"] = [{k: r[k] for k in keys} for r in runs]
    out["non_2xx"] = sum(r["non_2xx"] for r in runs)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--home", type=Path, default=ROOT / "data" / "home-web")
    ap.add_argument("--source", type=Path, default=ROOT / "data" / "home-import")
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--connections", type=int, default=32)
    args = ap.parse_args()
    db = args.home / "paperfeed.db"
    if not db.exists():
        args.home.mkdir(parents=True, exist_ok=True)
        print(f"copying {args.source} -> {args.home} ...", file=sys.stderr)
        shutil.copy2(args.source / "paperfeed.db", db)
    with paperfeed.open(args.home) as lib:  # applies migrations once, before the workers start
        papers = lib.store.count()
        rng = random.Random(7)
        top = lib.store.conn.execute("SELECT max(rowid) FROM papers").fetchone()[0]  # type: ignore[attr-defined]
        ids = [r[0] for r in lib.store.conn.execute(  # type: ignore[attr-defined]
            f"SELECT id FROM papers WHERE rowid IN ({','.join(str(rng.randint(1, top)) for _ in range(2000))})"
        )]
        queries = realistic_queries(lib, 300)
    paper_paths = [f"/papers/{quote(i)}" for i in ids]
    api_paths = [f"/api/papers/{quote(i)}" for i in ids]
    search_paths = ["/search?" + urlencode({"q": q}) for q in queries]
    results: dict[str, object] = {
        "papers": papers, "workers": args.workers, "connections": args.connections,
        "seconds_per_run": args.seconds, "runs": args.runs, "cpus": os.cpu_count(),
    }
    for workers in sorted({1, args.workers}, reverse=True):
        server = Server(args.home, workers)
        try:
            server.warm(paper_paths + api_paths[:100] + search_paths[:50])
            cases = {
                "paper_page": paper_paths,
                "api_paper": api_paths,
                "static_file": ["/static/style.css"],
            }
            if workers == args.workers:
                cases["search_page"] = search_paths
            for name, paths in cases.items():
                runs = [wrk(server.url, paths, args.connections, args.seconds) for _ in range(args.runs)]
                results[f"{name}@{workers}w"] = median_of(runs)
                print(name, workers, results[f"{name}@{workers}w"], file=sys.stderr)
            if workers == args.workers:  # the same searches from 2 clients: service time, no queue
                runs = [wrk(server.url, search_paths, 2, args.seconds) for _ in range(args.runs)]
                results[f"search_page_2c@{workers}w"] = median_of(runs)
                print("search 2c", results[f"search_page_2c@{workers}w"], file=sys.stderr)
        finally:
            server.stop()
    out = ROOT / "out" / "web.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    w = args.workers
    print(f"| measure ({papers:,} papers, {args.connections} connections) | {w} workers | 1 worker |")
    print("|---|---|---|")
    for name in ("paper_page", "api_paper", "static_file"):
        many, one = results[f"{name}@{w}w"], results[f"{name}@1w"]
        print(f"| {name} req/s (p99 ms) | {many['rps']:.0f} ({many['p99_ms']:.0f}) "
              f"| {one['rps']:.0f} ({one['p99_ms']:.0f}) |")
    s = results[f"search_page@{w}w"]
    print(f"| search_page p50 / p99 ms (req/s) | {s['p50_ms']:.0f} / {s['p99_ms']:.0f} ({s['rps']:.0f}) | |")
    s = results[f"search_page_2c@{w}w"]
    print(f"| search_page, 2 connections: p50 / p99 ms (req/s) | {s['p50_ms']:.0f} / {s['p99_ms']:.0f} "
          f"({s['rps']:.0f}) | |")


if __name__ == "__main__":
    main()
