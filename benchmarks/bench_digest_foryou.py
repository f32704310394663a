"""The email digest's "For you" sections at scale: 10,000 users x 3 collections of 50 papers.

On an existing store with vectors (e.g. the 1M synthetic store of `bench_recommend_speed.py`),
the set-up (once, kept in the store; `--users` of them) gives each user three collections of 50
random papers, all three chosen for the digest, and a few dismissals. The users are written
straight into the tables (no argon2 hashing of 10,000 passwords: the digest never reads one).

Then it composes the For-you sections exactly as `paperfeed digest send` does
(`LibraryForYou.sections`, which calls `Library.recommend(collection=..., user=..., among=...)`
per collection, with nothing already sent), for `--compose` users, one process, and reports the
wall and CPU time per user and per section, p50 / p99, and the total for all `--users` users
(measured when `--compose` equals `--users`, else extrapolated from the measured mean, and said
so). Nothing is recorded as sent, so runs can be repeated.

The digest recommends among the papers that arrived since the subscriber's last digest
(`Composer.arrivals_after`); the synthetic store's papers all arrived at once, so the window
here is the newest `--window` papers (default 2,000: more than a day of arXiv's new
submissions). `--window 0` asks as the digest did before (the whole corpus), and is what a
tree without `among` gets.

    python benchmarks/bench_digest_foryou.py --home DIR [--users 10000] [--compose 10000]
        [--window 2000]
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import statistics
import time
import uuid
from pathlib import Path

import numpy as np

import paperfeed
from paperfeed.personal.digest import LibraryForYou


def set_up(lib: paperfeed.Library, users: int, rng: np.random.Generator) -> None:
    db = lib.store.db
    row = db.query_one("SELECT count(*) FROM users WHERE email LIKE 'bench-%'")
    have = int(row[0]) if row else 0
    if have >= users:
        return
    semantic = lib.semantic
    assert semantic is not None, "the store needs vectors (paperfeed index)"
    n = lib.store.count()
    now = "2026-12-01T00:00:00Z"
    started = time.perf_counter()
    with db.transaction() as tx:
        for u in range(have, users):
            uid = f"bench-{u}"
            tx.execute("INSERT INTO users (id, email, password_hash, is_admin, created_at) "
                       "VALUES (?, ?, 'unused', 0, ?)", (uid, f"bench-{u}@example.org", now))
            keys = rng.choice(np.arange(1, n + 1), 153, replace=False).tolist()
            ids = list(semantic.vectors.ids_of(keys).values())
            for k in range(3):
                cid = uuid.uuid4().hex
                tx.execute("INSERT INTO collections (id, user_id, name, name_key, created_at) "
                           "VALUES (?, ?, ?, ?, ?)", (cid, uid, f"Topic {k}", f"topic {k}", now))
                for pid in ids[k * 50:(k + 1) * 50]:
                    tx.execute("INSERT INTO collection_papers (collection_id, user_id, paper_id, "
                               "added_at) VALUES (?, ?, ?, ?)", (cid, uid, pid, now))
                tx.execute("INSERT INTO digest_collections (user_id, collection_id) VALUES (?, ?)",
                           (uid, cid))
            for pid in ids[150:]:
                tx.execute("INSERT INTO dismissals (user_id, paper_id, created_at) VALUES (?, ?, ?)",
                           (uid, pid, now))
    print(f"set up {users - have:,} users in {time.perf_counter() - started:.0f} s", flush=True)


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--home", type=Path, required=True)
    ap.add_argument("--users", type=int, default=10_000)
    ap.add_argument("--compose", type=int, default=10_000, help="users whose sections are timed")
    ap.add_argument("--window", type=int, default=2_000, help="newest papers as the new arrivals")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    rng = np.random.default_rng(7)
    with paperfeed.open(args.home) as lib:
        set_up(lib, args.users, rng)
        for_you = LibraryForYou(lib.accounts, lib.personal, lib.recommend)
        windowed = args.window > 0 and "among" in inspect.signature(for_you.sections).parameters
        among = [r[0] for r in lib.store.db.query(
            "SELECT id FROM papers ORDER BY added_at DESC, rowid DESC LIMIT ?", (args.window,)
        )] if windowed else None

        def compose_for(uid: str) -> list:
            if among is None:
                return for_you.sections(uid, set())
            return for_you.sections(uid, set(), among)  # type: ignore[call-arg]

        w0, c0 = time.perf_counter(), time.process_time()
        compose_for("bench-0")  # warm: index loaded, encoder and caches ready, the window read
        warm_wall, warm_cpu = time.perf_counter() - w0, time.process_time() - c0
        per_user, per_user_cpu, sections, papers = [], [], 0, 0
        load_before = os.getloadavg()
        t_all, c_all = time.perf_counter(), time.process_time()
        for u in rng.choice(args.users, args.compose, replace=False).tolist():
            t0, c0 = time.perf_counter(), time.process_time()
            out = compose_for(f"bench-{u}")
            per_user.append((time.perf_counter() - t0) * 1000)
            per_user_cpu.append((time.process_time() - c0) * 1000)
            sections += len(out)
            papers += sum(len(picked) for _, picked in out)
        wall, cpu = time.perf_counter() - t_all, time.process_time() - c_all
        scale = args.users / args.compose
        report = {
            "papers": lib.store.count(), "users": args.users, "composed": args.compose,
            "collections_per_user": 3, "papers_per_collection": 50,
            "window": len(among) if among is not None else "whole corpus (no among)",
            "sections_with_papers": sections, "papers_recommended": papers,
            "per_user_ms": {"p50": pct(per_user, 50), "p99": pct(per_user, 99),
                            "mean": statistics.fmean(per_user)},
            "per_user_cpu_ms": {"p50": pct(per_user_cpu, 50), "p99": pct(per_user_cpu, 99),
                                "mean": statistics.fmean(per_user_cpu)},
            "first_user_wall_s": warm_wall, "first_user_cpu_s": warm_cpu,
            "composed_wall_s": wall, "composed_cpu_s": cpu,
            "all_users_wall_s": wall * scale,
            "all_users_measured": args.compose == args.users,
            "load_before": load_before, "load_after": os.getloadavg(),
        }
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text)


if __name__ == "__main__":
    main()
