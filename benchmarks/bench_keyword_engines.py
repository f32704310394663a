"""PostgreSQL keyword ranking of several source trees side by side in one run: import rate,
keyword and hybrid latency (p50/p99), and top-10 agreement with SQLite.

    git archive <before> | tar -x -C /tmp/before
    python benchmarks/bench_keyword_engines.py --papers 100000 --rounds 3 \
        --tree before=/tmp/before/src --tree after=src --work /tmp/kw --pg-root /tmp/kw/pg

The first `--papers` records of the synthetic snapshot are imported (`paperfeed import
--no-index`, a bulk load at this size: timed, wall and client CPU) into one fresh PostgreSQL
database per tree, then indexed (`paperfeed index --encoder minilm-static`, timed apart); an SQLite
library, the reference, is built once by the last tree (or given, `--sqlite-home`). The server
runs with the README's deployment settings (`PG_SETTINGS`, `fsync` on). Each round runs every
tree in a fresh process, trees alternating, over the same query list: two or three words of
random papers' titles, and two to four random words of random abstracts. Latencies are per query
through `Library._search` (the search cache is bypassed), after 10 warm-up queries; the reported
figures are the medians over rounds. Agreement: mean |top10(PG) ∩ top10(SQLite)| / max(sizes)
over the queries either engine answers.

`--stage build` imports and indexes only (run it outside the bench lock), recording the databases
in `<work>/build.json`; `--stage query` runs the rounds on them (take the lock for that); `all`
(the default) does both. A tree already built in `<work>` is not built again.

`--server-port P`: use a server already running on 127.0.0.1:P (its settings are its own; e.g.
stores made by `paperfeed migrate` from a big SQLite library, listed in `<work>/build.json` by
hand) instead of starting one. Each round rotates the trees' order, so none always runs first;
each worker run records the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SNAPSHOT = Path("/work/bench-data/snapshot-1M.jsonl")

WORKER = r'''
import json, random, sys, time
import numpy as np
from paperfeed.config import Config
from paperfeed.library import Library
from paperfeed.search import STOPWORDS
from paperfeed.store.base import Filters

pg_url, pg_home, sq_home, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
pg = Library(Config.from_env(home=pg_home, database_url=pg_url))
sq = Library(Config.from_env(home=sq_home, database_url=None))
rng = random.Random(7)
top = sq.store.count()
texts = []
while len(texts) < n:
    row = sq.store.db.query_one("SELECT title, abstract FROM papers WHERE rowid = ?",
                                (rng.randint(1, top),))
    if not row:
        continue
    if len(texts) % 2 == 0:
        words = [w for w in row[0].split() if len(w) > 3]
        if len(words) >= 2:
            start = rng.randint(0, max(0, len(words) - 3))
            texts.append(" ".join(words[start:start + rng.choice((2, 3))]))
    else:
        words = [w for w in row[1].split() if w.isalpha() and w.lower() not in STOPWORDS]
        if len(words) >= 4:
            texts.append(" ".join(rng.sample(words, rng.randint(2, 4))))
out = {}
for q in texts[:10]:  # warm-up
    pg._search(q, "hybrid", 10, Filters())
for mode in ("keyword", "hybrid"):
    lat, agree = [], []
    for q in texts:
        t = time.perf_counter()
        a = [h.paper.id for h in pg._search(q, mode, 10, Filters())]
        lat.append((time.perf_counter() - t) * 1000)
        b = [h.paper.id for h in sq._search(q, mode, 10, Filters())]
        if a or b:
            agree.append(len(set(a) & set(b)) / max(len(a), len(b)))
    out[mode] = {"p50_ms": float(np.percentile(lat, 50)), "p99_ms": float(np.percentile(lat, 99)),
                 "agreement": sum(agree) / max(len(agree), 1), "answered": len(agree)}
pg.close(); sq.close()
import os
out["load"] = os.getloadavg()
print(json.dumps(out))
'''




def cli(src: str, home: Path, url: str | None, *args: str) -> dict[str, float]:
    """Run the CLI of tree `src`: wall seconds and the child's user and system CPU seconds."""
    env = {**os.environ, "PYTHONPATH": src, "HF_HUB_OFFLINE": "1"}
    db = ["--database", url] if url else []
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "paperfeed.cli", "--home", str(home), *db, *args],
                   env=env, check=True, capture_output=True)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"wall_s": round(wall, 1), "user_s": round(after.ru_utime - before.ru_utime, 1),
            "sys_s": round(after.ru_stime - before.ru_stime, 1),
            "load_after": [round(x, 2) for x in os.getloadavg()]}


def log(*args: object) -> None:
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    print(time.strftime("%H:%M:%S"), f"[load {load}]", *args, file=sys.stderr, flush=True)


