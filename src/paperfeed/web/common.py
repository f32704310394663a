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
from urllib.parse import quote, urlsplit

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from paperfeed import feeds
from paperfeed.accounts import Session, User
from paperfeed.errors import InvalidInput, NotFound
from paperfeed.library import Library
from paperfeed.personal.collections import Collection
from paperfeed.records import Paper

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


MAX_KEYWORDS = 12
_SOURCE_NAMES = {"hf-daily": "Hugging Face", "hf-page": "Hugging Face"}


def held(paper: Paper) -> dict[str, Any]:
    """What a card or paper page shows from `Paper.extra`, checked: an https thumbnail URL (the
    page's CSP allows https images; plain http would be mixed content), the AI summary and
    keywords as text with the name of the source they came from, and arXiv's comment line.
    Nothing is fetched: these are what an import stored."""
    extra = paper.extra if isinstance(paper.extra, dict) else {}
    thumbnail = safe_url(extra.get("thumbnail"))
    summary = extra.get("ai_summary")
    keywords = extra.get("ai_keywords")
    comment = extra.get("comments")
    source = next((_SOURCE_NAMES[s] for s in paper.sources if s in _SOURCE_NAMES), "the import")
    return {
        "thumbnail": thumbnail if thumbnail and thumbnail.startswith("https://") else None,
        "ai_summary": summary.strip() if isinstance(summary, str) and summary.strip() else None,
        "ai_keywords": [k for k in keywords if isinstance(k, str) and k.strip()][:MAX_KEYWORDS]
        if isinstance(keywords, list) else [],
        "ai_source": source,
        "arxiv_comment": comment.strip() if isinstance(comment, str) and comment.strip() else None,
    }


TEMPLATES.env.filters["safe_url"] = safe_url
TEMPLATES.env.globals["held"] = held
TEMPLATES.env.filters["day_title"] = feeds.day_title
TEMPLATES.env.filters["short_day"] = lambda d: feeds.day_title(d).split(" ", 1)[1]
TEMPLATES.env.globals["card_anchor"] = lambda paper_id: card_anchor(paper_id)
_urlencode = TEMPLATES.env.filters["urlencode"]
_urlencode_str = lru_cache(maxsize=65_536)(_urlencode)


def urlencode(value: Any) -> str:
    """Jinja's `urlencode`, remembered for strings: a page of results quotes ~150 ids and author
    names, most of them seen before (~20 % of rendering a search page)."""
    return _urlencode_str(value) if isinstance(value, str) else _urlencode(value)


TEMPLATES.env.filters["urlencode"] = urlencode


# The routes that answer with a file (`/papers/{id}.bib`, `/search.ris`, `/library/export`, ...):
# a client that asked for a file gets its errors as plain text, not as an HTML page.
FILE_ROUTES: set[str] = set()


def file_route(path: str) -> str:
    """Mark the route of `path` (as declared) as one that answers with a file."""
    FILE_ROUTES.add(path)
    return path


def asked_for_file(request: Request) -> bool:
    return getattr(request.scope.get("route"), "path", None) in FILE_ROUTES


def library(request: Request) -> Library:
    return request.app.state.library


def own_collection(lib: Library, user: User, collection_id: str) -> Collection:
    """One of `user`'s collections by id; NotFound naming the id for an unknown one or another
    user's (the same answer: another user's is not told to exist)."""
    try:
        return lib.personal.collections.by_id(user.id, collection_id[:300])
    except NotFound:
        raise NotFound(f"no such collection: {collection_id[:80]}") from None


def session(request: Request) -> Session | None:
    """The signed-in session, looked up once per request."""
    if not hasattr(request.state, "session"):
        token = request.cookies.get(SESSION_COOKIE)
        request.state.session = library(request).accounts.session(token) if token else None
    return request.state.session


def viewer(request: Request) -> User | None:
    """The signed-in user, for the Library's `user=` (which hides their dismissed papers)."""
    current = session(request)
    return current.user if current else None


class Marks(frozenset[str]):
    """The signed-in user's upvoted papers among those of a page (the set the card macro calls
    `voted`), with the ones they saved as `.saved`."""

    saved: frozenset[str]

    def __new__(cls, voted: set[str] = frozenset(), saved: set[str] = frozenset()) -> Marks:  # type: ignore[assignment]
        marks = super().__new__(cls, voted)
        marks.saved = frozenset(saved)
        return marks


def marks(request: Request, paper_ids: list[str]) -> Marks:
    """The signed-in user's upvotes and saves among `paper_ids` (empty when signed out)."""
    current = session(request)
    if current is None:
        return Marks()
    lib = library(request)
    saved = lib.personal.collections.saved_among(current.user.id, paper_ids)
    return Marks(lib.accounts.has_voted(current.user, paper_ids), saved)


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


def wants_json(request: Request) -> bool:
    """Whether the page's script asked for a JSON answer (`Accept: application/json`) instead of
    the plain form's redirect (see static/app.js: forms marked `data-inplace`)."""
    return "application/json" in request.headers.get("accept", "")


def card_anchor(paper_id: str) -> str:
    """The id of a paper's card on a page, so a plain form can come back to it (`#paper-...`)."""
    return "paper-" + paper_id


def back_to(next_path: str, paper_id: str) -> str:
    """`next_path` (already checked to be local) with the paper's card as the fragment."""
    return next_path.split("#", 1)[0] + "#" + quote(card_anchor(paper_id), safe="/.-_~")


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
        "signup_open": lib.signups.open,  # the header's Sign up button (closed: no mail server)
    }
    return TEMPLATES.TemplateResponse(request, template, {**base, **context}, status_code=status_code)
