"""The HTTP app: HTML pages, RSS/Atom feeds and the Hugging Face-compatible JSON API, thin over
the Library. Each concern is an APIRouter in its own module; `ROUTERS` lists them — a feature adds
its router with one line there."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from paperfeed import terminal
from paperfeed.accounts import TooManyAttempts
from paperfeed.comments import Forbidden
from paperfeed.config import Config
from paperfeed.errors import InvalidInput, NotFound
from paperfeed.library import Library
from paperfeed.ratelimit import RateLimited
from paperfeed.search_cache import SearchCache
from paperfeed.submissions import SourceUnavailable
from paperfeed.web import (
    api,
    auth,
    community,
    exports,
    library_api,
    library_pages,
    mcp,
    pages,
    personal_feeds,
    s2_api,
    subscribe,
    syndication,
    tokens,
)
from paperfeed.web.bodies import BodyLimit
from paperfeed.web.common import CSRF_COOKIE, SESSION_COOKIE, StatsCache, asked_for_file, render

# More features add their router here (e.g. `subscribe.router`). The pages router is
# last: its `/papers/{id:path}` would otherwise shadow more specific paths under /papers/.
ROUTERS = [
    community.api_router,  # before api.router: its /api/papers/{id} would take .../comments
    api.router,
    personal_feeds.router,
    community.router,
    syndication.router,
    auth.router,
    tokens.router,
    subscribe.router,
    library_api.router,
    s2_api.router,
    exports.router,  # before pages and the library pages: /papers/{id}.bib is not a paper page
    library_pages.router,
    pages.router,
]

# img-src allows https images: paper thumbnails are the imported URLs (e.g. Hugging Face's
# thumbnail CDN; shown with referrerpolicy=no-referrer). No other element takes an outside URL.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: https:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
# The interactive docs (Swagger UI / ReDoc) are served from the package's own copies
# (fastapi-offline: a self-hosted server may have no internet), but start with an inline script.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; worker-src 'self' blob:; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
DOCS_PATHS = ("/docs", "/redoc")


class SecurityHeaders:
    """Standard security headers on every response, the visitor's CSRF cookie when a page handed
    out a new token, and HEAD answered as GET (feed readers and monitors use it). A plain ASGI
    middleware: no per-request task overhead."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        if scope.get("method") == "HEAD":  # answer HEAD like GET (uvicorn drops the body)
            scope = {**scope, "method": "GET"}

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                csp = DOCS_CSP if path.startswith(DOCS_PATHS) else CSP
                headers += [
                    (b"content-security-policy", csp.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"x-frame-options", b"DENY"),
                    (b"referrer-policy", b"same-origin"),
                    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
                    (b"cross-origin-opener-policy", b"same-origin"),
                ]
                state = scope.get("state") or {}
                token = state.get("new_csrf")
                if token:
                    secure = "; Secure" if state.get("https") else ""
                    cookie = f"{CSRF_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax{secure}"
                    headers.append((b"set-cookie", cookie.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class Counter:
    def __init__(self) -> None:
        self.count = 0


class InFlight:
    """Counts the requests being answered, so the background embedder can pause for them."""

    def __init__(self, app: ASGIApp, counter: Counter) -> None:
        self.app = app
        self.counter = counter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self.counter.count += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.counter.count -= 1


def start_background(app: FastAPI) -> FastAPI:
    """Start `app`'s background embedder (`paperfeed serve`; one per process, one at work per
    store), pausing while the app answers requests."""
    from paperfeed.embed.background import BackgroundEmbedder

    lib: Library = app.state.library
    counter: Counter = app.state.in_flight

    def busy() -> bool:
        return counter.count > 0

    # A daemon thread: it holds no state a kill could hurt (every batch is one transaction), so
    # shutting down does not wait for it.
    app.state.embedder = BackgroundEmbedder(lib.semantic, busy).start()
    return app


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith(("/api/", "/feeds/", "/openapi", "/recommendations/"))


def _error(request: Request, status: int, message: str, detail: Any = None) -> Response:
    if asked_for_file(request):  # a reference manager or curl: the reason as plain text
        return PlainTextResponse(terminal.clean(message) + "\n", status_code=status)
    if _wants_json(request):
        body: dict[str, Any] = {"error": message}
        if detail is not None:
            body["detail"] = detail
        return JSONResponse(body, status_code=status)
    return render(request, "error.html", {"status": status, "message": message, "back": _came_from(request)},
                  status_code=status)


def _came_from(request: Request) -> str | None:
    """The page of this site the visitor came from (a form's page, after a refused post), for
    the error page's way back; None for another site's or none."""
    referer = request.headers.get("referer", "")[:2000]
    try:
        parts = urlsplit(referer)
    except ValueError:
        return None
    if not referer or parts.netloc != request.url.netloc or not parts.path.startswith("/"):
        return None
    back = parts.path + (f"?{parts.query}" if parts.query else "")
    return None if back == request.url.path + (f"?{request.url.query}" if request.url.query else "") else back


def create_app(config: Config | None = None, library: Library | None = None) -> FastAPI:
    lib = library or Library(config or Config.from_env())
    app = FastAPIOffline(
        title="paperfeed",
        version="0.1.0",
        description="Daily papers, search and related papers. The `/api/...` endpoints speak the "
        "Hugging Face papers API, so `huggingface_hub.HfApi(endpoint=...)` works against them.",
    )
    app.state.library = lib
    app.state.stats = StatsCache()
    # Rendered result lists for visitors who are not signed in (`pages._search_results`): as
    # many pages as the search cache holds results for.
    app.state.result_pages = SearchCache(
        lib.config.search_cache // pages.SEARCH_PAGE, lib.store.change_token, weigh=lambda _: 1
    )

    @app.exception_handler(library_pages.LoginFirst)
    async def login_first(request: Request, exc: library_pages.LoginFirst) -> Response:
        return library_pages.login_redirect(exc)

    @app.exception_handler(TooManyAttempts)
    async def too_many(request: Request, exc: TooManyAttempts) -> Response:
        return _error(request, 429, str(exc))

    @app.exception_handler(InvalidInput)
    async def invalid_input(request: Request, exc: InvalidInput) -> Response:
        return _error(request, 400, str(exc))

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, exc: Forbidden) -> Response:
        return _error(request, 403, str(exc))

    @app.exception_handler(RateLimited)
    async def rate_limited(request: Request, exc: RateLimited) -> Response:
        return _error(request, 429, str(exc))

    @app.exception_handler(SourceUnavailable)
    async def unavailable(request: Request, exc: SourceUnavailable) -> Response:
        return _error(request, 503, str(exc))

    @app.exception_handler(NotFound)
    async def not_found(request: Request, exc: NotFound) -> Response:
        return _error(request, 404, str(exc))

    @app.exception_handler(RequestValidationError)
    async def invalid_params(request: Request, exc: RequestValidationError) -> Response:
        problems = [
            f"{'.'.join(str(x) for x in e.get('loc', ())[1:]) or 'request'}: {e.get('msg', 'invalid')}"
            for e in exc.errors()
        ]
        message = "; ".join(problems)[:500] or "invalid request"
        if _wants_json(request):
            return JSONResponse(
                {"error": message, "detail": _plain(exc.errors())}, status_code=422
            )
        return _error(request, 400, message)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        message = exc.detail if isinstance(exc.detail, str) else "error"
        if exc.status_code == 404:
            message = "no such page"
        response = _error(request, exc.status_code, message)
        if exc.headers:
            response.headers.update(exc.headers)
        return response

    for router in ROUTERS:
        app.include_router(router)
    mcp.mount(app, lib)  # the MCP server at /mcp (streamable HTTP)
    app.mount("/static", StaticFiles(directory=str(Path(__file__).parent / "static")), name="static")
    app.state.in_flight = Counter()
    app.add_middleware(InFlight, counter=app.state.in_flight)
    app.add_middleware(
        BodyLimit,
        form_bytes=lib.config.max_form_bytes,
        upload_bytes=lib.config.max_upload_bytes,
        is_admin=lambda token: bool((s := lib.accounts.session(token)) and s.user.is_admin),
        session_cookie=SESSION_COOKIE,
    )
    app.add_middleware(SecurityHeaders)  # on every answer, the 413s of BodyLimit too
    if lib.config.trusted_proxies:  # outermost: the real client and scheme, for everything after
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=list(lib.config.trusted_proxies))
    return app


# What `paperfeed serve` passes to uvicorn: its own X-Forwarded-For handling is off (it would
# trust any local peer); the app's ProxyHeadersMiddleware trusts PAPERFEED_TRUSTED_PROXIES only.
UVICORN_OPTIONS: dict[str, Any] = {"proxy_headers": False}


def _plain(errors: Any) -> Any:
    """Validation errors as plain JSON (pydantic may put exceptions in `ctx`)."""
    return [{k: v for k, v in e.items() if k in ("loc", "msg", "type")} for e in errors]


def app_from_env() -> FastAPI:
    """The app factory for `uvicorn --factory` (several worker processes)."""
    return settled(start_background(create_app(Config.from_env())))


def settled(app: FastAPI) -> FastAPI:
    """`app`, with everything built so far moved out of the garbage collector's sight.

    A started app holds some 75,000 long-lived objects (modules, the app, the encoder's
    vocabulary); each full collection walked them all again, a pause of tens of ms in the middle
    of a request under load. `gc.freeze()` (Python's advice for long-running servers) keeps
    them out of every later collection; what requests create is collected as before."""
    gc.collect()
    gc.freeze()
    return app
