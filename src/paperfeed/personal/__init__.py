"""The personal library: per-user collections, notes, read marks, "not interested", the feed
token and the recommendations already sent, all in the portable feature tables (`store.db`), so
the same code runs on SQLite and PostgreSQL. The Library composes these with the recommendation
engine (`paperfeed.recommend`); nothing here knows of HTTP or the command line."""

from __future__ import annotations

from paperfeed.personal.collections import Collection, Collections, Membership, SavedPaper
from paperfeed.personal.feedback import Feedback
from paperfeed.personal.importing import EntryReport, LibraryImport, import_into_collection
from paperfeed.personal.names import MAX_COLLECTION_CHARS, MAX_NOTE_CHARS, check_collection_name
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
    "Membership",
    "Personal",
    "SavedPaper",
    "check_collection_name",
    "import_into_collection",
]


class Personal:
    """The personal-library services over one database (`lib.personal`)."""

    def __init__(self, db: Database) -> None:
        self.collections = Collections(db)
        self.feedback = Feedback(db)
        self.tokens = FeedTokens(db)
