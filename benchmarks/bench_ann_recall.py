"""Why the two backends' semantic and related rankings agree little at 1M: recall@10 of
each backend's ANN index against exact search, and how crowded the neighbours are.

    python benchmarks/bench_ann_recall.py --home benchmarks/data/home-backends-1M \
        --pg-root benchmarks/data/pg-backends-1M

Needs the stores `bench_backends.py` leaves (SQLite home + the `paperfeed_bench` database). Exact
search: numpy over every stored vector (float16 → float32), the vectors of 50 seeded papers (the
same papers `bench_backends.py` uses for related) as queries, the paper itself left out.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from bench_backends import queries  # noqa: E402
from pg import PgServer  # noqa: E402

from paperfeed.config import Config  # noqa: E402
from paperfeed.library import Library  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--home", type=Path, required=True)
    ap.add_argument("--pg-root", type=Path, required=True)
    ap.add_argument("--papers", type=int, default=50)
    args = ap.parse_args()
    conn = sqlite3.connect(args.home / "paperfeed.db")
    rows = conn.execute("SELECT paper_rowid, vector FROM embeddings ORDER BY paper_rowid").fetchall()
    keys = np.array([r[0] for r in rows], dtype=np.int64)
    mat = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float16).reshape(len(rows), -1)
    mat = mat.astype(np.float32)
    del rows
    server = PgServer(durable=True, root=args.pg_root).start()
    try:
        url = server.url("paperfeed_bench")
        with (Library(Config.from_env(home=args.home)) as sq,
              Library(Config.from_env(home=args.home / "pg", database_url=url)) as pg):
            _, ids = queries(sq, 300)
            recall: dict[str, list[float]] = {"sqlite": [], "postgresql": []}
            related: dict[str, list[float]] = {"sqlite": [], "postgresql": []}
            crowd = []
            for pid in ids[: args.papers]:
                rowid = conn.execute("SELECT rowid FROM papers WHERE id = ?", (pid,)).fetchone()[0]
                q = mat[np.searchsorted(keys, rowid)]
                sims = mat @ q
                order = np.argsort(-sims)[:1001]
                crowd.append([sims[order[i]] for i in (1, 10, 11, 100, 1000)])
                exact = [int(keys[i]) for i in order[:11] if keys[i] != rowid][:10]
                exact_ids = {r[0] for r in conn.execute(
                    f"SELECT id FROM papers WHERE rowid IN ({','.join(map(str, exact))})")}
                for name, lib in (("sqlite", sq), ("postgresql", pg)):
                    got = [k for k, _, _ in lib.semantic.nearest(q, 11) if k != rowid][:10]
                    recall[name].append(len(set(got) & set(exact)) / 10)
                    rel = {h.paper.id for h in lib.related(pid, limit=10)}
                    related[name].append(len(rel & exact_ids) / 10)
            for name in recall:
                print(f"{name}: nearest recall@10 {np.mean(recall[name]):.3f}, "
                      f"related ∩ exact top-10 {np.mean(related[name]):.3f}")
            print("median cosine of neighbour 1, 10, 11, 100, 1000:",
                  np.round(np.median(np.array(crowd), axis=0), 4).tolist())
    finally:
        server.stop()


if __name__ == "__main__":
    main()
