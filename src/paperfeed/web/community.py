"""The reading room in the browser and over JSON: submitting a paper to today's daily list, and the
discussion under each paper (post, edit, delete). Forms carry the CSRF token; the JSON routes take
the session's token in the `X-CSRF-Token` header, as the personal-library API does."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from paperfeed.accounts import User
from paperfeed.comments import render_body
from paperfeed.errors import InvalidInput, NotFound
from paperfeed.submissions import SourceUnavailable, submitter_name
from paperfeed.web.common import TEMPLATES, card_anchor, check_csrf, library, render, session, wants_json
from paperfeed.web.library_api import changing

router = APIRouter(include_in_schema=False)
api_router = APIRouter(prefix="/api", tags=["Reading room"])

MAX_FIELDS = 10


async def _form(request: Request, max_chars: int) -> dict[str, str]:
    """The form's text fields; one longer than `max_chars` (a comment over the limit) is kept
    whole up to one character past it, so the limit's message can say so."""
    form = await request.form(max_files=0, max_fields=MAX_FIELDS)
    return {k: v[: max_chars + 1] for k, v in form.multi_items() if isinstance(v, str)}


def _login(back: str) -> RedirectResponse:
    return RedirectResponse("/login?" + urlencode({"next": back}), status_code=303)


def _paper_path(paper_id: str) -> str:
    return "/papers/" + quote(paper_id, safe="/.-_~")


# -- submitting --------------------------------------------------------------------------------

@router.get("/submit", response_class=HTMLResponse)
def submit_form(request: Request) -> Response:
    if session(request) is None:
        return _login("/submit")
    lib = library(request)
    return render(request, "submit.html", {
        "limits": lib.submissions.limits, "error": None, "value": "",
        "used": lib.submissions.count_today(session(request).user, datetime.now(UTC).date()),  # type: ignore[union-attr]
    })


@router.post("/submit", response_class=HTMLResponse)
async def submit(request: Request) -> Response:
    form = await _form(request, 500)
    current = session(request)
    if current is None:
        return _login("/submit")
    check_csrf(request, form.get("csrf"))
    lib = library(request)
    raw = form.get("paper", "").strip()
    try:
        done = await run_in_threadpool(lib.submit, raw, current.user)
    except (InvalidInput, NotFound, SourceUnavailable) as exc:  # shown on the form again
        status = 404 if isinstance(exc, NotFound) else 503 if isinstance(exc, SourceUnavailable) else 400
        return _submit_error(request, lib, current.user, raw, str(exc), status)
    if wants_json(request):
        return JSONResponse({"ok": True, **done.to_dict()})
    target = "/daily?" + urlencode({"date": done.day.isoformat()}) + "#" + card_anchor(done.paper.id)
    return RedirectResponse(target, status_code=303)


def _submit_error(request: Request, lib: Any, user: User, raw: str, message: str, status: int) -> Response:
    if wants_json(request):
        return JSONResponse({"ok": False, "error": message}, status_code=status)
    return render(request, "submit.html", {
        "limits": lib.submissions.limits, "error": message, "value": raw[:200],
        "used": lib.submissions.count_today(user, datetime.now(UTC).date()),
    }, status_code=status)


class SubmitIn(BaseModel):
    id: str = Field(max_length=300, description="an arXiv id or URL (2401.01234, https://arxiv.org/abs/...)")


Writer = Annotated[User, Depends(changing)]


@api_router.post("/submit", summary="Submit a paper to today's daily list")
async def submit_json(request: Request, body: SubmitIn, user: Writer) -> dict[str, Any]:
    """400 for a bad id or a limit, 404 for an id arXiv does not know, 503 when the arXiv API
    cannot be reached; nothing is stored then."""
    done = await run_in_threadpool(library(request).submit, body.id, user)
    return {"ok": True, **done.to_dict()}


# -- discussion --------------------------------------------------------------------------------

def _back(paper_id: str, comment_id: str | None = None) -> RedirectResponse:
    anchor = f"#comment-{comment_id}" if comment_id else "#discussion"
    return RedirectResponse(_paper_path(paper_id) + anchor, status_code=303)


def _comment_answer(request: Request, comment: Any, status: int = 200) -> Response:
    if wants_json(request):
        return JSONResponse({"ok": True, "comment": comment.to_dict()}, status_code=status)
    return _back(comment.paper_id, comment.id)


@router.post("/papers/{paper_id:path}/comments")
async def post_comment(request: Request, paper_id: str) -> Response:
    lib = library(request)
    form = await _form(request, lib.config.comment_max_chars)
    current = session(request)
    paper = lib.known_paper(paper_id[:200])
    if current is None:
        return _login(_paper_path(paper.id) + "#discussion")
    check_csrf(request, form.get("csrf"))
    comment = lib.comment(paper.id, form.get("body", ""), current.user)
    return _comment_answer(request, comment, 201 if wants_json(request) else 303)


@router.post("/comments/{comment_id}/edit")
async def edit_comment(request: Request, comment_id: str) -> Response:
    lib = library(request)
    form = await _form(request, lib.config.comment_max_chars)
    current = session(request)
    if current is None:
        return _login("/")
    check_csrf(request, form.get("csrf"))
    return _comment_answer(request, lib.edit_comment(comment_id, form.get("body", ""), current.user))


@router.post("/comments/{comment_id}/delete")
async def delete_comment(request: Request, comment_id: str) -> Response:
    lib = library(request)
    form = await _form(request, 100)
    current = session(request)
    if current is None:
        return _login("/")
    check_csrf(request, form.get("csrf"))
    return _comment_answer(request, lib.delete_comment(comment_id, current.user))


@api_router.get("/papers/{paper_id:path}/comments", summary="A paper's comments, oldest first")
def comments_json(request: Request, paper_id: str) -> dict[str, Any]:
    lib = library(request)
    return {"comments": [c.to_dict() for c in lib.paper_comments(paper_id[:200])]}


TEMPLATES.env.globals["submitted_by"] = submitter_name
TEMPLATES.env.filters["comment_html"] = render_body
# Templates pass the id of a paper they hold, so the comments are read without reading the paper
# again (as `Library.paper_comments` does, to refuse an unknown id).
TEMPLATES.env.globals["paper_comments"] = lambda request, paper_id: library(request).comments.of_paper(paper_id)
TEMPLATES.env.globals["comment_limit"] = lambda request: library(request).config.comment_max_chars
