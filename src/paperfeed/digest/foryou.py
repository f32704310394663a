"""The digest's "For you" sections, as the digest sees them: a provider the Library plugs in
(`paperfeed.personal.digest`), so this package knows nothing of collections or the
recommendation engine, and no import circle forms."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from paperfeed.store.db import Transaction


@dataclass
class PersonalPart:
    """What a subscriber's account adds to a digest: the papers they dismissed (left out of
    every section) and, per chosen collection, (collection name, [(paper id, reasons)])."""

    user_id: str | None = None
    hidden: set[str] = field(default_factory=set)
    sections: list[tuple[str, list[tuple[str, list[str]]]]] = field(default_factory=list)


class ForYou(Protocol):
    def prepare(self) -> None:
        """Before a run composes (in the sending process, which alone writes): bring what the
        sections read up to date (the stored analyses of saved papers)."""
        ...

    def hidden(self, email: str) -> tuple[str | None, set[str]]:
        """The account with this address (its id, or None) and the papers it dismissed."""
        ...

    def sections(
        self, user_id: str, exclude: set[str], among: Sequence[str] | None = None
    ) -> list[tuple[str, list[tuple[str, list[str]]]]]:
        """The For you sections of the user's chosen collections, none of `exclude`; with
        `among`, recommended from those papers only (the digest's new arrivals, newest first)."""
        ...

    def record(self, tx: Transaction, user_id: str, paper_ids: Iterable[str]) -> None:
        """Mark recommendations sent, inside the outbox's transaction (exactly once)."""
        ...
