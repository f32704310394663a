"""The PostgreSQL write path of several source trees side by side: new papers, new versions of
them, deletes, through `PostgresStore.upsert` / `delete` (not a bulk load: term statistics and
the GIN indexes kept row by row, as a daily import or the web's writes do).

    python benchmarks/bench_pg_write.py --papers 5000 --rounds 3 \
        --tree head=/tmp/head/src --tree after=src

Each round runs every tree (order rotated per round) in a fresh process on a fresh database of
one server (the README's deployment settings, `fsync` on): the first `--papers` records of the
synthetic snapshot in batches of 500, then half of them again as a new version with a longer
abstract, then a quarter deleted. Per step: wall seconds, the client's CPU seconds and the CPU
seconds of its database backend (one pooled connection, read from `/proc`). Medians over rounds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SNAPSHOT = Path("/work/bench-data/snapshot-1M.jsonl")

WORKER = r'''
import dataclasses, itertools, json, sys, time
import orjson
from paperfeed.sources.arxiv_snapshot import paper_from_snapshot
from paperfeed.store.postgres.store import PostgresStore

url, snapshot, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
with open(snapshot, "rb") as f:
    papers = [paper_from_snapshot(orjson.loads(line)) for line in itertools.islice(f, n)]
store = PostgresStore(url, min_size=1, max_size=1)
backend = store.query("SELECT pg_backend_pid()")[0][0]

def server_cpu():
    fields = open(f"/proc/{backend}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100

def timed(step):
    t, c, s = time.perf_counter(), time.process_time(), server_cpu()
    step()
    return {"wall_s": time.perf_counter() - t, "client_cpu_s": time.process_time() - c,
            "server_cpu_s": server_cpu() - s}

def new():
    for i in range(0, n, 500):
        store.upsert(papers[i:i + 500])

newer = [dataclasses.replace(p, abstract=p.abstract + " Revised: a further section on results.",
                             version=(p.version or 1) + 1) for p in papers[: n // 2]]
def update():
    for i in range(0, len(newer), 500):
        store.upsert(newer[i:i + 500])

gone = [p.id for p in papers[n // 2 : n // 2 + n // 4]]
def delete():
    for i in range(0, len(gone), 500):
        store.delete(gone[i:i + 500])

out = {"insert": timed(new), "update": timed(update), "delete": timed(delete)}
assert store.count() == n - len(gone)
store.close()
print(json.dumps(out))
'''


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--papers", type=int, default=5_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--tree", action="append", required=True, metavar="NAME=SRC")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    trees = dict(t.split("=", 1) for t in args.tree)
    sys.path.insert(0, str(HERE.parent / "tests"))
    from bench_backends import PG_SETTINGS
    from pg import PgServer

    report: dict = {"setup": {"papers": args.papers, "rounds": args.rounds,
                              "load_start": os.getloadavg(), "when": time.strftime("%Y-%m-%d %H:%M")}}
    runs: dict[str, list[dict]] = {}
    with PgServer(durable=True, settings=PG_SETTINGS) as server:
        names = list(trees)
        for i in range(args.rounds):
            for name in names[i % len(names):] + names[: i % len(names)]:
                env = {**os.environ, "PYTHONPATH": trees[name]}
                done = subprocess.run(
                    [sys.executable, "-c", WORKER, server.new_database(), str(SNAPSHOT),
                     str(args.papers)],
                    env=env, capture_output=True, text=True, check=True,
                )
                runs.setdefault(name, []).append(json.loads(done.stdout.strip().splitlines()[-1]))
                print(name, runs[name][-1], file=sys.stderr, flush=True)
    for name, got in runs.items():
        report[name] = {
            step: {k: round(statistics.median(r[step][k] for r in got), 3) for k in got[0][step]}
            for step in got[0]
        }
        report[name]["runs"] = got
    report["setup"]["load_end"] = os.getloadavg()
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
