"""The personal library in the browser: Save and "Not interested" on every card (in-place forms,
see static/app.js), the For you page, the Library page and a page per collection (notes, read
marks, create / rename / delete, exports), What it learned (with reset), the home-page setting,
the digest's collection choice and the secret feed token. Every page needs sign-in (signed out:
the log-in page, coming back after); every POST checks the form's CSRF token; a collection is
addressed by id and another user's is a 404, as if it did not exist."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from paperfeed.accounts import User
from paperfeed.errors import InvalidInput
from paperfeed.library import Library
from paperfeed.personal.collections import Collection
from paperfeed.web import pending
from paperfeed.web.common import (
    back_to,
    check_csrf,
    file_route,
    library,
    marks,
    own_collection,
    render,
    session,
    wants_json,
)

router = APIRouter(include_in_schema=False)

DEFAULT_COLLECTION = "Saved"
FOR_YOU_LIMIT = 20
COLLECTION_RECS = 10
MAX_FIELD = 25_000  # a note is at most 20,000 characters (refused above by the Library)
MAX_ID = 300
Sort = Literal["added", "published", "upvotes"]
SORTS = (("added", "date added"), ("published", "published"), ("upvotes", "upvotes"))
EXPORTS = {
    "bibtex": ("application/x-bibtex; charset=utf-8", "bib", "BibTeX"),
    "ris": ("application/x-research-info-systems; charset=utf-8", "ris", "RIS"),
    "csl-json": ("application/vnd.citationstyles.csl+json; charset=utf-8", "json", "CSL-JSON"),
}


async def _form(request: Request) -> dict[str, str]:
    form = await request.form(max_files=0, max_fields=200)
    data: dict[str, str] = {}
    for key, value in form.multi_items():
        if isinstance(value, str):
            if key == "collection_id":  # several checkboxes
                data[key] = (data[key] + "\n" + value) if key in data else value
            else:
                data.setdefault(key, value[:MAX_FIELD])
    return data


def _safe_next(value: object, fallback: str = "/library") -> str:
    if isinstance(value, str) and value.startswith("/") and not value.startswith(("//", "/\\")):
        return value[:2000]
    return fallback


def _login_url(back: str) -> str:
    return "/login?" + urlencode({"next": back})


def _path_qs(request: Request) -> str:
    return request.url.path + (f"?{request.url.query}" if request.url.query else "")


def _reader(request: Request) -> User | None:
    current = session(request)
    return current.user if current else None


def _signed_out(request: Request) -> RedirectResponse:
    return RedirectResponse(_login_url(_path_qs(request)), status_code=303)


async def _writer(request: Request) -> tuple[User, dict[str, str]]:
    """The signed-in user of a form post whose CSRF token checks out (else 400 / the log-in)."""
    form = await _form(request)
    current = session(request)
    if current is None:
        raise LoginFirst(_safe_next(form.get("next")))
    check_csrf(request, form.get("csrf"))
    return current.user, form


class LoginFirst(Exception):
    """A signed-out visitor posted a personal action: the app answers with a redirect to log-in
    and back (`login_redirect`), whichever route raised it."""

    def __init__(self, back: str) -> None:
        self.back = back


def login_redirect(exc: LoginFirst) -> RedirectResponse:
    return RedirectResponse(_login_url(exc.back), status_code=303)


def _done(request: Request, form: dict[str, str], fallback: str) -> RedirectResponse:
    return RedirectResponse(_safe_next(form.get("next"), fallback), status_code=303)


# -- Save and Not interested (cards and paper pages) -----------------------------------------


async def _card_action(request: Request, paper_id: str, name: str) -> Response:
    """Shared by save and dismiss: a signed-out visitor is sent to log in (the action is done
    after, for a genuine form); a signed-in one needs the form's CSRF token."""
    form = await _form(request)
    back = _safe_next(form.get("next"), "/")
    paper_id = paper_id[:MAX_ID]
    lib = library(request)
    paper = lib.known_paper(paper_id)
    current = session(request)
    if current is None:
        login = _login_url(back_to(back, paper.id))
        response: Response = (
            JSONResponse({"ok": False, "error": f"log in to {name}", "login": login}, status_code=401)
            if wants_json(request) else RedirectResponse(login, status_code=303)
        )
        if _csrf_ok(request, form.get("csrf")) and not form.get("undo"):
            pending.remember(response, request, name, paper.id)
        return response
    check_csrf(request, form.get("csrf"))
    user = current.user
    if name == "save":
        collection = form.get("collection", "").strip()
        if collection:  # the paper page's "Save to": into that collection
            lib.library_add(paper.id, collection, user)
            on = True
        elif paper.id in lib.personal.collections.saved_among(user.id, [paper.id]):
            lib.library_remove(paper.id, None, user)  # pressed again: out of every collection
            on = False
        else:
            lib.library_add(paper.id, DEFAULT_COLLECTION, user)
            on = True
    else:
        if form.get("undo"):
            lib.undismiss(paper.id, user)
            on = False
        else:
            lib.dismiss(paper.id, user)
            on = True
    if wants_json(request):
        return JSONResponse({"ok": True, "on": on})
    return RedirectResponse(back_to(back, paper.id), status_code=303)


