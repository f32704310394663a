"""Daily jobs for `paperfeed serve --schedule`: each run once a day at a time of day (UTC), in one
background thread of the serving process.

The jobs themselves (harvests, digests: they open the Library) are the command line's, in
`paperfeed.cli.jobs`. A job that raises is logged and runs again the next day; it never stops
the scheduler or the server. Overlap across processes is the job's own business (harvests take a
per-source lock).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from paperfeed.errors import InvalidInput

log = logging.getLogger("paperfeed.schedule")


@dataclass(frozen=True)
class Job:
    name: str
    at: time  # UTC time of day
    run: Callable[[], object]


def parse_time_of_day(text: str, what: str = "time of day") -> time:
    """`HH:MM` (UTC) → time."""
    try:
        hours, minutes = text.strip().split(":")
        return time(int(hours), int(minutes), tzinfo=UTC)
    except (ValueError, AttributeError):
        raise InvalidInput(f"{what} must be HH:MM (UTC), not {str(text)[:20]!r}") from None


def next_run(at: time, now: datetime) -> datetime:
    """The first moment at or after `now` whose UTC time of day is `at`."""
    today = datetime.combine(now.astimezone(UTC).date(), at.replace(tzinfo=None), tzinfo=UTC)
    return today if today >= now else today + timedelta(days=1)


class Scheduler:
    """Runs each job daily at its time. `start()` spawns a daemon thread; `stop()` ends it."""

    def __init__(self, jobs: list[Job], clock: Callable[[], datetime] = lambda: datetime.now(UTC)):
        self.jobs = jobs
        self._clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        now = clock()
        self.due = {job.name: next_run(job.at, now) for job in jobs}

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="paperfeed-scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def run_pending(self) -> list[str]:
        """Run every job that is due now; returns their names."""
        ran = []
        for job in self.jobs:
            now = self._clock()
            if self.due[job.name] <= now:
                self.due[job.name] = next_run(job.at, now + timedelta(seconds=1))
                ran.append(job.name)
                try:
                    log.info("running scheduled job %s", job.name)
                    job.run()
                except Exception:
                    log.exception("scheduled job %s failed", job.name)
        return ran

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.run_pending()
            if not self.due:
                return
            wait = (min(self.due.values()) - self._clock()).total_seconds()
            self._stop.wait(timeout=min(max(wait, 0.05), 60.0))
