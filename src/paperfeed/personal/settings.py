"""A reader's choices: the web's home page (the daily list or "For you") and which of their
collections get a "For you" section in their email digest."""

from __future__ import annotations

from collections.abc import Sequence

from paperfeed.errors import InvalidInput
from paperfeed.store.db import Database

HOMES = ("daily", "foryou")


class Settings:
    def __init__(self, db: Database) -> None:
        self.db = db

    def home(self, user_id: str) -> str:
        row = self.db.query_one(
            "SELECT value FROM user_settings WHERE user_id = ? AND name = 'home'", (user_id,)
        )
        return row[0] if row and row[0] in HOMES else "daily"

    def set_home(self, user_id: str, home: str) -> str:
        if home not in HOMES:
            raise InvalidInput(f"home must be one of {', '.join(HOMES)}")
        self.db.execute(
            "INSERT INTO user_settings (user_id, name, value) VALUES (?, 'home', ?) "
            "ON CONFLICT (user_id, name) DO UPDATE SET value = excluded.value",
            (user_id, home),
        )
        return home

    def digest_collections(self, user_id: str) -> list[str]:
        """The ids of the user's collections chosen for the digest (only those that still exist)."""
        rows = self.db.query(
            "SELECT d.collection_id FROM digest_collections d JOIN collections c "
            "ON c.id = d.collection_id AND c.user_id = d.user_id WHERE d.user_id = ? ORDER BY c.name_key",
            (user_id,),
        )
        return [r[0] for r in rows]

    def set_digest_collections(self, user_id: str, collection_ids: Sequence[str]) -> list[str]:
        """Replace the choice; ids that are not this user's collections are refused (NotFound-like
        InvalidInput, telling nothing of other users)."""
        own = {r[0] for r in self.db.query("SELECT id FROM collections WHERE user_id = ?", (user_id,))}
        wanted = list(dict.fromkeys(collection_ids))
        if any(cid not in own for cid in wanted):
            raise InvalidInput("no such collection")
        with self.db.transaction() as tx:
            tx.execute("DELETE FROM digest_collections WHERE user_id = ?", (user_id,))
            for cid in wanted:
                tx.execute(
                    "INSERT INTO digest_collections (user_id, collection_id) VALUES (?, ?)", (user_id, cid)
                )
        return self.digest_collections(user_id)
