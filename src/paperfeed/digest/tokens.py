"""Signed tokens for the links in emails (itsdangerous, HMAC-SHA1 with a per-purpose salt) over
the subscription they were made for: the subscriber row's id and its generation (which changes
when the row starts again), so a link outliving its subscription acts on nothing. Confirmation
links expire; unsubscribe links do not while their subscription lasts (RFC 8058 asks that they
keep working). Links made before tokens carried a generation name the row alone: generation 0.

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
    """A genuine link whose subscription is gone: removed (subscriber ids are never reused), or
    unsubscribed and subscribed again since (a new generation of the row). It acts on nothing
    (HTTP 410)."""


Linked = tuple[str, int]  # (subscriber id, generation) a link was made for


def _linked(payload: object) -> Linked:
    if isinstance(payload, str):  # made before links carried a generation
        return payload, 0
    if (isinstance(payload, list) and len(payload) == 2 and isinstance(payload[0], str)
            and isinstance(payload[1], int)):
        return payload[0], payload[1]
    raise BadSignature("unexpected payload")


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

    def confirm(self, subscriber_id: str, generation: int) -> str:
        return self._confirm.dumps([subscriber_id, generation])

    def unsubscribe(self, subscriber_id: str, generation: int) -> str:
        return self._unsubscribe.dumps([subscriber_id, generation])

    def check_confirm(self, token: str) -> Linked:
        try:
            return _linked(self._confirm.loads(token, max_age=CONFIRM_MAX_AGE))
        except SignatureExpired:
            raise InvalidInput("this confirmation link has expired: subscribe again") from None
        except BadSignature:
            raise InvalidInput("this confirmation link is not valid") from None

    def check_unsubscribe(self, token: str) -> Linked:
        try:
            return _linked(self._unsubscribe.loads(token))
        except BadSignature:
            raise InvalidInput("this unsubscribe link is not valid") from None
