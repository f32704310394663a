"""The store calls the restructure touched, timed on two source trees side by side in one run.

The backends became packages with the SQL they share written once (`store.common`, run through
each engine's portable `Database`); this measures the calls that now take that path, and keyword
and hybrid search, on SQLite and on PostgreSQL, for each tree given (e.g. the commit before and
after), alternating trees round by round so machine load hits both alike.

    git archive 5f269f0 src | tar -x -C /tmp/before
    python benchmarks/bench_store_calls.py --papers 20000 --rounds 3 \
        --tree before=/tmp/before/src --tree after=src

Each round runs every tree in a fresh process over the same prepared stores (a synthetic snapshot
imported once per backend by the first tree); a call's figure is the median over its repetitions,
and the reported value is the median over rounds.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

HERE = Path(__file__).resolve().parent
WORKER = r'''
import json, random, statistics, sys, time
from datetime import date
from paperfeed.config import Config
from paperfeed.library import Library
from paperfeed.store.base import Filters

url, home, reps = sys.argv[1], sys.argv[2], int(sys.argv[3])
lib = Library(Config.from_env(home=home, database_url=url))
store = lib.store
ids = [p.id for p in store.papers_between(date(1990, 1, 1), date(2100, 1, 1), limit=2000)]
rng = random.Random(5)
words = ["model", "learning", "quantum", "graph neural", "diffusion transformer", "robust estimation"]
day = store.latest_day()

def timed(fn):
    out = []
    for _ in range(reps):
        t = time.perf_counter(); fn(); out.append((time.perf_counter() - t) * 1e6)
    return statistics.median(out)

result = {
    "get": timed(lambda: store.get(rng.choice(ids))),
    "latest_day": timed(lambda: store.latest_day()),
    "adjacent_day": timed(lambda: store.adjacent_day(day, -1)),
    "get_meta": timed(lambda: store.get_meta("vector_encoder")),
    "papers_between(day)": timed(lambda: store.papers_between(day, day, limit=20)),
    "keyword_search": timed(lambda: store.keyword_search(rng.choice(words).split(), limit=20)),
    # uncached: the search cache would answer repeats from memory
    "search keyword": timed(lambda: lib._search(rng.choice(words), "keyword", 20, Filters())),
    "search hybrid": timed(lambda: lib._search(rng.choice(words), "hybrid", 20, Filters())),
}
lib.close()
print(json.dumps(result))
'''


def run_tree(src: str, url: str, home: Path, reps: int) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": src, "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, "-c", WORKER, url, str(home), str(reps)],
        env=env, capture_output=True, text=True, check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def prepare(src: str, url: str, home: Path, snapshot: Path) -> None:
    env = {**os.environ, "PYTHONPATH": src, "HF_HUB_OFFLINE": "1"}
    for args in (["import", str(snapshot)], ["index"]):
        subprocess.run(
            [sys.executable, "-m", "paperfeed.cli", "--home", str(home), "--database", url, *args],
            env=env, check=True, capture_output=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--papers", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--reps", type=int, default=300)
    parser.add_argument("--tree", action="append", required=True, metavar="NAME=SRC")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    trees = dict(t.split("=", 1) for t in args.tree)
    sys.path.insert(0, str(HERE.parent / "tests"))
    sys.path.insert(0, str(HERE))
    from pg import PgServer
    from synth import records

    work = Path(tempfile.mkdtemp(prefix="bench-store-calls-"))
    snapshot = work / "snapshot.jsonl"
    with snapshot.open("wb") as f:
        for rec in records(args.papers):
            f.write(orjson.dumps(rec) + b"\n")
    try:
        report = measure(args, trees, work, PgServer)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
    for backend in ("sqlite", "postgres"):
        names = list(trees)
        print(f"\n{backend}: µs per call (median of {args.rounds} rounds)")
        print(f"{'call':<22}" + "".join(f"{n:>12}" for n in names))
        for call in report[backend][names[0]]:
            print(f"{call:<22}" + "".join(f"{report[backend][n][call]:>12}" for n in names))


def measure(args: argparse.Namespace, trees: dict[str, str], work: Path, PgServer: type) -> dict:
    with PgServer() as server:
        backends = {
            "sqlite": (f"sqlite:///{work / 'sqlite' / 'paperfeed.db'}", work / "sqlite"),
            "postgres": (server.new_database(), work / "pg"),
        }
        first = next(iter(trees.values()))
        for url, home in backends.values():
            home.mkdir(parents=True, exist_ok=True)
            prepare(first, url, home, work / "snapshot.jsonl")
        runs: dict[str, dict[str, dict[str, list[float]]]] = {}
        for _ in range(args.rounds):
            for name, src in trees.items():
                for backend, (url, home) in backends.items():
                    got = run_tree(src, url, home, args.reps)
                    cell = runs.setdefault(backend, {}).setdefault(name, {})
                    for call, us in got.items():
                        cell.setdefault(call, []).append(us)
    report: dict = {
        backend: {name: {call: round(statistics.median(v), 1) for call, v in calls.items()}
                  for name, calls in by_tree.items()}
        for backend, by_tree in runs.items()
    }
    report["setup"] = {"papers": args.papers, "rounds": args.rounds, "reps": args.reps,
                       "load": os.getloadavg(), "when": time.strftime("%Y-%m-%d %H:%M")}
    return report


if __name__ == "__main__":
    main()
