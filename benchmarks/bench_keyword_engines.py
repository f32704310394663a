"""PostgreSQL keyword ranking before and after the shared tokenizer + BM25, side by side in one
run: import rate, keyword and hybrid latency (p50/p99), and top-10 agreement with SQLite.

    git archive <before> src | tar -x -C /tmp/before
    python benchmarks/bench_keyword_engines.py --papers 100000 --rounds 3 \
        --tree before=/tmp/before/src --tree after=src

The first `--papers` records of the synthetic snapshot are imported (`paperfeed import`, a bulk
load at this size) into one fresh PostgreSQL database per tree, timed, then indexed (the default
encoder); an SQLite library, the reference, is built once by the last tree. Each round runs
every tree in a fresh process, trees alternating, over the same query list: two or three words
of random papers' titles, and two to four random words of random abstracts. Latencies are per
query through `Library._search` (the search cache is bypassed); the reported figures are the
medians over rounds. Agreement: mean |top10(PG) ∩ top10(SQLite)| / max(sizes) over the
queries either engine answers. `--prebuilt` (with `--sqlite-home`) queries databases built
beforehand instead (no import timed).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

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
print(json.dumps(out))
'''


def cli(src: str, home: Path, url: str | None, *args: str) -> float:
    env = {**os.environ, "PYTHONPATH": src, "HF_HUB_OFFLINE": "1"}
    db = ["--database", url] if url else []
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "paperfeed.cli", "--home", str(home), *db, *args],
                   env=env, check=True, capture_output=True)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--papers", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--tree", action="append", required=True, metavar="NAME=SRC")
    ap.add_argument("--out", type=Path)
    ap.add_argument("--prebuilt", action="append", default=[], metavar="NAME=URL@HOME",
                    help="query a database this tree already imported and indexed (no import)")
    ap.add_argument("--sqlite-home", type=Path, help="an SQLite library already built (the reference)")
    args = ap.parse_args()
    trees = dict(t.split("=", 1) for t in args.tree)
    prebuilt = {n: tuple(v.rsplit("@", 1)) for n, v in (t.split("=", 1) for t in args.prebuilt)}
    if prebuilt:
        if set(prebuilt) != set(trees) or not args.sqlite_home:
            ap.error("--prebuilt needs every tree and --sqlite-home")
        report = {"setup": {"papers": args.papers, "rounds": args.rounds, "queries": args.queries,
                            "prebuilt": True, "load_start": os.getloadavg(),
                            "when": time.strftime("%Y-%m-%d %H:%M")}}
        urls = {n: u for n, (u, _) in prebuilt.items()}
        homes = {n: Path(h) for n, (_, h) in prebuilt.items()}
        runs = rounds(trees, urls, homes, args.sqlite_home, args.rounds, args.queries)
        finish(report, runs, args.out)
        return
    sys.path.insert(0, str(HERE.parent / "tests"))
    from pg import PgServer

    work = Path(tempfile.mkdtemp(prefix="bench-kw-engines-"))
    snap = work / "snapshot.jsonl"
    with SNAPSHOT.open("rb") as src, snap.open("wb") as dst:
        for _, line in zip(range(args.papers), src, strict=False):
            dst.write(line)
    report: dict = {"setup": {"papers": args.papers, "rounds": args.rounds,
                              "queries": args.queries, "load_start": os.getloadavg(),
                              "when": time.strftime("%Y-%m-%d %H:%M")}}
    with PgServer() as server:
        last = list(trees.values())[-1]
        sq_home = work / "sqlite"
        cli(last, sq_home, None, "import", str(snap))
        cli(last, sq_home, None, "index")
        urls = {}
        for name, src in trees.items():
            urls[name] = server.new_database()
            seconds = cli(src, work / name, urls[name], "import", str(snap))
            report.setdefault(name, {})["import_per_s"] = round(args.papers / seconds)
            print(name, "import", round(seconds), "s", file=sys.stderr, flush=True)
            cli(src, work / name, urls[name], "index")
        runs = rounds(trees, urls, {n: work / n for n in trees}, sq_home, args.rounds, args.queries)
    finish(report, runs, args.out)


def rounds(trees: dict[str, str], urls: dict[str, str], homes: dict[str, Path], sq_home: Path,
           n: int, queries: int) -> dict[str, list[dict]]:
    """`n` rounds, each running every tree's worker in a fresh process, trees alternating."""
    runs: dict[str, list[dict]] = {}
    for _ in range(n):
        for name, src in trees.items():
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
    report["setup"]["load_end"] = os.getloadavg()
    text = json.dumps(report, indent=2)
    print(text)
    if out:
        out.write_text(text)


if __name__ == "__main__":
    main()
