"""What every harvest run shares: the per-source lock, the harvest log row, the report, and
writing source items to the store (through the importer, so merging and deletes behave exactly
as for files)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from paperfeed.harvest.http import FetchError, HttpClient
from paperfeed.harvest.locks import SourceLock, SourceLocked
from paperfeed.harvest.log import HarvestLog
from paperfeed.harvest.state import HarvestState
from paperfeed.importer import ChangeHook, FileReport, import_items
from paperfeed.sources.base import Rejected, SourceError, SourceItem
from paperfeed.store.base import Store

MAX_REJECTS_KEPT = 1_000

Progress = Callable[[int, "int | None"], None]
"""Called with (records seen so far, records expected in all when the source says, else None)."""


class HarvestAbort(Exception):
    """The harvest cannot go on (e.g. a response that stays unreadable); the message says why."""


@dataclass
class HarvestReport:
    source: str
    params: dict[str, Any]
    writes: FileReport = field(default_factory=lambda: FileReport(path="harvest"))
    records: int = 0
    requests: int = 0
    rejected_total: int = 0
    notes: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def rejected(self) -> list[Rejected]:
        return self.writes.rejected

    def summary(self) -> dict[str, int]:
        c = self.writes.counts
        return {
            "records": self.records,
            "imported": c.imported,
            "updated": c.updated,
            "unchanged": c.unchanged,
            "deleted": c.deleted,
            "rejected": self.rejected_total,
            "requests": self.requests,
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "params": self.params,
            "ok": self.ok,
            "counts": self.summary(),
            "notes": self.notes,
            "error": self.error,
            "rejected": [{"where": r.where, "reason": r.reason} for r in self.rejected],
        }


@dataclass
class HarvestContext:
    """What a harvester gets: where to write, how to fetch, where to keep state."""

    store: Store
    client: HttpClient
    state: HarvestState
    lock: SourceLock
    report: HarvestReport
    on_change: ChangeHook | None = None
    progress: Progress | None = None

    def write(self, items: Iterable[SourceItem], where: str) -> None:
        """Write one response's items; a rejected record is reported with where it was."""
        report = self.report

        def counted() -> Iterable[SourceItem]:
            for item in items:
                report.records += 1
                if isinstance(item, Rejected):
                    report.rejected_total += 1
                    if len(report.writes.rejected) >= MAX_REJECTS_KEPT:
                        continue
                    item = Rejected(f"{where}, {item.where}", item.reason)
                yield item

        import_items(self.store, counted(), report.writes, on_change=self.on_change)

    def note(self, message: str) -> None:
        self.report.notes.append(message)

    def tick(self, total: int | None = None) -> None:
        if self.progress is not None:
            self.progress(self.report.records, total)


Harvester = Callable[[HarvestContext], None]


def run_harvest(
    store: Store,
    client: HttpClient,
    source: str,
    params: dict[str, Any],
    harvester: Harvester,
    *,
    on_change: ChangeHook | None = None,
    progress: Progress | None = None,
) -> HarvestReport:
    """Run one harvest under the source's lock, logged. Never raises for a failed harvest: the
    report's `error` says why (and the log has it)."""
    db = store.db
    log = HarvestLog(db)
    report = HarvestReport(source, params)
    lock = SourceLock(db, source)
    try:
        lock.acquire()
    except SourceLocked as exc:
        report.error = str(exc)
        log.record_failure(source, params, report.error)
        return report
    try:
        log.mark_interrupted(source)
        entry = log.start(source, params)
        ctx = HarvestContext(store, client, HarvestState(db), lock, report, on_change, progress)
        requests_before = client.requests
        try:
            harvester(ctx)
        except (FetchError, SourceError, HarvestAbort, SourceLocked) as exc:
            report.error = str(exc)
        except KeyboardInterrupt:
            log.finish(entry, report.summary(), "interrupted (Ctrl-C)")
            raise
        except Exception as exc:  # a bug: logged as a failed harvest, then shown in full
            log.finish(entry, report.summary(), f"internal error: {exc!r}")
            raise
        finally:
            report.requests = client.requests - requests_before
        log.finish(entry, report.summary(), report.error)
    finally:
        lock.release()
    return report