def _csrf_ok(request: Request, submitted: object) -> bool:
    try:
        check_csrf(request, submitted)
    except InvalidInput:
        return False
    return True


@router.post("/papers/{paper_id:path}/save")
async def save(request: Request, paper_id: str) -> Response:
    """Save the paper ("Saved", or the form's `collection`); pressed again, unsave it."""
    return await _card_action(request, paper_id, "save")


@router.post("/papers/{paper_id:path}/dismiss")
async def dismiss(request: Request, paper_id: str) -> Response:
    """Not interested (hidden for this user everywhere); with `undo=1`, take that back."""
    return await _card_action(request, paper_id, "dismiss")


def _save_on(lib: Library, user: User, paper_id: str) -> None:
    if paper_id not in lib.personal.collections.saved_among(user.id, [paper_id]):
        lib.library_add(paper_id, DEFAULT_COLLECTION, user)


def _dismiss_on(lib: Library, user: User, paper_id: str) -> None:
    lib.dismiss(paper_id, user)


pending.register("save", "save", _save_on)
pending.register("dismiss", "“not interested”", _dismiss_on)


# -- For you -----------------------------------------------------------------------------------


@router.get("/for-you", response_class=HTMLResponse)
def for_you(request: Request) -> Response:
    user = _reader(request)
    if user is None:
        return _signed_out(request)
    lib = library(request)
    saved = lib.personal.collections.saved_ids(user.id)
    hits = lib.recommend(user=user, limit=FOR_YOU_LIMIT) if saved else []
    return render(request, "for_you.html", {
        "heading": "For you",
        "hits": hits,
        "empty_library": not saved,
        "voted": marks(request, [h.paper.id for h in hits]),
        "path_qs": _path_qs(request),
        "home": lib.personal.settings.home(user.id),
        "collections": lib.collections(user),
    })


@router.post("/account/home")
async def set_home(request: Request) -> Response:
    user, form = await _writer(request)
    library(request).personal.settings.set_home(user.id, form.get("home", ""))
    return _done(request, form, "/for-you")


# -- the Library page and a page per collection ------------------------------------------------


def _saved_context(request: Request, user: User, name: str | None, sort: str) -> dict[str, Any]:
    lib = library(request)
    if sort not in ("added", "published", "upvotes"):
        raise InvalidInput("sort must be one of added, published, upvotes")
    items = lib.library_list(name, user, sort=sort)  # type: ignore[arg-type]
    return {
        "items": items,
        "sort": sort,
        "sorts": SORTS,
        "voted": marks(request, [s.paper.id for s in items]),
        "path_qs": _path_qs(request),
        "collections": lib.collections(user),
        "exports": [(key, label) for key, (_, _, label) in EXPORTS.items()],
    }


