"""The personal library over JSON, for the signed-in user (the session cookie of `web/auth.py`):
collections, saved papers, notes, read marks, "not interested", reset, recommendations, what the
model learned, export, import and the personal feed token.

A personal access token (`Authorization: Bearer ...`, `web/tokens.py`) stands in for the session:
any token reads, a `write` token changes, with no CSRF token. Otherwise a state change (POST, PUT,
PATCH, DELETE) needs the session's CSRF token in the `X-CSRF-Token`
header (`GET /api/library` hands it out; a page has it too): without it the answer is 403, and
without a session 401. Every route reads and writes the signed-in user's data only; another
user's collection is a 404, as if it did not exist.
"""

from __future__ import annotations

import hmac
import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from paperfeed.accounts import User
from paperfeed.errors import InvalidInput
from paperfeed.personal.importing import MAX_IMPORT_BYTES
from paperfeed.records import Paper
from paperfeed.web.common import library, own_collection, session
from paperfeed.web.tokens import token_user

router = APIRouter(prefix="/api/library", tags=["Personal library"])

CSRF_HEADER = "X-CSRF-Token"
MAX_ID = 300
Sort = Literal["added", "published", "upvotes"]
EXPORT_TYPES = {
    "bibtex": ("application/x-bibtex; charset=utf-8", "bib"),
    "ris": ("application/x-research-info-systems; charset=utf-8", "ris"),
    "csl-json": ("application/vnd.citationstyles.csl+json; charset=utf-8", "json"),
}


def signed_in(request: Request) -> User:
    """The user of a bearer token (any scope), else of the session cookie."""
    if (user := token_user(request, write=False)) is not None:
        return user
    current = session(request)
    if current is None:
        raise HTTPException(401, "sign in first")
    return current.user


def changing(request: Request) -> User:
    """The user of a read-write bearer token (no CSRF token needed: see `web/tokens.py`), else the
    signed-in user of a state change that carries the session's CSRF token."""
    if (user := token_user(request, write=True)) is not None:
        return user
    current = session(request)
    if current is None:
        raise HTTPException(401, "sign in first")
    sent = request.headers.get(CSRF_HEADER, "")
    if not sent or not hmac.compare_digest(sent.encode(), current.csrf.encode()):
        raise HTTPException(403, f"missing or wrong {CSRF_HEADER} header")
    return current.user


Reader = Annotated[User, Depends(signed_in)]
Writer = Annotated[User, Depends(changing)]


# -- models -----------------------------------------------------------------------------------

class CollectionOut(BaseModel):
    id: str
    name: str = Field(description="as the user wrote it: plain text, escape it for HTML")
    created_at: str
    size: int


class Overview(BaseModel):
    email: str
    csrf: str = Field(description=f"send it back in the {CSRF_HEADER} header of state changes "
                      "(empty for a request with a bearer token, which needs none)")
    collections: list[CollectionOut]
    dismissed: int
    feed_token_since: str | None


class NameIn(BaseModel):
    name: str = Field(max_length=1000)


class PaperIn(BaseModel):
    paper_id: str = Field(max_length=MAX_ID)


class NoteIn(BaseModel):
    note: str = Field(max_length=200_000, description="empty deletes the note")


class NoteOut(BaseModel):
    paper_id: str
    note: str | None


class ReadIn(BaseModel):
    read: bool = True


class ResetIn(BaseModel):
    saved: bool = Field(False, description="also empty every collection")


class PaperOut(BaseModel):
    id: str
    title: str
    abstract: str
    authors: list[str]
    published: str | None
    upvotes: int


class SavedPaperOut(PaperOut):
    added_at: str
    collections: list[str]
    note: str | None
    read: bool


class RecommendationOut(PaperOut):
    score: float
    reasons: list[str]


class Weight(BaseModel):
    id: str
    title: str | None
    weight: float


class ExplanationOut(BaseModel):
    weights: list[Weight]
    likes: list[str]
    dislikes: list[str]


class Changed(BaseModel):
    changed: bool | int


class ResetOut(BaseModel):
    dismissals: int
    saved: int


class EntryOut(BaseModel):
    where: str
    status: Literal["matched", "added", "duplicate", "rejected"]
    paper_id: str | None
    title: str | None
    matched_by: str | None
    reason: str | None


class ImportOut(BaseModel):
    collection: str
    format: str
    matched: int
    added: int
    duplicates: int
    rejected: int
    entries: list[EntryOut]


class FeedTokenOut(BaseModel):
    token: str = Field(description="shown once; only its hash is kept")


class FeedTokenState(BaseModel):
    active: bool
    created_at: str | None


