"""The store interface every backend implements (`store.sqlite`, `store.postgres`; the SQL they
share is `store.common`).

The store persists `Paper` records and answers the queries the services need. It knows nothing of
HTTP or of the command line, and nothing of how a user's query text becomes search terms (that is
`search.py`): it receives already-tokenised terms.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, ClassVar, Literal

from paperfeed.records import Paper
from paperfeed.store.db import Database


@dataclass(frozen=True, slots=True)
class Filters:
    """Filters that apply to every search mode. Dates compare against the paper's day
    (submitted to daily, else published)."""

    since: date | None = None
    until: date | None = None
    category: str | None = None
    organization: str | None = None
    author: str | None = None
    min_upvotes: int | None = None

    @property
    def empty(self) -> bool:
        return all(getattr(self, f) is None for f in self.__slots__)


@dataclass(slots=True)
class UpsertCounts:
    imported: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    changed_ids: list[str] = field(default_factory=list)  # inserted or updated, for re-indexing

    def add(self, other: UpsertCounts) -> None:
        """Add up the counts (ids are per batch and not accumulated, to keep memory flat)."""
        self.imported += other.imported
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.deleted += other.deleted


@dataclass(slots=True)
class ImportLogEntry:
    source: str
    started_at: datetime
    finished_at: datetime | None
    counts: dict[str, int] = field(default_factory=dict)
    error: str | None = None


def topped_up(
    found: list[tuple[int, float]], extra: list[tuple[int, float]], limit: int
) -> list[tuple[int, float]]:
    """`found` (all-words matches, best first) filled up to `limit` from `extra` (any-word
    matches), each added one ranked below every all-words match and none twice."""
    seen = {key for key, _ in found}
    floor_score = min((s for _, s in found), default=0.0)
    out = list(found)
    for key, score in extra:
        if key not in seen and len(out) < limit:
            out.append((key, min(score, floor_score - 1e-6) if seen else score))
    return out


class Store(ABC):
    """Persistence for papers. Every write method is atomic: it either happens whole or not at all."""

    concurrent_reads: ClassVar[bool] = False
    """Whether two reads from different threads run at once on the server (a connection pool),
    so a caller gains by overlapping independent reads (hybrid search's two sides)."""

    @abstractmethod
    def upsert(self, papers: Sequence[Paper]) -> UpsertCounts:
        """Insert or merge papers (see `store.merge`) in one transaction."""

    @abstractmethod
    def delete(self, ids: Iterable[str]) -> int:
        """Remove papers by id; returns how many existed."""

    @abstractmethod
    def get(self, paper_id: str) -> Paper | None: ...

    @abstractmethod
    def get_many(self, paper_ids: Sequence[str]) -> dict[str, Paper]: ...

    def titles_of(self, paper_ids: Sequence[str]) -> dict[str, str]:
        """id -> title of the papers that exist among `paper_ids` (a backend may answer without
        reading whole papers)."""
        return {pid: p.title for pid, p in self.get_many(paper_ids).items()}

    def title_key_owners(self, keys: Sequence[str]) -> set[tuple[str, str]]:
        """(title key, paper id) of every paper whose title key is among `keys` (a backend
        answers from its title-key index, reading no paper row)."""
        return {(key, p.id) for key in dict.fromkeys(keys) for p in self.find_by_title_key(key)}

    def texts_of(self, paper_ids: Sequence[str]) -> dict[str, tuple[str, str]]:
        """id -> (title, abstract) of the papers that exist among `paper_ids` (a backend may
        answer without reading whole papers)."""
        return {pid: (p.title, p.abstract) for pid, p in self.get_many(paper_ids).items()}

    @abstractmethod
    def find_by_title_key(self, key: str) -> list[Paper]: ...

    @abstractmethod
    def keyword_search(
        self,
        terms: Sequence[str],
        *,
        limit: int = 10,
        filters: Filters = Filters(),
    ) -> list[tuple[Paper, float]]:
        """Papers matching the terms (each a plain word, already free of query syntax), best
        first, with a keyword score where higher is better: papers with every word first, then
        papers with any of them to fill the list. Backends may bound the work per query."""

    @abstractmethod
    def keyword_keys(
        self, terms: Sequence[str], *, limit: int = 10, filters: Filters = Filters()
    ) -> list[tuple[int, float]]:
        """`keyword_search` as (key, score), the key being the integer the store and the vector
        index know a paper by (SQLite rowid, PostgreSQL pk): for hybrid search, which fuses them
        with vector keys and fetches only the papers it keeps (`get_by_keys`)."""

    def term_fractions(self, terms: Sequence[str]) -> dict[str, float] | None:
        """The fraction of papers whose keyword index holds each word (a word in none: a small
        smoothed fraction or 0), for weighing query words by rarity; None when the backend cannot
        tell cheaply."""
        return None

    @abstractmethod
    def get_by_keys(self, keys: Sequence[int]) -> dict[int, Paper]:
        """Papers by their keys (see `keyword_keys`); unknown keys are left out."""

    @abstractmethod
    def papers_between(
        self, start: date, end: date, *, limit: int | None = None, offset: int = 0
    ) -> list[Paper]:
        """Papers whose day lies in [start, end], most upvoted first."""

    @abstractmethod
    def papers_undated(self, *, limit: int = 50, offset: int = 0) -> list[Paper]:
        """Papers with no day (neither submitted to daily nor published known), most upvoted
        first: they are on no day's list."""

    @abstractmethod
    def latest_day(self, on_or_before: date | None = None) -> date | None: ...

    @abstractmethod
    def adjacent_day(self, day: date, direction: Literal[-1, 1]) -> date | None:
        """The nearest earlier (-1) or later (+1) day that has papers."""

    @abstractmethod
    def count(self) -> int: ...

    @abstractmethod
    def stats(self) -> dict[str, Any]: ...

    @abstractmethod
    def log_import(self, entry: ImportLogEntry) -> None: ...

    @abstractmethod
    def import_log(self, limit: int = 10) -> list[ImportLogEntry]: ...

    @property
    @abstractmethod
    def db(self) -> Database:
        """Portable SQL access for the feature tables (users, votes, subscriptions, ...)."""

    @abstractmethod
    def get_meta(self, key: str) -> str | None: ...

    @abstractmethod
    def set_meta(self, key: str, value: str) -> None: ...

    @abstractmethod
    def papers_matching(self, filters: Filters, *, limit: int = 50, offset: int = 0) -> list[Paper]:
        """Papers passing the filters, newest day first (organization and author pages)."""

    @abstractmethod
    def papers_added_between(
        self, after: str, until: str, *, limit: int = 10_000
    ) -> list[tuple[Paper, str]]:
        """Papers that arrived in the store (`added_at`, ISO UTC) in (after, until], newest
        first, with their arrival time: the candidates of an email digest."""

    def after_import(self) -> None:  # noqa: B027 - a hook backends may leave empty
        """Maintenance after an import (e.g. refreshing search statistics); none by default."""

    def begin_bulk(self) -> None:  # noqa: B027
        """A large load into an empty store begins: a backend may defer index upkeep."""

    def end_bulk(self) -> None:  # noqa: B027
        """The large load ended: bring deferred indexes up to date."""

    def heal(self) -> bool:
        """Finish index work a killed bulk load left undone; True when there was some."""
        return False

    def change_token(self) -> Any:
        """A cheap value that changes whenever the stored data may have changed (committed by
        anyone); None when the backend cannot tell, and then nothing is cached (see
        `paperfeed.search_cache`)."""
        return None

    @abstractmethod
    def close(self) -> None: ...
