"""Hugging Face papers API responses: `GET /api/daily_papers` (a list of items, each holding a
`paper`), `GET /api/papers/search` (the same item shape) and `GET /api/papers/{id}` (one paper
object at the top level)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, BinaryIO

from paperfeed.records import Author, Paper, RecordError, make_paper, parse_iso_date
from paperfeed.sources._common import (
    as_int,
    as_str,
    clean_name,
    has_bad_utf8,
    load_json_document,
    read_all,
)
from paperfeed.sources.base import DEFAULT_LIMITS, Limits, Rejected, SourceError, SourceItem

FORMAT = "hf-daily"

# Paper/item fields kept in Paper.extra, under the names huggingface_hub's PaperInfo uses.
_EXTRA_FIELDS = {
    "ai_summary": "ai_summary",
    "ai_keywords": "ai_keywords",
    "thumbnail": "thumbnail",
    "discussionId": "discussion_id",
    "submittedBy": "submitted_by",
    "submittedOnDailyBy": "submitted_by",
    "mediaUrls": "media_urls",
    "withdrawnAt": "withdrawn_at",
}


def read_hf_daily(
    stream: BinaryIO, name: str, limits: Limits = DEFAULT_LIMITS
) -> Iterator[SourceItem]:
    """Yield a Paper per item, or Rejected("item N", ...) for an item that is not an object,
    has no paper, or cannot be imported. Raises SourceError when the input is empty, not JSON,
    or JSON of another shape."""
    document, lossy = load_json_document(read_all(stream, limits))
    for number, item in enumerate(_items(document), 1):
        yield _read_item(item, f"item {number}", lossy, FORMAT)


def _items(document: Any) -> list[Any]:
    if isinstance(document, list):
        return document
    if isinstance(document, dict) and (is_hf_item(document) or is_hf_paper(document)):
        return [document]
    raise SourceError("not a Hugging Face papers response (expected a list of items or a paper)")


def is_hf_item(obj: dict[str, Any]) -> bool:
    """A daily-papers or search item: the paper is nested under `paper`."""
    return isinstance(obj.get("paper"), dict)


def is_hf_paper(obj: dict[str, Any]) -> bool:
    """A bare paper object (`GET /api/papers/{id}`)."""
    return "id" in obj and ("title" in obj or "summary" in obj)


def _read_item(item: Any, where: str, lossy: bool, source: str) -> Paper | Rejected:
    if not isinstance(item, dict):
        return Rejected(where, "item is not an object")
    if not (is_hf_item(item) or is_hf_paper(item)):
        return Rejected(where, "item has no paper")
    if lossy and has_bad_utf8(item):
        return Rejected(where, "invalid UTF-8")
    try:
        return paper_from_hf_item(item, source=source)
    except RecordError as exc:
        return Rejected(where, str(exc))


def paper_from_hf_item(item: dict[str, Any], *, source: str = FORMAT) -> Paper:
    """Map a daily/search item, or a bare paper object, to a Paper; raises RecordError."""
    paper = item["paper"] if is_hf_item(item) else item
    outer = item if paper is not item else {}
    arxiv_id = as_str(paper.get("id"), "paper.id")
    if not arxiv_id:
        raise RecordError("paper has no id")
    org_name, org_fullname = _organization(outer.get("organization") or paper.get("organization"))
    daily = outer.get("publishedAt") or paper.get("submittedOnDailyAt")
    return make_paper(
        title=paper.get("title") or outer.get("title"),
        abstract=paper.get("summary") or outer.get("summary"),
        arxiv_id=arxiv_id,
        source=source,
        authors=_authors(paper.get("authors")),
        published=parse_iso_date(paper.get("publishedAt"), "publishedAt"),
        submitted_to_daily=parse_iso_date(daily, "submittedOnDailyAt"),
        upvotes=as_int(paper.get("upvotes", outer.get("upvotes")), "upvotes"),
        comments=as_int(outer.get("numComments", paper.get("numComments")), "numComments"),
        github_repo=as_str(paper.get("githubRepo"), "githubRepo"),
        github_stars=as_int(paper.get("githubStars"), "githubStars"),
        project_page=as_str(paper.get("projectPage"), "projectPage"),
        organization=org_name,
        organization_name=org_fullname,
        extra=_extra(paper, outer),
    )


def _authors(authors: Any) -> list[Author]:
    if authors is None:
        return []
    if not isinstance(authors, list):
        raise RecordError("authors is not a list")
    names = []
    for author in authors:
        raw = author.get("name") if isinstance(author, dict) else author
        if not isinstance(raw, str):
            raise RecordError(f"an author has no name: {author!r:.60}")
        if name := clean_name(raw):
            names.append(Author(name))
    return names


def _organization(org: Any) -> tuple[str | None, str | None]:
    if isinstance(org, dict):
        return as_str(org.get("name"), "organization.name"), as_str(
            org.get("fullname"), "organization.fullname"
        )
    if isinstance(org, str):
        return org or None, None
    return None, None


# Hugging Face's own fields, kept as they came (under `extra["hf"]`) so that the HF-compatible
# API serves them back unchanged: who submitted, the authors' HF accounts, full timestamps, ...
_HF_ITEM_FIELDS = ("publishedAt", "submittedBy", "isAuthorParticipating", "organization", "thumbnail")
_HF_PAPER_FIELDS = ("publishedAt", "submittedOnDailyAt", "submittedOnDailyBy", "authors", "discussionId",
                    "organization")


def _raw_hf(paper: dict[str, Any], outer: dict[str, Any]) -> dict[str, Any]:
    raw: dict[str, Any] = {}
    item = {k: outer[k] for k in _HF_ITEM_FIELDS if outer.get(k) not in (None, "", [], {})}
    own = {k: paper[k] for k in _HF_PAPER_FIELDS if paper.get(k) not in (None, "", [], {})}
    if item:
        raw["item"] = item
    if own:
        raw["paper"] = own
    return raw


def _extra(paper: dict[str, Any], outer: dict[str, Any]) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    for obj in (outer, paper):  # the item's own value wins over the paper's
        for field, key in _EXTRA_FIELDS.items():
            value = obj.get(field)
            if value not in (None, "", [], {}) and key not in extra:
                extra[key] = value
    if raw := _raw_hf(paper, outer):
        extra["hf"] = raw
    return extra
