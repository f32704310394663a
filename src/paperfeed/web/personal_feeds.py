"""A reader's personal Atom feeds of recommendations, two ways in:

- at a secret URL that needs no sign-in (most feed readers cannot send a header):
  `/feeds/u/{token}/for-you.atom` and `/feeds/u/{token}/c/{collection}.atom`. The token is
  `Library.issue_feed_token`'s (only its hash is stored; issuing a new one or revoking ends the old
  URL). An unknown or revoked token, or a collection that is not the token owner's, is a 404 that
  tells nothing else.
- with a personal access token (`access_tokens.py`; any scope reads):
  `/feeds/me/for-you.atom` and `/feeds/me/c/{collection}.atom` with `Authorization: Bearer <token>`,
  or HTTP Basic with the token as the password (what feed readers that can log in send; the user
  name is ignored). No token, or an unknown, revoked or expired one, is a 401; another user's
  collection is the same 404 as above."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.exceptions import HTTPException

from paperfeed.accounts import User
from paperfeed.errors import NotFound
from paperfeed.web.common import library
from paperfeed.web.documented import ATOM, errors, xml_feed
from paperfeed.web.syndication import _feed
from paperfeed.web.tokens import bearer, tokens_of

router = APIRouter(prefix="/feeds", tags=["feeds"])

FEED_SIZE = 30
MAX_TOKEN = 200
CHALLENGE = {"WWW-Authenticate": 'Bearer, Basic realm="paperfeed feeds"'}


def _secret_owner(request: Request, token: str) -> User:
    user = library(request).feed_token_user(token[:MAX_TOKEN])
    if user is None:
        raise HTTPException(404, "no such feed")
    return user


def _basic_password(authorization: str) -> str | None:
    scheme, _, encoded = authorization.strip().partition(" ")
    if scheme.lower() != "basic" or len(encoded) > 4 * MAX_TOKEN:
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    return decoded.partition(":")[2] or None


def _token_owner(request: Request) -> User:
    """The user of the request's personal access token (Bearer, or Basic's password); 401
    without a live one."""
    header = request.headers.get("authorization") or ""
    secret = bearer(header) or _basic_password(header)
    if secret is None:
        raise HTTPException(401, "this feed needs a personal access token", headers=CHALLENGE)
    lib = library(request)
    token = tokens_of(lib).verify(secret)
    if token is None:
        raise HTTPException(401, "invalid, revoked or expired access token", headers=CHALLENGE)
    try:
        return lib.accounts.user(token.user_id)
    except NotFound:
        raise HTTPException(401, "invalid, revoked or expired access token", headers=CHALLENGE) from None


def _private(response: Response) -> Response:
    response.headers["cache-control"] = "private, max-age=300"
    response.headers["x-robots-tag"] = "noindex"
    return response


def _for_you(request: Request, user: User) -> Response:
    hits = library(request).recommend(user=user, limit=FEED_SIZE)
    return _private(_feed(request, "atom", "paperfeed: for you",
                          "Recommended from your saved papers", [h.paper for h in hits]))


def _collection(request: Request, user: User, collection_id: str) -> Response:
    lib = library(request)
    try:
        current = lib.personal.collections.by_id(user.id, collection_id[:300])
    except NotFound:  # another user's or no such collection: the same answer
        raise HTTPException(404, "no such feed") from None
    hits = lib.recommend(collection=current.name, user=user, limit=FEED_SIZE) if current.size else []
    return _private(_feed(request, "atom", f"paperfeed: for you, {current.name}",
                          f"Recommended from your collection {current.name}", [h.paper for h in hits]))


def _route(path: str, summary: str, endpoint: Callable[..., Response], *codes: int) -> None:
    router.add_api_route(
        path, endpoint, methods=["GET"], summary=summary, response_class=Response,
        responses={**xml_feed(ATOM), **errors(*codes, e404="No such feed (or not the token owner's)")},
    )


def for_you_feed(request: Request, token: str) -> Response:
    return _for_you(request, _secret_owner(request, token))


def collection_feed(request: Request, token: str, collection_id: str) -> Response:
    return _collection(request, _secret_owner(request, token), collection_id)


def my_for_you_feed(request: Request) -> Response:
    return _for_you(request, _token_owner(request))


def my_collection_feed(request: Request, collection_id: str) -> Response:
    return _collection(request, _token_owner(request), collection_id)


_route("/me/for-you.atom", "Your recommendations as Atom (personal access token)", my_for_you_feed, 401)
_route("/me/c/{collection_id}.atom", "A collection's recommendations as Atom (personal access token)",
       my_collection_feed, 401, 404, 422)
_route("/u/{token}/for-you.atom", "Your recommendations (every collection) as Atom, at a secret URL",
       for_you_feed, 404, 422)
_route("/u/{token}/c/{collection_id}.atom", "A collection's recommendations as Atom, at a secret URL",
       collection_feed, 404, 422)
