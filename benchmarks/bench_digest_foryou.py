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

`--send` times what `paperfeed digest send` does before it sends: `Digests.compose` (the
trending list, the topics and the For you sections of every due subscriber, written into the
outbox with the For-you papers recorded as sent) with `--workers N` processes. Each bench user
is then also a subscriber (trending on, no topics) whose last digest was cut off just before the
newest `--window` papers arrived (the synthetic import stamps 2,000 papers a second), so the
window is those papers. `--first U --count C` makes only users U..U+C-1 due (the rest
unsubscribed for the run), for a run in chunks; the outbox rows and recorded papers of the run
are deleted afterwards, so runs repeat. Nothing is sent (no SMTP).

    python benchmarks/bench_digest_foryou.py --home DIR --send --workers 2 [--first 0 --count 10000]
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
    for first in range(have, users, 500):
        _add_users(lib, first, min(first + 500, users), n, now, rng)
    print(f"set up {users - have:,} users in {time.perf_counter() - started:.0f} s", flush=True)


def _add_users(
    lib: paperfeed.Library, first: int, last: int, n: int, now: str, rng: np.random.Generator
) -> None:
    db, semantic = lib.store.db, lib.semantic
    assert semantic is not None
    with db.transaction() as tx:
        for u in range(first, last):
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


DAY = "2026-12-01"  # a Tuesday: every weekday subscriber is due


def subscribe(lib: paperfeed.Library, users: int, window: int) -> str:
    """Every bench user a subscriber whose last cutoff lies just before the newest `window`
    papers; returns that cutoff."""
    db = lib.store.db
    row = db.query_one("SELECT added_at FROM papers ORDER BY added_at DESC, rowid DESC "
                       "LIMIT 1 OFFSET ?", (window,))
    assert row is not None
    since = str(row[0])
    have = db.query_one("SELECT count(*) FROM subscribers WHERE email LIKE 'bench-%'")
    with db.transaction() as tx:
        for u in range(int(have[0]) if have else 0, users):
            tx.execute(
                "INSERT INTO subscribers (id, email, name, status, trending, frequency, created_at, "
                "confirmed_at, since, last_error, last_error_at, generation) "
                "VALUES (?, ?, NULL, 'active', 1, 'weekdays', ?, ?, ?, NULL, NULL, 0)",
                (f"sub-{u}", f"bench-{u}@example.org", since, since, since),
            )
        tx.execute("UPDATE subscribers SET since = ? WHERE email LIKE 'bench-%'", (since,))
    return since


def time_send(lib: paperfeed.Library, args: argparse.Namespace) -> dict:
    """`Digests.compose` for bench users first..first+count-1, as `digest send` runs it."""
    from datetime import UTC, date, datetime

    since = subscribe(lib, args.users, args.window)
    db = lib.store.db
    wanted = [f"sub-{u}" for u in range(args.first, args.first + args.count)]
    with db.transaction() as tx:
        tx.execute("UPDATE subscribers SET status = 'unsubscribed' WHERE email LIKE 'bench-%'")
        for sid in wanted:
            tx.execute("UPDATE subscribers SET status = 'active' WHERE id = ?", (sid,))
        tx.execute("DELETE FROM digest_outbox WHERE digest_date = ?", (DAY,))
        tx.execute("DELETE FROM recommendations_sent WHERE user_id LIKE 'bench-%'")
    load_before = os.getloadavg()
    w0, c0 = time.perf_counter(), time.process_time()
    children0 = os.times()
    composed, empty = lib.digests.compose(date.fromisoformat(DAY), datetime.now(UTC),
                                          workers=args.workers)
    wall = time.perf_counter() - w0
    children1 = os.times()
    rows = db.query("SELECT content FROM digest_outbox WHERE digest_date = ?", (DAY,))
    from paperfeed.digest.compose import DigestContent

    contents = [DigestContent.from_json(str(r[0])) for r in rows]
    report = {
        "papers": lib.store.count(), "users_due": len(wanted), "first": args.first,
        "workers": args.workers, "window_since": since, "composed": composed, "empty": empty,
        "sections_with_papers": sum(len(c.for_you) for c in contents),
        "papers_recommended": sum(len(c.recommended) for c in contents),
        "wall_s": wall, "cpu_s_this_process": time.process_time() - c0,
        "cpu_s_workers": (children1.children_user + children1.children_system
                          - children0.children_user - children0.children_system),
        "load_before": load_before, "load_after": os.getloadavg(),
    }
    with db.transaction() as tx:
        tx.execute("DELETE FROM digest_outbox WHERE digest_date = ?", (DAY,))
        tx.execute("DELETE FROM recommendations_sent WHERE user_id LIKE 'bench-%'")
    return report


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--home", type=Path, required=True)
    ap.add_argument("--users", type=int, default=10_000)
    ap.add_argument("--compose", type=int, default=10_000, help="users whose sections are timed")
    ap.add_argument("--window", type=int, default=2_000, help="newest papers as the new arrivals")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--send", action="store_true", help="time Digests.compose (see above)")
    ap.add_argument("--workers", type=int, default=None, help="with --send (default: the shipped)")
    ap.add_argument("--first", type=int, default=0)
    ap.add_argument("--count", type=int, default=None)
    args = ap.parse_args()
    rng = np.random.default_rng(7)
    with paperfeed.open(args.home) as lib:
        set_up(lib, args.users, rng)
        if args.send:
            args.count = args.users - args.first if args.count is None else args.count
            text = json.dumps(time_send(lib, args), indent=2)
            print(text)
            if args.json:
                args.json.write_text(text)
            return
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