@router.get("/library", response_class=HTMLResponse)
def library_page(request: Request, sort: Annotated[str, Query(max_length=20)] = "added") -> Response:
    user = _reader(request)
    if user is None:
        return _signed_out(request)
    lib = library(request)
    subscribed = _subscription(lib, user)
    context = _saved_context(request, user, None, sort)
    context.update({
        "heading": "Your library",
        "collection": None,
        "dismissed": lib.dismissed(user)[:200],
        "feed_since": lib.personal.tokens.created_at(user.id),
        "subscribed": subscribed,
        "digest_collections": set(lib.personal.settings.digest_collections(user.id)),
    })
    return render(request, "library.html", context)


def _subscription(lib: Library, user: User) -> Any:
    """The user's digest subscription (the subscriber with the account's address), if any."""
    from paperfeed.errors import NotFound

    try:
        return lib.subscribers.get(user.email)
    except (NotFound, InvalidInput):
        return None


@router.get("/library/c/{collection_id}", response_class=HTMLResponse)
def collection_page(
    request: Request, collection_id: str, sort: Annotated[str, Query(max_length=20)] = "added"
) -> Response:
    user = _reader(request)
    if user is None:
        return _signed_out(request)
    lib = library(request)
    current = own_collection(lib, user, collection_id)
    context = _saved_context(request, user, current.name, sort)
    hits = lib.recommend(collection=current.name, user=user, limit=COLLECTION_RECS) if current.size else []
    context.update({
        "heading": current.name,
        "collection": current,
        "hits": hits,
        "rec_voted": marks(request, [h.paper.id for h in hits]),
        "feed_since": lib.personal.tokens.created_at(user.id),
    })
    return render(request, "library.html", context)


@router.post("/library/collections")
async def create_collection(request: Request) -> Response:
    user, form = await _writer(request)
    made = library(request).create_collection(form.get("name", ""), user)
    return RedirectResponse(f"/library/c/{quote(made.id)}", status_code=303)


async def _collection_post(
    request: Request, collection_id: str
) -> tuple[Library, User, dict[str, str], Collection]:
    """A checked form post about one of the signed-in user's collections (another user's is a
    404): the Library, the user, the form and the collection."""
    user, form = await _writer(request)
    lib = library(request)
    return lib, user, form, own_collection(lib, user, collection_id)


@router.post("/library/c/{collection_id}/rename")
async def rename_collection(request: Request, collection_id: str) -> Response:
    lib, user, form, current = await _collection_post(request, collection_id)
    lib.rename_collection(current.name, form.get("name", ""), user)
    return RedirectResponse(f"/library/c/{quote(current.id)}", status_code=303)


@router.post("/library/c/{collection_id}/delete")
async def delete_collection(request: Request, collection_id: str) -> Response:
    lib, user, form, current = await _collection_post(request, collection_id)
    if form.get("confirm") != "yes":
        raise InvalidInput("tick “yes, delete it” to delete the collection")
    lib.delete_collection(current.name, user)
    return RedirectResponse("/library", status_code=303)


@router.post("/library/c/{collection_id}/add")
async def add_to_collection(request: Request, collection_id: str) -> Response:
    lib, user, form, current = await _collection_post(request, collection_id)
    lib.library_add(form.get("paper_id", "")[:MAX_ID], current.name, user)
    return _done(request, form, f"/library/c/{quote(current.id)}")


@router.post("/library/c/{collection_id}/remove")
async def remove_from_collection(request: Request, collection_id: str) -> Response:
    lib, user, form, current = await _collection_post(request, collection_id)
    lib.library_remove(form.get("paper_id", "")[:MAX_ID], current.name, user)
    return _done(request, form, f"/library/c/{quote(current.id)}")


@router.post("/library/notes/{paper_id:path}")
async def set_note(request: Request, paper_id: str) -> Response:
    user, form = await _writer(request)
    lib = library(request)
    paper = lib.known_paper(paper_id[:MAX_ID])
    lib.set_note(paper.id, form.get("note", ""), user)
    return RedirectResponse(back_to(_safe_next(form.get("next")), paper.id), status_code=303)


