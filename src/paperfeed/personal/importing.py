"""Importing a reference manager's file into a collection: the entries are read by the ordinary
source readers (`paperfeed.sources`, format detected by content), matched to the store
(`matching`), the unmatched ones imported as papers the usual way (`importer.import_items`), and
all of them put in the collection in one transaction. The report tells each entry's fate and place
(`line N` where the reader knows it, else `entry N`, counting from 1)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from paperfeed.errors import InvalidInput
from paperfeed.importer import FileReport, UnreadableInput, import_items, read_records
from paperfeed.personal.collections import Collections
from paperfeed.personal.matching import match, with_arxiv_id
from paperfeed.personal.names import check_collection_name
from paperfeed.records import Paper, title_key
from paperfeed.sources.base import Deleted, Rejected, SourceError
from paperfeed.store.base import Store

MAX_IMPORT_BYTES = 64 * 2**20
"""Larger files are refused: a reference library this big is a bulk load for `paperfeed import`."""

Status = Literal["matched", "added", "duplicate", "rejected"]


@dataclass(slots=True)
class EntryReport:
    where: str
    status: Status
    paper_id: str | None = None
    title: str | None = None
    matched_by: str | None = None  # arxiv | doi | title, for matched entries
    reason: str | None = None  # why rejected, or which entry a duplicate repeats


@dataclass
class LibraryImport:
    collection: str
    format: str
    entries: list[EntryReport] = field(default_factory=list)

    def _with(self, status: Status) -> list[EntryReport]:
        return [e for e in self.entries if e.status == status]

    @property
    def matched(self) -> list[EntryReport]:
        return self._with("matched")

    @property
    def added(self) -> list[EntryReport]:
        return self._with("added")

    @property
    def duplicates(self) -> list[EntryReport]:
        return self._with("duplicate")

    @property
    def rejected(self) -> list[EntryReport]:
        return self._with("rejected")

    def summary(self) -> dict[str, int]:
        return {
            "matched": len(self.matched),
            "added": len(self.added),
            "duplicates": len(self.duplicates),
            "rejected": len(self.rejected),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "collection": self.collection,
            "format": self.format,
            **self.summary(),
            "entries": [asdict(e) for e in self.entries],
        }


def import_into_collection(
    store: Store,
    collections: Collections,
    user_id: str,
    path: Path,
    collection: str,
    *,
    on_change: Callable[[list[str]], None] | None = None,
) -> LibraryImport:
    name = check_collection_name(collection)
    if not path.is_file():
        raise InvalidInput(f"{path}: no such file")
    if path.stat().st_size > MAX_IMPORT_BYTES:
        raise InvalidInput(
            f"{path.name}: larger than {MAX_IMPORT_BYTES // 2**20} MB; load it with `paperfeed import`"
        )
    try:
        fmt, stream, items = read_records(path, None)
        with stream:
            read = list(items)
    except (UnreadableInput, SourceError, OSError) as exc:
        raise InvalidInput(str(exc) if str(path) in str(exc) else f"{path.name}: {exc}") from None
    report = LibraryImport(collection=name, format=fmt)
    papers: list[tuple[int, Paper]] = []
    for number, item in enumerate(read, start=1):
        if isinstance(item, Rejected):
            report.entries.append(EntryReport(item.where, "rejected", reason=item.reason))
        elif isinstance(item, Paper):
            paper = with_arxiv_id(item)
            report.entries.append(EntryReport(f"entry {number}", "added", paper.id, paper.title))
            papers.append((len(report.entries) - 1, paper))
        elif isinstance(item, Deleted):
            report.entries.append(EntryReport(f"entry {number}", "rejected", reason="a deletion record"))
    found = match(store, [p for _, p in papers])
    first_of: dict[str, str] = {}
    new: list[Paper] = []
    new_keys: set[str] = set()
    for (index, paper), hit in zip(papers, found, strict=True):
        entry = report.entries[index]
        if hit is not None:
            entry.paper_id, entry.matched_by = hit
            entry.status = "matched"
        elif paper.id in first_of or title_key(paper.title) in new_keys:
            entry.status = "duplicate"
        else:
            new.append(paper)
            new_keys.add(title_key(paper.title))
        pid = entry.paper_id or paper.id
        if pid in first_of and entry.status != "duplicate":
            entry.status, entry.matched_by = "duplicate", None
        if entry.status == "duplicate":
            entry.reason = f"the same paper as {first_of.get(pid, 'an earlier entry')}"
        else:
            first_of[pid] = entry.where
    if new:
        import_items(store, new, FileReport(path=str(path)), on_change=on_change)
        store.after_import()
    ids = [e.paper_id for e in report.entries if e.status in ("matched", "added") and e.paper_id]
    present = store.get_many(ids)
    for e in report.entries:
        if e.status == "added" and e.paper_id not in present:  # merged into another record
            same = store.find_by_title_key(title_key(e.title or ""))
            if same:
                e.paper_id = same[0].id
            else:
                e.status, e.reason = "rejected", "the store did not keep it"
    keep = [e.paper_id for e in report.entries if e.status in ("matched", "added") and e.paper_id]
    if keep:  # a file of rejected entries only leaves no empty collection behind
        collections.add(user_id, name, keep)
    return report
