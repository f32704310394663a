"""The Hugging Face papers API shapes: how a Paper looks to HF clients."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, time
from typing import Any

from paperfeed.records import Paper, is_withdrawn
from paperfeed.submissions import submitter_name


def _datetime(d: date | None) -> str | None:
    if d is None:
        return None
    return datetime.combine(d, time(0), tzinfo=UTC).isoformat().replace("+00:00", ".000Z")


def _object_id(*parts: str) -> str:
    """A stable 24-hex id in the shape of HF's `_id` fields."""
    return hashlib.blake2b("\x1f".join(parts).encode(), digest_size=12).hexdigest()


def paper_object(paper: Paper) -> dict[str, Any]:
    """The `paper` object of `/api/papers/{id}` and of each daily item."""
    obj: dict[str, Any] = {
        "id": paper.id,
        "authors": [
            {"_id": _object_id(paper.id, str(i), a.name), "name": a.name, "hidden": False}
            for i, a in enumerate(paper.authors)
        ],
        "publishedAt": _datetime(paper.published or paper.submitted_to_daily),
        "title": paper.title,
        "summary": paper.abstract,
        "upvotes": paper.upvotes or 0,
        "discussionId": _object_id("discussion", paper.id),
        "withdrawnAt": _withdrawn_at(paper),
    }
    optional = {
        "submittedOnDailyAt": _datetime(paper.submitted_to_daily),
        "githubRepo": paper.github_repo,
        "githubStars": paper.github_stars,
        "projectPage": paper.project_page,
        "ai_summary": paper.extra.get("ai_summary"),
        "ai_keywords": paper.extra.get("ai_keywords"),
    }
    obj.update({k: v for k, v in optional.items() if v is not None})
    if submitter_name(paper):
        obj["submittedOnDailyBy"] = _user(submitter_name(paper) or "")
    if paper.organization:
        obj["organization"] = _organization(paper)
    return obj


def _withdrawn_at(paper: Paper) -> str | None:
    if not is_withdrawn(paper):
        return None
    when = paper.extra.get("withdrawn_at")
    return when if isinstance(when, str) else _datetime(paper.updated or paper.published)


def _organization(paper: Paper) -> dict[str, Any]:
    return {
        "_id": _object_id("org", paper.organization or ""),
        "name": paper.organization,
        "fullname": paper.organization_name or paper.organization,
        "avatar": None,
    }


def _user(name: str) -> dict[str, Any]:
    return {
        "_id": _object_id("user", name),
        "avatarUrl": "",
        "fullname": name,
        "name": name,
        "type": "user",
        "isPro": False,
        "isHf": False,
        "isMod": False,
        "followerCount": 0,
    }


def daily_item(paper: Paper) -> dict[str, Any]:
    """One item of `/api/daily_papers` (and of `/api/papers/search`)."""
    item: dict[str, Any] = {
        "paper": paper_object(paper),
        "publishedAt": _datetime(paper.day),
        "title": paper.title,
        "summary": paper.abstract,
        "thumbnail": f"/static/thumbnail.svg#{paper.id}",
        "numComments": paper.comments or 0,
        "submittedBy": _user(submitter_name(paper) or "paperfeed"),
        "isAuthorParticipating": False,
    }
    if submitter_name(paper):
        item["submittedOnDailyBy"] = item["submittedBy"]
    if paper.organization:
        item["organization"] = _organization(paper)
    # huggingface_hub's PaperInfo reads these from the item's top level (and `upvotes` from the
    # paper object with `or`, so 0 would become None): repeat them there. Extra keys are harmless.
    paper_obj = item["paper"]
    item["upvotes"] = paper_obj["upvotes"]
    for key in ("githubRepo", "githubStars", "projectPage", "ai_summary", "ai_keywords"):
        if key in paper_obj:
            item[key] = paper_obj[key]
    return item
