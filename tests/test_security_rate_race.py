"""Rate limits under real concurrency: many requests at once against one key admit exactly the
limit, on SQLite and on PostgreSQL (where READ COMMITTED transactions that count and then insert
used to let every request in flight through)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from paperfeed import ratelimit
from paperfeed.library import Library

THREADS = 10  # PostgreSQL: the store's pool holds 10 connections, so all are in flight at once
REQUESTS = 120
LIMIT = 7


def _race(lib: Library, rule: ratelimit.Rule, key: str) -> int:
    """REQUESTS calls of `allow` from THREADS threads released together; how many were admitted."""
    start = threading.Barrier(THREADS)

    def worker(n: int) -> int:
        limiter = ratelimit.RateLimiter(lib.store.db)
        start.wait()
        return sum(limiter.allow(rule, key) for _ in range(n))

    share = [REQUESTS // THREADS] * THREADS
    with ThreadPoolExecutor(THREADS) as pool:
        return sum(pool.map(worker, share))


def test_concurrent_requests_admit_exactly_the_limit(any_lib: Library) -> None:
    rule = ratelimit.Rule("race", LIMIT, timedelta(hours=1), "slow down")
    for attempt in range(3):  # three fresh keys: one lucky interleaving proves nothing
        assert _race(any_lib, rule, f"k{attempt}") == LIMIT
    limiter = ratelimit.RateLimiter(any_lib.store.db)
    assert limiter.exhausted(rule, "k0")
    assert not limiter.exhausted(rule, "fresh")
    assert limiter.allow(rule, "fresh")


def test_a_window_that_has_passed_admits_again(any_lib: Library) -> None:
    rule = ratelimit.Rule("window", 2, timedelta(minutes=10), "slow down")
    limiter = ratelimit.RateLimiter(any_lib.store.db)
    t0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert [limiter.allow(rule, "k", now=t0 + timedelta(minutes=m)) for m in (0, 1, 2)] == [True, True, False]
    assert limiter.exhausted(rule, "k", now=t0 + timedelta(minutes=9))
    assert not limiter.exhausted(rule, "k", now=t0 + timedelta(minutes=11))
    later = [limiter.allow(rule, "k", now=t0 + timedelta(minutes=m)) for m in (11, 12, 13)]
    assert later == [True, True, False]
