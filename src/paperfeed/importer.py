"""Reading files into the store: open (plain or gzip), detect the format, stream records from a
source, write them in batches. Each batch is one transaction, and merging is idempotent, so an
import killed at any moment and run again ends with the same store as an uninterrupted one."""

from __future__ import annotations

import gc
import gzip
import io
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from paperfeed.records import Paper
from paperfeed.sources import FORMATS, detect_format
from paperfeed.sources.base import Deleted, Limits, Rejected, SourceError, SourceItem, TooLarge
from paperfeed.store.base import ImportLogEntry, Store, UpsertCounts

BATCH_SIZE = 2_000
SNIFF_BYTES = 64 * 1024

Progress = Callable[[int], None]
"""Called with the number of input bytes consumed since the last call."""
ChangeHook = Callable[[list[str]], object]
"""Called after each batch with the ids it inserted or changed (e.g. to embed them); what it
returns is ignored."""


class UnreadableInput(Exception):
    """An input that cannot be imported at all (missing, unreadable, unknown format)."""


@dataclass
class FileReport:
    path: str
    format: str | None = None
    counts: UpsertCounts = field(default_factory=UpsertCounts)
    rejected: list[Rejected] = field(default_factory=list)
    error: str | None = None
    too_large: bool = False  # refused for a size limit (a decompression bomb, or a huge record)


@dataclass
class ImportReport:
    files: list[FileReport] = field(default_factory=list)

    @property
    def counts(self) -> UpsertCounts:
        total = UpsertCounts()
        for f in self.files:
            total.add(f.counts)
        return total

    @property
    def rejected(self) -> int:
        return sum(len(f.rejected) for f in self.files)

    @property
    def failed(self) -> list[FileReport]:
        return [f for f in self.files if f.error]

    def summary(self) -> dict[str, int]:
        c = self.counts
        return {
            "imported": c.imported,
            "updated": c.updated,
            "unchanged": c.unchanged,
            "deleted": c.deleted,
            "rejected": self.rejected,
            "failed_files": len(self.failed),
        }


class _CountingReader(io.RawIOBase):
    """Counts the bytes read from the underlying file, for the progress bar."""

    def __init__(self, raw: BinaryIO, progress: Progress | None) -> None:
        self._raw = raw
        self._progress = progress

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        n = self._raw.readinto(buffer)  # type: ignore[attr-defined]
        if n and self._progress:
            self._progress(n)
        return n or 0


def open_input(path: Path, progress: Progress | None = None) -> BinaryIO:
    """Open a file for a source: transparently gunzipped, buffered, progress counted."""
    raw = open(path, "rb")  # noqa: SIM115 - returned to the caller, who closes it
    counted = io.BufferedReader(_CountingReader(raw, progress), buffer_size=1 << 20)
    if raw.read(2) == b"\x1f\x8b":
        raw.seek(0)
        return gzip.GzipFile(fileobj=counted, mode="rb")  # type: ignore[return-value]
    raw.seek(0)
    return counted