def _paper(p: Paper) -> dict[str, Any]:
    d = p.to_dict()
    return {k: d[k] for k in ("id", "title", "abstract", "authors", "published", "upvotes")}


def _collection_name(request: Request, user: User, collection_id: str | None) -> str | None:
    if collection_id is None:
        return None
    return own_collection(library(request), user, collection_id[:MAX_ID]).name


# -- routes -----------------------------------------------------------------------------------

@router.get("", summary="The signed-in user's library at a glance (and the CSRF token)")
def overview(request: Request, user: Reader) -> Overview:
    lib = library(request)
    current = session(request)
    return Overview(
        email=user.email,
        csrf=current.csrf if current is not None else "",  # a bearer request needs none
        collections=[CollectionOut(**c.to_dict()) for c in lib.collections(user)],
        dismissed=len(lib.personal.feedback.dismissed_ids(user.id)),
        feed_token_since=lib.personal.tokens.created_at(user.id),
    )


@router.get("/collections", summary="Your collections")
def list_collections(request: Request, user: Reader) -> list[CollectionOut]:
    return [CollectionOut(**c.to_dict()) for c in library(request).collections(user)]


@router.post("/collections", status_code=201, summary="Create a collection")
def create_collection(request: Request, body: NameIn, user: Writer) -> CollectionOut:
    return CollectionOut(**library(request).create_collection(body.name, user).to_dict())


@router.patch("/collections/{collection_id}", summary="Rename a collection")
def rename_collection(request: Request, collection_id: str, body: NameIn, user: Writer) -> CollectionOut:
    name = _collection_name(request, user, collection_id)
    assert name is not None
    return CollectionOut(**library(request).rename_collection(name, body.name, user).to_dict())


@router.delete("/collections/{collection_id}", summary="Delete a collection (its papers stay elsewhere)")
def delete_collection(request: Request, collection_id: str, user: Writer) -> Changed:
    name = _collection_name(request, user, collection_id)
    assert name is not None
    return Changed(changed=library(request).delete_collection(name, user))


@router.get("/collections/{collection_id}/papers", summary="The papers of a collection")
def collection_papers(
    request: Request, collection_id: str, user: Reader, sort: Sort = "added"
) -> list[SavedPaperOut]:
    name = _collection_name(request, user, collection_id)
    return _saved(request, user, name, sort)


@router.post("/collections/{collection_id}/papers", status_code=201, summary="Save a paper to a collection")
def add_paper(request: Request, collection_id: str, body: PaperIn, user: Writer) -> CollectionOut:
    name = _collection_name(request, user, collection_id)
    assert name is not None
    return CollectionOut(**library(request).library_add(body.paper_id, name, user).to_dict())


@router.delete(
    "/collections/{collection_id}/papers/{paper_id:path}", summary="Take a paper out of a collection"
)
def remove_paper(request: Request, collection_id: str, paper_id: str, user: Writer) -> Changed:
    name = _collection_name(request, user, collection_id)
    return Changed(changed=library(request).library_remove(paper_id[:MAX_ID], name, user))


@router.get("/papers", summary="Every saved paper")
def saved_papers(request: Request, user: Reader, sort: Sort = "added") -> list[SavedPaperOut]:
    return _saved(request, user, None, sort)


def _saved(request: Request, user: User, name: str | None, sort: Sort) -> list[SavedPaperOut]:
    items = library(request).library_list(name, user, sort=sort)
    return [
        SavedPaperOut(
            **_paper(s.paper), added_at=s.added_at, collections=list(s.collections), note=s.note, read=s.read
        )
        for s in items
    ]


@router.delete("/papers/{paper_id:path}", summary="Take a paper out of every collection")
def unsave(request: Request, paper_id: str, user: Writer) -> Changed:
    return Changed(changed=library(request).library_remove(paper_id[:MAX_ID], None, user))


@router.get("/notes/{paper_id:path}", summary="Your private note on a paper")
def get_note(request: Request, paper_id: str, user: Reader) -> NoteOut:
    lib = library(request)
    paper = lib.known_paper(paper_id[:MAX_ID])
    return NoteOut(paper_id=paper.id, note=lib.note(paper.id, user))


@router.put("/notes/{paper_id:path}", summary="Set (or with an empty note, delete) your note")
def put_note(request: Request, paper_id: str, body: NoteIn, user: Writer) -> NoteOut:
    lib = library(request)
    kept = lib.set_note(paper_id[:MAX_ID], body.note, user)
    return NoteOut(paper_id=lib.known_paper(paper_id[:MAX_ID]).id, note=kept or None)


