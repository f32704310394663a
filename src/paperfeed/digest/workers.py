"""Composing a send run's digests in worker processes (one per core): choosing papers, the For
you sections above all, is CPU work in Python, so one process uses one core.

Composing only reads. Each worker opens the store itself (its own connections, index and caches)
and builds the run's `Composer` from the same day, arrivals window and clock as the sending
process, so a digest has the same papers, in the same order, whichever process chose it (the
terms a reason names may differ where two terms weigh exactly the same: term ids are Python's
per-process string hashes, and ties keep id order). The workers hand the contents back;
the sending process alone writes them into the outbox (with the For-you papers recorded as sent
in the same transaction) and sends. So exactly-once is the outbox's rule as with one process: a
killed run loses only digests not enqueued yet, which the next run composes, and a digest
enqueued is sent once. A worker whose parent died stops at once (it could write nothing anyway).
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from threadpoolctl import threadpool_limits

from paperfeed.digest.compose import Composer, DigestContent

if TYPE_CHECKING:
    from paperfeed.config import Config
    from paperfeed.digest.send import Digests
    from paperfeed.digest.subscriptions import Subscriber

# How a worker gets its own `Digests` over the configuration: a module-level function of the
# layer that builds the whole stack (the Library's), handed in by name, so this package needs no
# import of it (spawned workers unpickle it by its qualified name).
OpenDigests = Callable[["Config"], "Digests"]

BATCH = 20  # subscribers per task: small enough to share the work evenly between workers
AUTO_MAX = 4  # the default: one worker per core, at most this many
AUTO_MIN_DIGESTS = 200  # the default starts workers only for a run this large (start-up ~ seconds)


class WorkerFailed(Exception):
    """A composing worker died (killed, out of memory): the digests enqueued so far stand (how
    many, and of which empty: `composed`, `empty`, set by the composing run), the rest are
    composed by the next run."""

    composed = 0
    empty = 0


@dataclass(frozen=True)
class Job:
    """One digest to compose: the subscriber, the cutoff of its last digest, the papers already
    sent to it."""

    sub: Subscriber
    since: str
    sent: frozenset[str]


def workers_for(requested: int | None, digests: int) -> int:
    """How many worker processes compose `digests` digests: `requested` (1: none, the sending
    process composes), or by default one per core (at most `AUTO_MAX`) for a run of at least
    `AUTO_MIN_DIGESTS`, else none."""
    if requested is not None:
        return max(1, min(requested, digests))
    if digests < AUTO_MIN_DIGESTS:
        return 1
    return max(1, min(os.cpu_count() or 1, AUTO_MAX))


# -- in the worker ----------------------------------------------------------------------------

_STATE: dict[str, Any] = {}


def _watch_parent(parent: int) -> None:
    """Exit when the sending process is gone (killed): nothing this worker composes could be
    written any more."""
    while True:
        if os.getppid() != parent:
            os._exit(3)
        time.sleep(0.5)


def _start(open_digests: OpenDigests, config: Config, day: date, after: str, now: datetime,
           parent: int) -> None:
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
    # one worker per core: numpy's BLAS threads would only compete with the other workers
    _STATE["threads"] = threadpool_limits(1)
    digests = open_digests(config)
    _STATE["digests"] = digests
    _STATE["composer"] = Composer(digests.store, digests.accounts, day, after, now)


def _compose(jobs: Sequence[Job]) -> list[tuple[str, str, str | None]]:
    digests, composer = _STATE["digests"], _STATE["composer"]
    out = []
    for job in jobs:
        content, user_id = digests.choose_for(composer, job.sub, job.since, set(job.sent))
        out.append((job.sub.id, content.to_json(), user_id))
    return out


# -- in the sending process -------------------------------------------------------------------


def compose_in_workers(
    open_digests: OpenDigests, config: Config, day: date, after: str, now: datetime,
    jobs: Sequence[Job], workers: int,
) -> Iterator[list[tuple[str, DigestContent, str | None]]]:
    """The digests of `jobs`, composed by `workers` processes (each with `open_digests(config)`),
    yielded a batch at a time as they are done (in no particular order): (subscriber id,
    content, account id or None)."""
    context = multiprocessing.get_context("spawn")  # a fresh interpreter: no inherited threads
    batches = [jobs[i:i + BATCH] for i in range(0, len(jobs), BATCH)]
    with ProcessPoolExecutor(
        workers, mp_context=context, initializer=_start,
        initargs=(open_digests, config, day, after, now, os.getpid()),
    ) as pool:
        pending: set[Future[list[tuple[str, str, str | None]]]] = {
            pool.submit(_compose, batch) for batch in batches
        }
        try:
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    try:
                        found = future.result()
                    except BrokenProcessPool as exc:
                        raise WorkerFailed(f"a worker composing the digests died ({exc})") from None
                    yield [(sid, DigestContent.from_json(text), uid) for sid, text, uid in found]
        finally:
            for future in pending:
                future.cancel()