def sniff(path: Path, max_line: int = Limits().record_bytes) -> tuple[bytes, bool]:
    """The first bytes of a file's content (decompressed when gzipped), and whether a damaged
    .gz cut them short (what came before the cut is still returned). About 64 KB; when the
    content starts with a JSON object whose line is longer, up to the end of that line (at most
    `max_line` bytes), so the line can be parsed. Inflated a MiB at a time: bounded memory."""
    out = bytearray()
    cut = False

    def enough() -> bool:
        if len(out) < SNIFF_BYTES:
            return False
        json_lines = out[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"{"
        return not json_lines or b"\n" in out or len(out) > max_line

    with open(path, "rb") as raw:
        gz = raw.read(2) == b"\x1f\x8b"
        raw.seek(0)
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        while not enough():
            block = raw.read(1 << 16)
            if not block:
                cut = gz and not inflater.eof
                break
            if not gz:
                out += block
                continue
            try:
                while block and not enough():
                    out += inflater.decompress(block, 1 << 20)
                    block = inflater.unconsumed_tail
                    if inflater.eof:  # a multi-member .gz: go on with the next member
                        block = inflater.unused_data + block
                        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
            except zlib.error:
                cut = True
                break
    return bytes(out), cut


def read_records(
    path: Path, fmt: str | None, progress: Progress | None = None, limits: Limits | None = None
) -> tuple[str, BinaryIO, Iterator[SourceItem]]:
    """(format, the open input, iterator of source items) for one file."""
    limits = limits or Limits()
    if not path.exists():
        raise UnreadableInput(f"{path}: no such file")
    if path.is_dir():
        raise UnreadableInput(f"{path}: is a directory")
    if fmt is None or fmt == "auto":
        head, cut = sniff(path, limits.record_bytes)
        if cut and not head.strip():
            raise UnreadableInput(f"{path}: truncated or corrupt gzip data")
        if not head.strip():
            raise UnreadableInput(f"{path}: empty file")
        try:
            fmt = detect_format(head, str(path))
        except SourceError as exc:
            if cut:  # what little came before the damage did not tell
                raise UnreadableInput(f"{path}: truncated or corrupt gzip data") from exc
            raise UnreadableInput(str(exc)) from exc
    if fmt not in FORMATS:
        raise UnreadableInput(f"unknown format {fmt!r}; choose from {', '.join(sorted(FORMATS))}")
    stream = open_input(path, progress)
    return fmt, stream, FORMATS[fmt](stream, str(path), limits)


def import_items(
    store: Store,
    items: Iterable[Paper | Rejected | Deleted],
    report: FileReport,
    *,
    on_change: ChangeHook | None = None,
    batch_size: int = BATCH_SIZE,
) -> None:
    """Write a stream of source items to the store in batches of one transaction each."""
    batch: list[Paper] = []

    def flush() -> None:
        if batch:
            counts = store.upsert(batch)
            report.counts.add(counts)
            if on_change is not None and counts.changed_ids:
                on_change(counts.changed_ids)
            batch.clear()

    for item in items:
        if isinstance(item, Paper):
            batch.append(item)
            if len(batch) >= batch_size:
                flush()
        elif isinstance(item, Rejected):
            report.rejected.append(item)
        elif isinstance(item, Deleted):
            flush()
            report.counts.deleted += store.delete([item.id])
    flush()


@contextmanager
def fewer_gc_passes() -> Iterator[None]:
    """An import allocates millions of short-lived objects (records, rows) that reference
    counting frees, since they hold no cycles; the cyclic collector's passes over them, every
    700 allocations by default, cost ~5 % of a bulk import. Run it a hundred times less often
    meanwhile (memory stays bounded: a pass still comes every 100,000 allocations)."""
    old = gc.get_threshold()
    gc.set_threshold(max(old[0], 100_000), *old[1:])
    try:
        yield
    finally:
        gc.set_threshold(*old)


def import_files(
    store: Store,
    paths: Iterable[Path | str],
    fmt: str | None = None,
    *,
    progress: Progress | None = None,
    on_change: ChangeHook | None = None,
    bulk_min_bytes: int | None = None,
    limits: Limits | None = None,
) -> ImportReport:
    """Import every file; a file that cannot be read at all is reported and the rest go on.

    A large load into an empty store (`bulk_min_bytes`) leaves keyword indexing to the store's
    bulk mode (SQLite: built on the other core while the load goes on); a killed bulk load is
    finished by the next import."""
    with fewer_gc_passes():
        return _import_files(store, paths, fmt, progress, on_change, bulk_min_bytes, limits)


def _import_files(
    store: Store,
    paths: Iterable[Path | str],
    fmt: str | None,
    progress: Progress | None,
    on_change: ChangeHook | None,
    bulk_min_bytes: int | None,
    limits: Limits | None = None,
) -> ImportReport:
    report = ImportReport()
    files = [Path(p) for p in paths]
    store.heal()
    size = sum(p.stat().st_size for p in files if p.is_file())
    bulk = bulk_min_bytes is not None and size >= bulk_min_bytes and store.count() == 0
    if bulk:
        store.begin_bulk()
    for p in files:
        path = Path(p)
        file_report = FileReport(path=str(path))
        report.files.append(file_report)
        started = datetime.now(UTC)
        try:
            file_report.format, stream, items = read_records(path, fmt, progress, limits)
            with stream:
                import_items(store, items, file_report, on_change=on_change)
        except (UnreadableInput, SourceError, OSError) as exc:
            file_report.too_large = isinstance(exc, TooLarge)
            file_report.error = str(exc) if str(path) in str(exc) else f"{path}: {exc}"
        store.log_import(
            ImportLogEntry(
                source=f"import:{file_report.format or fmt or 'auto'}:{path.name}",
                started_at=started,
                finished_at=datetime.now(UTC),
                counts={
                    "imported": file_report.counts.imported,
                    "updated": file_report.counts.updated,
                    "unchanged": file_report.counts.unchanged,
                    "rejected": len(file_report.rejected),
                },
                error=file_report.error,
            )
        )
    if bulk:
        store.end_bulk()
    store.after_import()
    return report
