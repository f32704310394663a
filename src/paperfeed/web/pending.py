"""An action a visitor asked for before signing in (an upvote; other card buttons register
theirs), carried through the log-in or sign-up page and done once they are signed in.

Only a form that passed the CSRF check records one, in an HttpOnly cookie: another site cannot
make a visitor's browser send such a form, and a link (`/login?vote=...`) carries no action,
so nobody can make a visitor upvote something by sending them a URL. The action only ever
turns a mark on ("upvote", never "take the vote back"), the log-in page says what will be
done, and the cookie lasts a few minutes."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote, unquote

from fastapi import Request
from fastapi.responses import Response

from paperfeed.accounts import User
from paperfeed.library import Library
from paperfeed.web.common import is_https, library

PENDING_COOKIE = "pf_pending"
PENDING_SECONDS = 900
MAX_ID_CHARS = 200

Action = Callable[[Library, User, str], None]
# name -> (what the log-in page says, e.g. "upvote", and the function that does it)
ACTIONS: dict[str, tuple[str, Action]] = {}


def register(name: str, description: str, action: Action) -> None:
    """Make `name` an action a logged-out visitor can leave for after log-in. `action` must be
    idempotent and only ever turn its mark on."""
    ACTIONS[name] = (description, action)


def remember(response: Response, request: Request, name: str, paper_id: str) -> None:
    """Record `name` on `paper_id` for after log-in (call only after the form's CSRF check)."""
    if name not in ACTIONS:
        raise ValueError(f"unknown pending action {name!r}")
    value = f"{name}:{quote(paper_id[:MAX_ID_CHARS], safe='')}"
    response.set_cookie(
        PENDING_COOKIE, value, max_age=PENDING_SECONDS, path="/", httponly=True,
        samesite="lax", secure=is_https(request),
    )


def pending(request: Request) -> tuple[str, str] | None:
    """The recorded (action, paper id), if any and well-formed."""
    raw = request.cookies.get(PENDING_COOKIE) or ""
    name, _, quoted = raw.partition(":")
    paper_id = unquote(quoted)[:MAX_ID_CHARS]
    if name not in ACTIONS or not paper_id:
        return None
    return name, paper_id


def describe(request: Request) -> str | None:
    """What the log-in page should say will happen: 'your upvote of “Title”'."""
    found = pending(request)
    if found is None:
        return None
    paper = library(request).get(found[1])
    if paper is None:
        return None
    return f"your {ACTIONS[found[0]][0]} of “{paper.title[:200]}”"


def complete(request: Request, response: Response, user: User) -> None:
    """Do the recorded action for the user who just signed in, and forget it."""
    found = pending(request)
    if request.cookies.get(PENDING_COOKIE) is not None:
        response.delete_cookie(PENDING_COOKIE, path="/")
    if found is None:
        return
    lib = library(request)
    paper = lib.get(found[1])
    if paper is not None:
        ACTIONS[found[0]][1](lib, user, paper.id)


def _upvote_on(lib: Library, user: User, paper_id: str) -> None:
    if paper_id not in lib.accounts.has_voted(user, [paper_id]):
        lib.upvote(user.id, paper_id)


register("upvote", "upvote", _upvote_on)
