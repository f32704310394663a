"""A reader's personal Atom feeds of recommendations, at a secret URL that needs no sign-in (feed
readers cannot log in): `/feeds/u/{token}/for-you.atom` and `/feeds/u/{token}/c/{collection}.atom`.
The token is `Library.issue_feed_token`'s (only its hash is stored; issuing a new one or revoking
ends the old URL). An unknown or revoked token, or a collection that is not the token owner's,
is a 404 that tells nothing else."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.exceptions import HTTPException

from paperfeed.accounts import User
from paperfeed.errors import NotFound
from paperfeed.web.common import library
from paperfeed.web.syndication import _feed

router = APIRouter(prefix="/feeds/u", tags=["feeds"])

FEED_SIZE = 30
MAX_TOKEN = 200


def _owner(request: Request, token: str) -> User:
    user = library(request).feed_token_user(token[:MAX_TOKEN])
    if user is None:
        raise HTTPException(404, "no such feed")
    return user


def _private(response: Response) -> Response:
    response.headers["cache-control"] = "private, max-age=300"
    response.headers["x-robots-tag"] = "noindex"
    return response


@router.get("/{token}/for-you.atom", summary="Your recommendations (every collection) as Atom")
def for_you_feed(request: Request, token: str) -> Response:
    user = _owner(request, token)
    hits = library(request).recommend(user=user, limit=FEED_SIZE)
    return _private(_feed(request, "atom", "paperfeed: for you",
                          "Recommended from your saved papers", [h.paper for h in hits]))


@router.get("/{token}/c/{collection_id}.atom", summary="A collection's recommendations as Atom")
def collection_feed(request: Request, token: str, collection_id: str) -> Response:
    user = _owner(request, token)
    lib = library(request)
    try:
        current = lib.personal.collections.by_id(user.id, collection_id[:300])
    except NotFound:  # another user's or no such collection: the same answer
        raise HTTPException(404, "no such feed") from None
    hits = lib.recommend(collection=current.name, user=user, limit=FEED_SIZE) if current.size else []
    return _private(_feed(request, "atom", f"paperfeed: for you, {current.name}",
                          f"Recommended from your collection {current.name}", [h.paper for h in hits]))
