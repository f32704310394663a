"""Personal access tokens: a secret a user hands to a script, an agent (MCP) or a feed reader
instead of their password. Only the SHA-256 of the random secret is stored, so the secret is
shown once, at creation. A token is scoped `read` (look, never change) or `write` (read-write),
may expire, and is revoked by its owner; a revoked or expired token authenticates nobody.
Secrets start with `pft_` so that secret scanners and people can recognise them."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from paperfeed.errors import InvalidInput, NotFound
from paperfeed.store.db import Database, new_id, now_iso

Scope = Literal["read", "write"]
SCOPES: tuple[Scope, ...] = ("read", "write")
PREFIX = "pft_"
MAX_SECRET_CHARS = 200
MAX_NAME_CHARS = 100
MAX_EXPIRY_DAYS = 3650


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class AccessToken:
    """What is known of a token (never its secret)."""

    id: str
    user_id: str
    name: str
    scope: Scope
    created_at: str
    expires_at: str | None
    last_used_at: str | None

    @property
    def can_write(self) -> bool:
        return self.scope == "write"


_COLUMNS = "id, user_id, name, scope, created_at, expires_at, last_used_at"


def _token(row: tuple) -> AccessToken:
    return AccessToken(*row)


class AccessTokens:
    def __init__(self, db: Database) -> None:
        self.db = db

    def create(
        self, user_id: str, scope: str, name: str | None = None, expires_days: int | None = None
    ) -> tuple[AccessToken, str]:
        """A new token and its secret (the only time the secret is known)."""
        if scope not in SCOPES:
            raise InvalidInput(f"scope must be one of {', '.join(SCOPES)}, not {str(scope)[:20]!r}")
        label = " ".join((name or "").split())
        if len(label) > MAX_NAME_CHARS or not label.isprintable():
            raise InvalidInput(f"a token name is at most {MAX_NAME_CHARS} printable characters")
        if expires_days is not None and not 1 <= expires_days <= MAX_EXPIRY_DAYS:
            raise InvalidInput(f"expiry must be between 1 and {MAX_EXPIRY_DAYS} days")
        secret = PREFIX + secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        expires = (now + timedelta(days=expires_days)).isoformat(timespec="seconds") if expires_days else None
        token = AccessToken(new_id(), user_id, label or "token", scope, now.isoformat(timespec="seconds"),
                            expires, None)
        self.db.execute(
            "INSERT INTO access_tokens (id, user_id, name, scope, token_hash, created_at, expires_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (token.id, user_id, token.name, scope, _hash(secret), token.created_at, expires),
        )
        return token, secret

    def list(self, user_id: str) -> list[AccessToken]:
        """The user's live tokens (not revoked), newest first; expired ones too, marked by date."""
        rows = self.db.query(
            f"SELECT {_COLUMNS} FROM access_tokens WHERE user_id = ? AND revoked_at IS NULL "
            "ORDER BY created_at DESC, id",
            (user_id,),
        )
        return [_token(r) for r in rows]

    def revoke(self, user_id: str, token_id: str) -> AccessToken:
        """Revoke one of the user's tokens; NotFound for another user's or an unknown id."""
        row = self.db.query_one(
            f"SELECT {_COLUMNS} FROM access_tokens WHERE id = ? AND user_id = ? AND revoked_at IS NULL",
            (str(token_id)[:100], user_id),
        )
        if row is None:
            raise NotFound(f"no such token: {str(token_id)[:40]}")
        self.db.execute("UPDATE access_tokens SET revoked_at = ? WHERE id = ?", (now_iso(), row[0]))
        return _token(row)

    def verify(self, secret: str | None) -> AccessToken | None:
        """The live token a secret belongs to, or None (unknown, revoked, expired, malformed)."""
        if not isinstance(secret, str) or not secret.startswith(PREFIX) or len(secret) > MAX_SECRET_CHARS:
            return None
        row = self.db.query_one(
            f"SELECT {_COLUMNS} FROM access_tokens WHERE token_hash = ? AND revoked_at IS NULL",
            (_hash(secret),),
        )
        if row is None:
            return None
        token = _token(row)
        now = now_iso()
        if token.expires_at is not None and token.expires_at <= now:
            return None
        self.db.execute("UPDATE access_tokens SET last_used_at = ? WHERE id = ?", (now, token.id))
        return token
