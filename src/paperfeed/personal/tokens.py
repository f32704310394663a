"""A reader's secret feed token (for a personal Atom feed URL that needs no sign-in). Only its
SHA-256 is stored; issuing a new one revokes the old, and revoking leaves none."""

from __future__ import annotations

import hashlib
import secrets

from paperfeed.store.db import Database, now_iso

MAX_TOKEN_CHARS = 200


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class FeedTokens:
    def __init__(self, db: Database) -> None:
        self.db = db

    def issue(self, user_id: str) -> str:
        """A new token for the reader (shown once: it cannot be read back), replacing any."""
        token = secrets.token_urlsafe(32)
        with self.db.transaction() as tx:
            tx.execute("DELETE FROM feed_tokens WHERE user_id = ?", (user_id,))
            tx.execute(
                "INSERT INTO feed_tokens (user_id, token_hash, created_at) VALUES (?, ?, ?)",
                (user_id, _hash(token), now_iso()),
            )
        return token

    def revoke(self, user_id: str) -> bool:
        return bool(self.db.execute("DELETE FROM feed_tokens WHERE user_id = ?", (user_id,)))

    def created_at(self, user_id: str) -> str | None:
        row = self.db.query_one("SELECT created_at FROM feed_tokens WHERE user_id = ?", (user_id,))
        return row[0] if row else None

    def user_for(self, token: str | None) -> str | None:
        """The user id a token belongs to, or None (unknown, revoked, malformed)."""
        if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_CHARS:
            return None
        row = self.db.query_one("SELECT user_id FROM feed_tokens WHERE token_hash = ?", (_hash(token),))
        return row[0] if row else None
