"""Keyword search of common-word queries at scale: bm25 over the newest papers (before) against
newest-first matching without bm25 (after, `SQLiteStore._newest_matches`), side by side in one run
on the same store and the same queries.

A query of nothing but common words (each in more than 1 % of papers, e.g. "of the model") used to
be ranked with FTS5's bm25() among the newest 10,000 papers; bm25() reads the whole posting list
of every word to weigh it, whatever the rowid window, so such a query cost ~40 ms per very common
word at a million papers. Queries: 2-4 consecutive words of random titles (bench_import.py's).
The search cache is off; each query runs once per variant, variants interleaved.

    python benchmarks/bench_keyword_common.py --home benchmarks/data/home-1M [--queries 600]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from dataclasses import replace

from bench_import import realistic_queries

from paperfeed.config import Config
from paperfeed.library import Library
from paperfeed.search import query_terms
from paperfeed.store.sqlite import keyword as sqlite_store


def before(self, all_words: str, limit: int, filters) -> list[tuple[int, float]]:
    """The code this replaced: bm25 among the newest COMMON_WINDOW papers."""
    floor = max(0, self._max_rowid() - sqlite_store.COMMON_WINDOW)
    return self._ranked(all_words, limit, filters, min_rowid=floor) or []


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else values[0]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--home", required=True)
    ap.add_argument("--queries", type=int, default=600)
    args = ap.parse_args()
    lib = Library(replace(Config.from_env(home=args.home), search_cache=0))
    store = lib.store
    queries = realistic_queries(lib, args.queries)
    after_fn = sqlite_store.SQLiteKeyword._newest_matches
    common = [q for q in queries if store._selective(query_terms(q))[1]]  # type: ignore[attr-defined]
    print(f"{len(queries)} queries, {len(common)} of only common words; load {os.getloadavg()[0]:.2f}")
    for q in queries[:20]:
        lib.search(q, mode="keyword")
    times: dict[str, dict[str, list[float]]] = {"before": {"all": [], "common": []},
                                                 "after": {"all": [], "common": []}}
    for q in queries:
        for name, fn in (("before", before), ("after", after_fn)):
            sqlite_store.SQLiteKeyword._newest_matches = fn  # type: ignore[method-assign]
            started = time.perf_counter()
            lib.search(q, mode="keyword", limit=10)
            ms = (time.perf_counter() - started) * 1000
            times[name]["all"].append(ms)
            if q in common:
                times[name]["common"].append(ms)
    sqlite_store.SQLiteKeyword._newest_matches = after_fn  # type: ignore[method-assign]
    for name, t in times.items():
        print(f"{name:6s} all queries p50 {pct(t['all'], 50):6.1f} p90 {pct(t['all'], 90):6.1f} "
              f"p99 {pct(t['all'], 99):6.1f} ms, mean {statistics.mean(t['all']):5.1f} ms | "
              f"common-word queries p50 {pct(t['common'], 50):6.1f} p99 {pct(t['common'], 99):6.1f} ms")
    print(f"load after: {os.getloadavg()[0]:.2f}")
    lib.close()


if __name__ == "__main__":
    main()