def build(args: argparse.Namespace, trees: dict[str, str], server: Any, work: Path) -> dict:
    """Import and index each tree not built yet (and the SQLite reference): `<work>/build.json`."""
    state_path = work / "build.json"
    state = json.loads(state_path.read_text()) if state_path.exists() else {"trees": {}}
    snap = work / f"snapshot-{args.papers}.jsonl"
    if not snap.exists():
        with SNAPSHOT.open("rb") as src, snap.open("wb") as dst:
            for _, line in zip(range(args.papers), src, strict=False):
                dst.write(line)
    if args.sqlite_home:
        state["sqlite_home"] = str(args.sqlite_home)
    elif "sqlite_home" not in state:
        sq_home = work / "sqlite"
        last = list(trees.values())[-1]
        state["sqlite"] = {"import": cli(last, sq_home, None, "import", "--no-index", str(snap)),
                           "index": cli(last, sq_home, None, "index", "--encoder", "minilm-static")}
        state["sqlite_home"] = str(sq_home)
        log("sqlite", state["sqlite"])
        state_path.write_text(json.dumps(state, indent=2))
    for name, src in trees.items():
        if name in state["trees"]:
            continue
        url = server.new_database()
        home = work / name
        done = cli(src, home, url, "import", "--no-index", str(snap))
        done["records_per_s"] = round(args.papers / done["wall_s"])
        log(name, "import", done)
        indexed = {} if args.import_only else cli(src, home, url, "index", "--encoder",
                                                  "minilm-static")
        log(name, "index", indexed)
        state["trees"][name] = {"database": url.rsplit("/", 1)[1], "home": str(home),
                                "import": done, "index": indexed, "papers": args.papers}
        state_path.write_text(json.dumps(state, indent=2))
    return state


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--papers", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--tree", action="append", required=True, metavar="NAME=SRC")
    ap.add_argument("--out", type=Path)
    ap.add_argument("--work", type=Path, help="kept: snapshot head, homes, build.json")
    ap.add_argument("--pg-root", type=Path, help="kept PostgreSQL cluster (default: <work>/pg)")
    ap.add_argument("--stage", choices=("build", "query", "all"), default="all")
    ap.add_argument("--sqlite-home", type=Path, help="an SQLite library already built (the reference)")
    ap.add_argument("--server-port", type=int, help="a PostgreSQL server already running")
    ap.add_argument("--import-only", action="store_true",
                    help="build: import the trees, no vectors (for the import rate alone)")
    args = ap.parse_args()
    trees = dict(t.split("=", 1) for t in args.tree)
    sys.path.insert(0, str(HERE.parent / "tests"))
    from bench_backends import PG_SETTINGS  # the README's deployment settings (24 GiB machine)
    from pg import PgServer

    work = (args.work or Path(tempfile.mkdtemp(prefix="bench-kw-engines-"))).resolve()
    work.mkdir(parents=True, exist_ok=True)
    server: Any = (
        _Running(args.server_port) if args.server_port else
        PgServer(durable=True, settings=PG_SETTINGS, root=args.pg_root or work / "pg").start()
    )
    try:
        report: dict = {"setup": {"papers": args.papers, "rounds": args.rounds,
                                  "queries": args.queries, "load_start": os.getloadavg(),
                                  "when": time.strftime("%Y-%m-%d %H:%M"),
                                  "machine": f"{os.cpu_count()} cores, shared"}}
        if args.stage in ("build", "all"):
            state = build(args, trees, server, work)
        else:
            state = json.loads((work / "build.json").read_text())
        report["build"] = state
        if args.stage in ("query", "all"):
            urls = {n: server.url(state["trees"][n]["database"]) for n in trees}
            homes = {n: Path(state["trees"][n]["home"]) for n in trees}
            runs = rounds(trees, urls, homes, Path(state["sqlite_home"]), args.rounds,
                          args.queries)
            finish(report, runs, args.out)
        elif args.out:
            args.out.write_text(json.dumps(report, indent=2))
    finally:
        server.stop()


class _Running:
    """A server someone else started and stops."""

    def __init__(self, port: int) -> None:
        self.port = port

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        raise SystemExit("--server-port: list the databases in <work>/build.json (no builds)")

    def stop(self) -> None:
        pass


def rounds(trees: dict[str, str], urls: dict[str, str], homes: dict[str, Path], sq_home: Path,
           n: int, queries: int) -> dict[str, list[dict]]:
    """`n` rounds, each running every tree's worker in a fresh process, trees alternating."""
    runs: dict[str, list[dict]] = {}
    names = list(trees)
    for i in range(n):
        for name in names[i % len(names):] + names[:i % len(names)]:
            src = trees[name]
            env = {**os.environ, "PYTHONPATH": src, "HF_HUB_OFFLINE": "1"}
            done = subprocess.run(
                [sys.executable, "-c", WORKER, urls[name], str(homes[name]), str(sq_home),
                 str(queries)],
                env=env, capture_output=True, text=True, check=True,
            )
            runs.setdefault(name, []).append(json.loads(done.stdout.strip().splitlines()[-1]))
            print(name, runs[name][-1], file=sys.stderr, flush=True)
    return runs


def finish(report: dict, runs: dict[str, list[dict]], out: Path | None) -> None:
    for name, got in runs.items():
        for mode in ("keyword", "hybrid"):
            report.setdefault(name, {})[mode] = {
                k: round(statistics.median(r[mode][k] for r in got), 3) for k in got[0][mode]
            }
        report[name]["runs"] = got
    report["setup"]["load_end"] = os.getloadavg()
    text = json.dumps(report, indent=2)
    print(text)
    if out:
        out.write_text(text)


if __name__ == "__main__":
    main()
