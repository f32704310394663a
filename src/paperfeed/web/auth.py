"""Accounts in the browser: sign-up (by email link, `paperfeed.signups`), login, logout, upvotes,
the account page with the export of a user's data, and the admin's import by file upload. Every
form carries a CSRF token."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from paperfeed.access_tokens import AccessTokens
from paperfeed.accounts import SESSION_DAYS, Session, TooManyAttempts
from paperfeed.errors import InvalidInput
from paperfeed.ratelimit import RateLimited
from paperfeed.signups import SignupClosed, SignupLinkExpired
from paperfeed.web import pending
from paperfeed.web.common import (
    SESSION_COOKIE,
    back_to,
    check_csrf,
    is_https,
    library,
    render,
    session,
    wants_json,
)

router = APIRouter(include_in_schema=False)

MAX_FORM_FIELD = 4096
MAX_UPLOAD_FILES = 20


def _safe_next(value: object) -> str:
    """Only local paths: never redirect to another site."""
    if isinstance(value, str) and value.startswith("/") and not value.startswith(("//", "/\\")):
        return value[:2000]
    return "/"


async def _form(request: Request) -> dict[str, Any]:
    form = await request.form(max_files=MAX_UPLOAD_FILES, max_fields=50)
    data: dict[str, Any] = {}
    for key, value in form.multi_items():
        if isinstance(value, str):
            data.setdefault(key, value[:MAX_FORM_FIELD])
        else:
            data.setdefault(key + "[]", []).append(value)
    return data


def _with_session(response: Response, request: Request, new: Session) -> Response:
    response.set_cookie(
        SESSION_COOKIE,
        new.token,
        max_age=SESSION_DAYS * 86400,
        path="/",
        httponly=True,
        samesite="lax",
        secure=is_https(request),
    )
    return response


def _login_url(back: str) -> str:
    return "/login?" + urlencode({"next": back}) if back != "/" else "/login"


def _login_redirect(request: Request, back: str) -> RedirectResponse:
    return RedirectResponse(_login_url(back), status_code=303)


@router.get("/signup", response_class=HTMLResponse)
def signup_form(request: Request, next: str = "/") -> HTMLResponse:
    lib = library(request)
    if not lib.signups.open:
        return _signup_closed(request)
    return render(request, "login.html", {"signup": True, "next": _safe_next(next), "email": "",
                                          "pending": pending.describe(request)})


def _signup_closed(request: Request, status_code: int = 200) -> HTMLResponse:
    """Without a mail server nobody's address can be verified: sign-up is closed, and the page
    says who makes accounts (and, to an admin, how)."""
    current = session(request)
    return render(request, "signup.html",
                  {"state": "closed", "admin": bool(current and current.user.is_admin)},
                  status_code=status_code)


@router.post("/signup")
async def signup(request: Request) -> Response:
    """Email a link that finishes the sign-up (or, to an address with an account, a note saying
    so): the same answer and the same work for every address, nobody signed in yet."""
    form = await _form(request)
    check_csrf(request, form.get("csrf"))
    lib = library(request)
    email, password = form.get("email", ""), form.get("password", "")
    next_path = _safe_next(form.get("next"))
    client = request.client.host if request.client else ""
    try:
        # argon2 and the SMTP exchange take a while: in a worker thread, never on the event loop
        await run_in_threadpool(lib.signups.request, email, password, client=client, next=next_path)
    except SignupClosed:
        return _signup_closed(request, 503)
    except InvalidInput as exc:
        return render(
            request, "login.html",
            {"signup": True, "error": str(exc), "email": email[:254], "next": next_path},
            status_code=429 if isinstance(exc, RateLimited) else 400,
        )
    return render(request, "signup.html", {"state": "sent"})


@router.get("/signup/verify", response_class=HTMLResponse)
def signup_link(request: Request, token: Annotated[str, Query(max_length=200)] = "") -> Response:
    """The emailed link, opened: shows what it is for and the form that finishes the sign-up.
    Opening it (GET or HEAD, as mail scanners do) changes nothing."""
    try:
        found = library(request).signups.pending(token)
    except SignupLinkExpired as exc:
        return render(request, "signup.html", {"state": "expired", "message": str(exc)}, status_code=410)
    return render(request, "signup.html", {"state": "verify", "email": found.email, "token": token})


@router.post("/signup/verify")
async def signup_verify(request: Request, token: Annotated[str, Query(max_length=200)] = "") -> Response:
    """The link's button: with the password chosen at sign-up, the account is made and signed in."""
    form = await _form(request)
    check_csrf(request, form.get("csrf"))
    lib = library(request)
    client = request.client.host if request.client else ""
    try:
        user, next_path = await run_in_threadpool(
            lib.signups.complete, token, form.get("password", ""), client=client
        )
    except SignupLinkExpired as exc:
        return render(request, "signup.html", {"state": "expired", "message": str(exc)}, status_code=410)
    except InvalidInput as exc:
        try:
            address = lib.signups.pending(token).email
        except SignupLinkExpired:
            address = ""
        return render(request, "signup.html",
                      {"state": "verify", "email": address, "token": token, "error": str(exc)},
                      status_code=429 if isinstance(exc, TooManyAttempts) else 400)
    response = RedirectResponse(_safe_next(next_path), status_code=303)
    pending.complete(request, response, user)
    return _with_session(response, request, lib.accounts.open_session(user))


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "/") -> HTMLResponse:
    return render(request, "login.html", {"signup": False, "next": _safe_next(next), "email": "",
                                          "pending": pending.describe(request)})


