"""Personal access tokens on the web: `Authorization: Bearer <token>` for the JSON API and MCP,
and creating / revoking tokens on the account page (the secret is shown once, on the page that
answers the creation).

A bearer request needs no CSRF token: a browser never adds an Authorization header on its own,
so another site cannot forge one. A bad, revoked or expired token is a 401, never a fall-back to
the session cookie; a `read` token on a change is a 403."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException

from paperfeed.access_tokens import AccessToken, AccessTokens
from paperfeed.accounts import User
from paperfeed.errors import InvalidInput
from paperfeed.library import Library
from paperfeed.web.common import check_csrf, library, render, session

router = APIRouter(include_in_schema=False)


def bearer(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header value (None for other schemes)."""
    scheme, _, token = (authorization or "").strip().partition(" ")
    return (token.strip() or None) if scheme.lower() == "bearer" else None


def tokens_of(lib: Library) -> AccessTokens:
    return AccessTokens(lib.store.db)


def bearer_token(request: Request) -> AccessToken | None:
    """The live token of the request's Authorization header; None when it has none; 401 when it
    has one that is unknown, revoked or expired."""
    header = request.headers.get("authorization")
    if header is None:
        return None
    token = tokens_of(library(request)).verify(bearer(header))
    if token is None:
        raise HTTPException(
            401, "invalid, revoked or expired access token", headers={"WWW-Authenticate": "Bearer"}
        )
    return token


def token_user(request: Request, *, write: bool) -> User | None:
    """The user a bearer token acts for (None without one); 403 for a read token on a change."""
    token = bearer_token(request)
    if token is None:
        return None
    if write and not token.can_write:
        raise HTTPException(403, "this access token is read-only")
    return library(request).accounts.user(token.user_id)


@router.post("/account/tokens", response_class=HTMLResponse)
def create_token(
    request: Request,
    csrf: Annotated[str, Form(max_length=200)] = "",
    name: Annotated[str, Form(max_length=200)] = "",
    scope: Annotated[str, Form(max_length=10)] = "read",
    expires_days: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    current = session(request)
    if current is None:
        return RedirectResponse("/login?next=/account", status_code=303)
    check_csrf(request, csrf)
    days = expires_days.strip()
    if days and not days.isdigit():
        raise InvalidInput("expiry must be a number of days")
    token, secret = tokens_of(library(request)).create(
        current.user.id, scope, name, int(days) if days else None
    )
    response = render(request, "token_created.html", {"token": token, "secret": secret})
    response.headers["cache-control"] = "no-store"  # the secret is on this page
    return response


@router.post("/account/tokens/{token_id}/revoke")
def revoke_token(request: Request, token_id: str, csrf: Annotated[str, Form(max_length=200)] = "") -> Response:
    current = session(request)
    if current is None:
        return RedirectResponse("/login?next=/account", status_code=303)
    check_csrf(request, csrf)
    tokens_of(library(request)).revoke(current.user.id, token_id[:100])
    return RedirectResponse("/account#tokens", status_code=303)