@router.put("/read/{paper_id:path}", summary="Mark a paper read or unread")
def put_read(request: Request, paper_id: str, body: ReadIn, user: Writer) -> Changed:
    return Changed(changed=library(request).mark_read(paper_id[:MAX_ID], body.read, user))


@router.get("/dismissed", summary="The papers you marked not interested")
def dismissed(request: Request, user: Reader) -> list[PaperOut]:
    return [PaperOut(**_paper(p)) for p in library(request).dismissed(user)]


@router.post("/dismissed", summary="Not interested: hide a paper everywhere, recommend less like it")
def dismiss(request: Request, body: PaperIn, user: Writer) -> Changed:
    return Changed(changed=library(request).dismiss(body.paper_id, user))


@router.delete("/dismissed/{paper_id:path}", summary="Undo not interested")
def undismiss(request: Request, paper_id: str, user: Writer) -> Changed:
    return Changed(changed=library(request).undismiss(paper_id[:MAX_ID], user))


@router.post("/reset", summary="Reset what you taught it")
def reset(request: Request, body: ResetIn, user: Writer) -> ResetOut:
    return ResetOut(**library(request).reset_feedback(user, saved=body.saved))


@router.get("/recommendations", summary="Papers for you (one collection, or all: For you)")
def recommendations(
    request: Request,
    user: Reader,
    collection_id: Annotated[str | None, Query(max_length=MAX_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
    since: Annotated[str | None, Query(max_length=40, description="YYYY-MM-DD")] = None,
) -> list[RecommendationOut]:
    """Best first, each with its reasons; an empty list when the library is empty or nothing
    clears the relevance floor."""
    name = _collection_name(request, user, collection_id)
    hits = library(request).recommend(collection=name, user=user, limit=limit, since=since)
    return [RecommendationOut(**_paper(h.paper), score=h.score, reasons=list(h.reasons)) for h in hits]


@router.get("/explain", summary="What the recommendations learned from you")
def explain(
    request: Request, user: Reader, collection_id: Annotated[str | None, Query(max_length=MAX_ID)] = None
) -> ExplanationOut:
    lib = library(request)
    name = _collection_name(request, user, collection_id)
    found = lib.explain(name, user)
    titles = {p.id: p.title for p in lib.store.get_many([pid for pid, _ in found.weights[:100]]).values()}
    return ExplanationOut(
        weights=[Weight(id=pid, title=titles.get(pid), weight=w) for pid, w in found.weights[:100]],
        likes=found.likes,
        dislikes=found.dislikes,
    )


@router.get("/export", summary="Download a collection (or your library, or one paper)")
def export(
    request: Request,
    user: Reader,
    format: Literal["bibtex", "ris", "csl-json"] = "bibtex",  # noqa: A002
    collection_id: Annotated[str | None, Query(max_length=MAX_ID)] = None,
    paper_id: Annotated[str | None, Query(max_length=MAX_ID)] = None,
) -> Response:
    name = _collection_name(request, user, collection_id)
    text = library(request).library_export(format, collection=name, paper_id=paper_id, user=user)
    media, extension = EXPORT_TYPES[format]
    return Response(
        text, media_type=media,
        headers={"content-disposition": f'attachment; filename="paperfeed-library.{extension}"'},
    )


@router.post("/import", summary="Import a BibTeX (or other) file into a collection")
async def import_file(
    request: Request,
    user: Writer,
    file: Annotated[UploadFile, File()],
    collection: Annotated[str, Form(max_length=1000)],
) -> ImportOut:
    lib = library(request)
    folder = lib.config.home / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="library-", dir=folder) as tmp:
        path = Path(tmp) / (Path(file.filename or "upload").name[:100] or "upload")
        with path.open("wb") as out:
            await file.seek(0)
            shutil.copyfileobj(file.file, out)
        if path.stat().st_size > MAX_IMPORT_BYTES:
            raise InvalidInput(f"the file is larger than {MAX_IMPORT_BYTES // 2**20} MB")
        report = await run_in_threadpool(lib.library_import, path, collection, user)
    return ImportOut(**report.to_dict())


@router.get("/feed-token", summary="Whether your personal feed token is active")
def feed_token_state(request: Request, user: Reader) -> FeedTokenState:
    since = library(request).personal.tokens.created_at(user.id)
    return FeedTokenState(active=since is not None, created_at=since)


@router.post("/feed-token", summary="Issue a new secret feed token (the old one stops working)")
def issue_feed_token(request: Request, user: Writer) -> FeedTokenOut:
    return FeedTokenOut(token=library(request).issue_feed_token(user))


@router.delete("/feed-token", summary="Revoke your feed token")
def revoke_feed_token(request: Request, user: Writer) -> Changed:
    return Changed(changed=library(request).revoke_feed_token(user))
