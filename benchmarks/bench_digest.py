"""Composing email digests for 10,000 subscribers × 3 topics over a 1M-paper store.

    python benchmarks/bench_digest.py [--home benchmarks/data/home-digest] [--runs 3]

The store is a copy of the 1M-paper import benchmark's store (`benchmarks/data/home-import`,
copy it to `--home` first; the copy gets the digest migration). Setup (repeated each run): 10,000
active subscribers, trending on, each with 3 topics drawn from 3,000 distinct two- and three-word
topics made of frequent title words of the store (so topics are shared, as saved searches are),
their "last digest" set so that the newest N papers of the store are the arrivals since.

Measured, each run (median reported; rendering on the first run only), with the outbox emptied
between runs:
- compose: `lib.digests.compose(day)`: trending once, the arrivals window read and indexed,
  every subscriber's papers chosen, 10,000 outbox rows written;
- render: every digest rendered to its email message (text + HTML), as a send would, minus SMTP;
- baseline: the obvious design, one keyword search of the whole store per subscriber and topic
  (`lib.search(topic, limit=50)`, then dropping papers that are not new), timed on 100 subscribers
  and extrapolated to 10,000.

Writes benchmarks/out/digest.json and prints a Markdown table for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import time
from collections import Counter
from datetime import date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent
SUBSCRIBERS = 10_000
TOPICS_EACH = 3
DISTINCT_TOPICS = 3_000


def setup(lib, arrivals: int, rng: random.Random) -> tuple[str, int]:
    """Fresh subscribers and topics; returns (since, window size)."""
    from paperfeed.search import STOPWORDS

    db = lib.store.db
    since = db.query_one(
        "SELECT added_at FROM papers ORDER BY added_at DESC LIMIT 1 OFFSET ?", (arrivals,)
    )[0]
    window = db.query_one("SELECT count(*) FROM papers WHERE added_at > ?", (since,))[0]
    words: Counter[str] = Counter()
    for (title,) in db.query("SELECT title FROM papers ORDER BY random() LIMIT 20000"):
        words.update(w for w in title.lower().split() if w.isalpha() and len(w) > 3 and w not in STOPWORDS)
    vocab = [w for w, _ in words.most_common(400)]
    topics = sorted({" ".join(rng.sample(vocab, rng.choice((2, 2, 3)))) for _ in range(DISTINCT_TOPICS * 2)})
    topics = topics[:DISTINCT_TOPICS]
    with db.transaction() as tx:
        for table in ("digest_outbox", "subscriber_topics", "subscribers"):
            tx.execute(f"DELETE FROM {table}")
        for n in range(SUBSCRIBERS):
            sid = f"bench{n:06d}"
            tx.execute(
                "INSERT INTO subscribers (id, email, name, status, trending, frequency, created_at, "
                "confirmed_at, since) VALUES (?, ?, NULL, 'active', 1, 'weekdays', ?, ?, ?)",
                (sid, f"reader{n}@example.org", since, since, since),
            )
            for pos, topic in enumerate(rng.sample(topics, TOPICS_EACH)):
                tx.execute(
                    "INSERT INTO subscriber_topics (subscriber_id, position, topic) VALUES (?, ?, ?)",
                    (sid, pos, topic),
                )
    return since, window


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--home", default=str(ROOT / "data" / "home-digest"))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--arrivals", type=int, nargs="+", default=[2000, 20000])
    parser.add_argument("--day", default="2026-05-29")
    args = parser.parse_args()
    os.environ.setdefault("PAPERFEED_BASE_URL", "https://papers.example.org")

    import paperfeed
    from paperfeed.digest.outbox import Outbox

    day = date.fromisoformat(args.day)
    rng = random.Random(5)
    results = []
    with paperfeed.open(args.home) as lib:
        papers = lib.store.count()
        for arrivals in args.arrivals:
            compose_s, render_s, sizes, nonempty = [], [], [], []
            for _ in range(args.runs):
                since, window = setup(lib, arrivals, rng)
                t0 = time.perf_counter()
                composed, empty = lib.digests.compose(day)
                compose_s.append(time.perf_counter() - t0)
                rows = Outbox(lib.store.db).due(datetime.now().astimezone())
                subs = {s.id: s for s in lib.subscribers.list("active")}
                nonempty.append(sum(1 for r in rows if any(ids for _, ids in r.content.topics)))
                assert composed == SUBSCRIBERS, composed
                if render_s:  # rendering is slow and steady: measured on the first run only
                    continue
                t0 = time.perf_counter()
                total = 0
                for row in rows:
                    total += len(lib.digests.render(subs[row.subscriber_id], day, row.content,
                                                    row.message_id).as_bytes())
                render_s.append(time.perf_counter() - t0)
                sizes.append(total / max(len(rows), 1))
            # Baseline: a whole-store keyword search per subscriber and topic, on 100 subscribers.
            sample = list(subs.values())[:100]
            t0 = time.perf_counter()
            for sub in sample:
                for topic in sub.topics:
                    lib.search(topic, mode="keyword", limit=50)
            baseline_s = (time.perf_counter() - t0) * SUBSCRIBERS / len(sample)
            result = {
                "papers": papers, "subscribers": SUBSCRIBERS, "topics_each": TOPICS_EACH,
                "distinct_topics": DISTINCT_TOPICS, "arrivals_window": window, "day": args.day,
                "runs": args.runs, "compose_s": compose_s, "render_s": render_s,
                "compose_median_s": statistics.median(compose_s),
                "render_median_s": statistics.median(render_s),
                "compose_plus_render_median_s": statistics.median(compose_s) + statistics.median(render_s),
                "message_bytes_avg": round(statistics.mean(sizes)),
                "digests_with_topic_matches": statistics.median(nonempty),
                "baseline_per_subscriber_search_s_extrapolated": round(baseline_s, 1),
            }
            results.append(result)
            print(json.dumps(result), flush=True)
        with lib.store.db.transaction() as tx:  # leave the copy without the bench's subscribers
            for table in ("digest_outbox", "subscriber_topics", "subscribers"):
                tx.execute(f"DELETE FROM {table}")
    out = ROOT / "out" / "digest.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"machine": f"{platform.machine()}, {os.cpu_count()} cores, Python "
                               f"{sys.version.split()[0]}", "results": results}, indent=2))
    print("\n| arrivals window | compose (median) | render 10k messages | compose + render | "
          "baseline: a store search per subscriber·topic (extrapolated) |")
    print("|---|---|---|---|---|")
    for r in results:
        baseline = r["baseline_per_subscriber_search_s_extrapolated"]
        print(f"| {r['arrivals_window']:,} | {r['compose_median_s']:.1f} s | {r['render_median_s']:.1f} s | "
              f"{r['compose_plus_render_median_s']:.1f} s | {baseline:.0f} s |")


if __name__ == "__main__":
    main()
