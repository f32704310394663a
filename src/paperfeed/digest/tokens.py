"""Signed tokens for the links in emails (itsdangerous, HMAC-SHA1 over the subscriber id with a
per-purpose salt). Confirmation links expire; unsubscribe links do not (RFC 8058 asks that they
keep working).

The key is `Config.secret_key` (`PAPERFEED_SECRET_KEY`); without one, a random key is made once
and kept in `<home>/secret_key` (mode 0600). Several app servers must share the key: set
`PAPERFEED_SECRET_KEY` for them.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from itsdangerous import BadSignature, SignatureExpired, URLSafeSerializer, URLSafeTimedSerializer

from paperfeed.config import Config
from paperfeed.errors import InvalidInput

CONFIRM_MAX_AGE = 7 * 24 * 3600


class LinkExpired(InvalidInput):
    """A genuine link whose subscription is gone (removed, perhaps added again since: subscriber
    ids are never reused, so the old link names nothing). It acts on nothing (HTTP 410)."""


def secret_key(config: Config) -> str:
    if config.secret_key:
        return config.secret_key
    path = Path(config.home) / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(32)
    try:  # O_EXCL: when two processes race, both end up with the first one's key
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as out:
        out.write(key + "\n")
    return key


class Tokens:
    def __init__(self, config: Config) -> None:
        key = secret_key(config)
        self._confirm = URLSafeTimedSerializer(key, salt="paperfeed-digest-confirm")
        self._unsubscribe = URLSafeSerializer(key, salt="paperfeed-digest-unsubscribe")

    def confirm(self, subscriber_id: str) -> str:
        return self._confirm.dumps(subscriber_id)

    def unsubscribe(self, subscriber_id: str) -> str:
        return self._unsubscribe.dumps(subscriber_id)

    def check_confirm(self, token: str) -> str:
        try:
            return str(self._confirm.loads(token, max_age=CONFIRM_MAX_AGE))
        except SignatureExpired:
            raise InvalidInput("this confirmation link has expired: subscribe again") from None
        except BadSignature:
            raise InvalidInput("this confirmation link is not valid") from None

    def check_unsubscribe(self, token: str) -> str:
        try:
            return str(self._unsubscribe.loads(token))
        except BadSignature:
            raise InvalidInput("this unsubscribe link is not valid") from None
