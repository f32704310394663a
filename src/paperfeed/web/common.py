"""What every router of the web app shares: the templates, the Library of the request, the
signed-in user, CSRF tokens, and a short-lived cache of the freshness line."""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from paperfeed.accounts import Session
from paperfeed.errors import InvalidInput
from paperfeed.library import Library

SESSION_COOKIE = "pf_session"
CSRF_COOKIE = "pf_csrf"
STATS_TTL_SECONDS = 30.0

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
assert TEMPLATES.env.autoescape, "paper text is untrusted: templates must autoescape"


def safe_url(value: object) -> str | None:
    """An outside URL fit for an href: http(s) only (no `javascript:` or `data:`)."""
    if not isinstance(value, str) or len(value) > 2000:
        return None
    text = value.strip()
    if not text.startswith(("http://", "https://")):
        return None
    try:
        parts = urlsplit(text)
    except ValueError:
        return None
    return text if parts.netloc else None


TEMPLATES.env.filters["safe_url"] = safe_url
_urlencode = TEMPLATES.env.filters["urlencode"]
_urlencode_str = lru_cache(maxsize=65_536)(_urlencode)


def urlencode(value: Any) -> str:
    """Jinja's `urlencode`, remembered for strings: a page of results quotes ~150 ids and author
    names, most of them seen before (~20 % of rendering a search page)."""
    return _urlencode_str(value) if isinstance(value, str) else _urlencode(value)


TEMPLATES.env.filters["urlencode"] = urlencode


def library(request: Request) -> Library:
    return request.app.state.library


def session(request: Request) -> Session | None:
    """The signed-in session, looked up once per request."""
    if not hasattr(request.state, "session"):
        token = request.cookies.get(SESSION_COOKIE)
        request.state.session = library(request).accounts.session(token) if token else None
    return request.state.session


def csrf_token(request: Request) -> str:
    """The token forms must echo: the session's own when signed in, else the visitor's
    `pf_csrf` cookie (double submit; the middleware sets the cookie)."""
    current = session(request)
    if current is not None:
        return current.csrf
    token = request.cookies.get(CSRF_COOKIE) or getattr(request.state, "new_csrf", None)
    if not token:
        token = request.state.new_csrf = secrets.token_urlsafe(24)
        request.state.https = is_https(request)
    return token


def check_csrf(request: Request, submitted: object) -> None:
    expected = csrf_token(request)
    if not isinstance(submitted, str) or not hmac.compare_digest(submitted.encode(), expected.encode()):
        raise InvalidInput("the form expired or came from another site: reload the page and try again")


def is_https(request: Request) -> bool:
    return request.url.scheme == "https" or library(request).config.base_url.startswith("https://")


class StatsCache:
    """`Library.freshness()` for the status line, refreshed every STATS_TTL_SECONDS (counting a
    million papers takes ~0.1 s: fine now and then, not on every page view)."""

    def __init__(self) -> None:
        self._value: dict[str, Any] | None = None
        self._at = 0.0
        self._lock = threading.Lock()

    def get(self, lib: Library) -> dict[str, Any]:
        now = time.monotonic()
        if self._value is None or now - self._at > STATS_TTL_SECONDS:
            with self._lock:
                if self._value is None or now - self._at > STATS_TTL_SECONDS:
                    self._value = lib.freshness()
                    self._at = now
        return self._value

    def clear(self) -> None:
        self._value = None


def render(request: Request, template: str, context: dict[str, Any], status_code: int = 200) -> HTMLResponse:
    lib = library(request)
    current = session(request)
    base = {
        "user": current.user if current else None,
        "csrf": csrf_token(request),
        "stats": request.app.state.stats.get(lib),
        "path": request.url.path,
    }
    return TEMPLATES.TemplateResponse(request, template, {**base, **context}, status_code=status_code)
