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


class TooLarge(SourceError):
    """The input (a document, or a snapshot's first record) is over a size limit: refused before
    it is held in memory, so a decompression bomb costs at most the limit."""


@dataclass(frozen=True, slots=True)
class Limits:
    """How much of an input a source holds in memory at once (decompressed bytes). The caller
    sets them from its configuration (`PAPERFEED_MAX_RECORD_BYTES`,
    `PAPERFEED_MAX_DOCUMENT_BYTES`)."""

    record_bytes: int = 16 * 1024 * 1024  # one line of a JSON-lines snapshot
    document_bytes: int = 256 * 1024 * 1024  # one whole document (JSON, XML, BibTeX, a page)


DEFAULT_LIMITS = Limits()


SourceItem = Paper | Rejected | Deleted


class Reader(Protocol):
    def __call__(
        self, stream: BinaryIO, name: str, limits: Limits = DEFAULT_LIMITS
    ) -> Iterator[SourceItem]: ...
