"""What every source shares: the item types it yields and the error it raises.

A source reads one outside format from a binary stream and yields `Paper` records, or `Rejected`
items for records it cannot use (with where they were: line or byte offset). It never raises for
one bad record; it raises `SourceError` only when the whole input is unusable (not this format,
empty, unreadable). A source knows nothing of storage.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO, Protocol

from paperfeed.records import Paper


@dataclass(frozen=True, slots=True)
class Rejected:
    """A record that was skipped. `where` is e.g. `line 12` or `byte 40960`."""

    where: str
    reason: str


@dataclass(frozen=True, slots=True)
class Deleted:
    """A record the source says no longer exists (an OAI-PMH header with `status="deleted"`).

    `id` is the arXiv id without version; the store decides what deleting means for it."""

    id: str


class SourceError(Exception):
    """The input as a whole cannot be read in this format."""


SourceItem = Paper | Rejected | Deleted


class Reader(Protocol):
    def __call__(self, stream: BinaryIO, name: str) -> Iterator[SourceItem]: ...