@router.post("/library/read/{paper_id:path}")
async def toggle_read(request: Request, paper_id: str) -> Response:
    """Read / unread, an in-place toggle (`{"ok", "on"}` for the script; else 303 back)."""
    form = await _form(request)
    current = session(request)
    if current is None:
        login = _login_url(_safe_next(form.get("next")))
        if wants_json(request):
            return JSONResponse({"ok": False, "error": "log in first", "login": login}, status_code=401)
        return RedirectResponse(login, status_code=303)
    check_csrf(request, form.get("csrf"))
    lib = library(request)
    paper = lib.known_paper(paper_id[:MAX_ID])
    now_read = paper.id not in lib.personal.feedback.read_ids(current.user.id, [paper.id])
    lib.mark_read(paper.id, now_read, current.user)
    if wants_json(request):
        return JSONResponse({"ok": True, "on": now_read})
    return RedirectResponse(back_to(_safe_next(form.get("next")), paper.id), status_code=303)


@router.get(file_route("/library/export"))
def export(
    request: Request,
    format: Annotated[str, Query(max_length=20)] = "bibtex",  # noqa: A002
    collection_id: Annotated[str | None, Query(max_length=MAX_ID)] = None,
) -> Response:
    user = _reader(request)
    if user is None:
        return _signed_out(request)
    if format not in EXPORTS:
        raise InvalidInput(f"format must be one of {', '.join(EXPORTS)}")
    lib = library(request)
    name = own_collection(lib, user, collection_id).name if collection_id else None
    text = lib.library_export(format, collection=name, user=user)
    media, extension, _ = EXPORTS[format]
    return Response(text, media_type=media, headers={
        "content-disposition": f'attachment; filename="paperfeed-library.{extension}"',
    })


# -- What it learned ---------------------------------------------------------------------------


@router.get("/library/learned", response_class=HTMLResponse)
def learned(request: Request) -> Response:
    user = _reader(request)
    if user is None:
        return _signed_out(request)
    lib = library(request)
    found = lib.explain(None, user)
    top = found.weights[:15]
    papers = lib.store.get_many([pid for pid, _ in top])
    return render(request, "learned.html", {
        "weights": [(papers[pid], w) for pid, w in top if pid in papers],
        "likes": found.likes,
        "dislikes": found.dislikes,
        "dismissed": len(lib.personal.feedback.dismissed_ids(user.id)),
        "saved": len(lib.personal.collections.saved_ids(user.id)),
        "notice": request.query_params.get("reset") and "Forgotten: what you taught it is reset.",
    })


@router.post("/library/reset")
async def reset(request: Request) -> Response:
    user, form = await _writer(request)
    if form.get("confirm") != "yes":
        raise InvalidInput("tick “yes, forget it” to reset what you taught it")
    library(request).reset_feedback(user, saved=form.get("saved") == "yes")
    return RedirectResponse("/library/learned?reset=1", status_code=303)


# -- the digest's For you sections and the feed token ------------------------------------------


@router.post("/library/digest")
async def digest_collections(request: Request) -> Response:
    user, form = await _writer(request)
    chosen = [c for c in form.get("collection_id", "").split("\n") if c]
    library(request).personal.settings.set_digest_collections(user.id, chosen)
    return RedirectResponse("/library#digest", status_code=303)


@router.post("/library/feed-token", response_class=HTMLResponse)
async def feed_token(request: Request) -> Response:
    """A new secret feed token, shown on this one answer only (only its hash is kept)."""
    user, form = await _writer(request)
    lib = library(request)
    if form.get("revoke"):
        lib.revoke_feed_token(user)
        return RedirectResponse("/library#feed", status_code=303)
    token = lib.issue_feed_token(user)
    base = lib.config.base_url.rstrip("/") or str(request.base_url).rstrip("/")
    response = render(request, "feed_token.html", {
        "token": token,
        "for_you": f"{base}/feeds/u/{token}/for-you.atom",
        "per_collection": [(c.name, f"{base}/feeds/u/{token}/c/{c.id}.atom") for c in lib.collections(user)],
    })
    response.headers["cache-control"] = "no-store"
    return response
