"""The personal library: per-user collections, notes, read marks, "not interested", the feed
token and the recommendations already sent, all in the portable feature tables (`store.db`), so
the same code runs on SQLite and PostgreSQL. The Library composes these with the recommendation
engine (`paperfeed.recommend`); nothing here knows of HTTP or the command line."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from paperfeed.accounts import EXPORT_SECTIONS, User
from paperfeed.errors import NotFound
from paperfeed.personal.collections import (
    Collection,
    Collections,
    Membership,
    SavedPaper,
    SavedSnapshot,
)
from paperfeed.personal.feedback import Feedback
from paperfeed.personal.importing import EntryReport, LibraryImport, import_into_collection
from paperfeed.personal.names import (
    MAX_COLLECTION_CHARS,
    MAX_NOTE_CHARS,
    check_collection_name,
    name_key,
)
from paperfeed.personal.settings import Settings
from paperfeed.personal.tokens import FeedTokens
from paperfeed.store.db import Database

__all__ = [
    "MAX_COLLECTION_CHARS",
    "MAX_NOTE_CHARS",
    "Collection",
    "Collections",
    "EntryReport",
    "FeedTokens",
    "Feedback",
    "LibraryImport",
    "LibrarySnapshot",
    "Membership",
    "Personal",
    "SavedPaper",
    "Settings",
    "check_collection_name",
    "import_into_collection",
]


@dataclass
class LibrarySnapshot:
    """What recommending from a user's stored library reads, read once for several requests in
    a row (the digest's For you sections, one per collection): the collections, every saved
    paper, the dismissals and the papers already sent."""

    user_id: str
    collections: list[Collection]
    saved: SavedSnapshot
    dismissed: set[str]
    sent: set[str]

    def collection(self, name: str) -> Collection:
        key = name_key(name)
        for c in self.collections:
            if name_key(c.name) == key:
                return c
        raise NotFound(f"no collection named {check_collection_name(name)!r}")


class Personal:
    """The personal-library services over one database (`lib.personal`)."""

    def __init__(self, db: Database) -> None:
        self.collections = Collections(db)
        self.feedback = Feedback(db)
        self.tokens = FeedTokens(db)
        self.settings = Settings(db)

    def snapshot(self, user_id: str) -> LibrarySnapshot:
        return LibrarySnapshot(
            user_id, self.collections.of_user(user_id), self.collections.saved_snapshot(user_id),
            self.feedback.dismissed_ids(user_id), self.feedback.sent_ids(user_id),
        )


def _export(db: Database, user: User) -> dict[str, Any]:
    """The user's library in their data export (`Accounts.export`)."""
    collections = Collections(db)
    feedback = Feedback(db)
    members = collections.memberships(user.id)
    notes = db.query(
        "SELECT paper_id, note, updated_at FROM paper_notes WHERE user_id = ? ORDER BY paper_id", (user.id,)
    )
    reads = db.query(
        "SELECT paper_id, read_at FROM paper_reads WHERE user_id = ? ORDER BY paper_id", (user.id,)
    )
    return {
        "collections": [
            {"name": c.name, "created_at": c.created_at, "papers": collections.saved_ids(user.id, c.name)}
            for c in collections.of_user(user.id)
        ],
        "saved": [{"paper_id": m.paper_id, "added_at": m.added_at} for m in members],
        "notes": [{"paper_id": r[0], "note": r[1], "updated_at": r[2]} for r in notes],
        "read": [{"paper_id": r[0], "read_at": r[1]} for r in reads],
        "dismissed": [{"paper_id": pid, "dismissed_at": at} for pid, at in feedback.dismissed(user.id)],
    }


EXPORT_SECTIONS.append(("library", _export))