@router.post("/login")
async def login(request: Request) -> Response:
    form = await _form(request)
    check_csrf(request, form.get("csrf"))
    lib = library(request)
    email = form.get("email", "")
    client = request.client.host if request.client else ""
    try:
        new = await run_in_threadpool(lib.accounts.login, email, form.get("password", ""), client=client)
    except InvalidInput as exc:
        status = 429 if isinstance(exc, TooManyAttempts) else 400
        return render(
            request, "login.html",
            {"signup": False, "error": str(exc), "email": email[:254], "next": _safe_next(form.get("next"))},
            status_code=status,
        )
    response = RedirectResponse(_safe_next(form.get("next")), status_code=303)
    pending.complete(request, response, new.user)
    return _with_session(response, request, new)


@router.post("/logout")
async def logout(request: Request) -> Response:
    form = await _form(request)
    check_csrf(request, form.get("csrf"))
    library(request).accounts.logout(request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.post("/papers/{paper_id:path}/upvote")
async def upvote(request: Request, paper_id: str) -> Response:
    """Toggle the user's upvote. The page's script asks for JSON (`{"ok", "on", "count"}`; 401
    with the log-in URL when signed out); the plain form gets a 303 back to the paper's card.
    A signed-out visitor's vote (from a genuine form) is cast after they log in."""
    form = await _form(request)
    back = _safe_next(form.get("next"))
    paper_id = paper_id[:200]
    current = session(request)
    if current is None:
        login = _login_url(back_to(back, paper_id))
        response: Response = (
            JSONResponse({"ok": False, "error": "log in to vote", "login": login}, status_code=401)
            if wants_json(request) else RedirectResponse(login, status_code=303)
        )
        if _csrf_ok(request, form.get("csrf")) and library(request).get(paper_id) is not None:
            pending.remember(response, request, "upvote", paper_id)
        return response
    check_csrf(request, form.get("csrf"))
    lib = library(request)
    on = lib.upvote(current.user.id, paper_id)
    if wants_json(request):
        paper = lib.get(paper_id)
        return JSONResponse({"ok": True, "on": on, "count": (paper.upvotes or 0) if paper else 0})
    return RedirectResponse(back_to(back, paper_id), status_code=303)


def _csrf_ok(request: Request, submitted: object) -> bool:
    try:
        check_csrf(request, submitted)
    except InvalidInput:
        return False
    return True


@router.get("/account", response_class=HTMLResponse)
def account(request: Request) -> Response:
    current = session(request)
    if current is None:
        return _login_redirect(request, "/account")
    return _account_page(request, current)


def _account_page(
    request: Request, current: Session, status_code: int = 200, **extra: Any
) -> HTMLResponse:
    lib = library(request)
    ids = [v["paper_id"] for v in lib.accounts.export(current.user)["upvotes"]]
    papers = lib.store.get_many(ids[-200:])
    upvoted = [papers[i] for i in reversed(ids) if i in papers]
    tokens = AccessTokens(lib.store.db).list(current.user.id)
    return render(request, "account.html", {"upvoted": upvoted, "tokens": tokens, **extra},
                  status_code=status_code)


@router.get("/account/export.json")
def export(request: Request) -> Response:
    current = session(request)
    if current is None:
        return _login_redirect(request, "/account")
    data = library(request).accounts.export(current.user)
    return Response(
        orjson.dumps(data, option=orjson.OPT_INDENT_2),
        media_type="application/json",
        headers={"content-disposition": 'attachment; filename="paperfeed-export.json"'},
    )


@router.post("/admin/import", response_class=HTMLResponse)
async def admin_import(request: Request) -> Response:
    current = session(request)
    if current is None:
        return _login_redirect(request, "/account")
    form = await _form(request)
    check_csrf(request, form.get("csrf"))
    if not current.user.is_admin:
        return render(request, "error.html", {"status": 403, "message": "only an admin may import"}, 403)
    uploads: list[UploadFile] = [f for f in form.get("files[]", []) if isinstance(f, UploadFile)]
    if not uploads:
        raise InvalidInput("choose at least one file to import")
    lib = library(request)
    with tempfile.TemporaryDirectory(prefix="upload-", dir=_upload_dir(request)) as tmp:
        paths = []
        total = 0
        for i, upload in enumerate(uploads):
            name = Path(upload.filename or "upload").name[:100] or "upload"
            path = Path(tmp) / f"{i:02d}-{name}"
            with path.open("wb") as out:
                await upload.seek(0)
                shutil.copyfileobj(upload.file, out)
            total += path.stat().st_size
            if total > lib.config.max_upload_bytes:  # the body limit already holds it: belt and braces
                raise InvalidInput(f"uploads are limited to {lib.config.max_upload_bytes:,} bytes in all")
            paths.append(path)
        report = await run_in_threadpool(lib.import_files, paths)
    request.app.state.stats.clear()
    summary = ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in report.summary().items())
    # Files that could not be imported at all: their messages (without the server's temporary
    # path), and a 4xx answer: 413 when one was over a size limit (a decompression bomb).
    errors = [(f.error or "").replace(tmp + "/", "") for f in report.failed]
    status = 413 if any(f.too_large for f in report.failed) else 400 if errors else 200
    text = "\n".join([summary, *errors])
    return _account_page(request, current, status_code=status, report=text)


def _upload_dir(request: Request) -> str:
    home = library(request).config.home
    folder = home / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    return str(folder)
