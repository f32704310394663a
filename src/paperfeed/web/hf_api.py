"""The Hugging Face papers API shapes: how a Paper looks to HF clients.

A paper imported from Hugging Face comes back as it came in: the importer keeps HF's own fields
(`extra["hf"]`: `submittedBy`, `submittedOnDailyBy`, the authors' `_id` / `user` / `status`,
`discussionId`, the organization with its avatar, `isAuthorParticipating`, the full timestamps)
and they are served as they were. Other papers get stand-ins in HF's shapes. HF's schema requires
`publishedAt`: an undated paper gets `UNDATED` (the Unix epoch), never null."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, time
from typing import Any

from paperfeed.records import Paper, is_withdrawn
from paperfeed.submissions import submitter_name

UNDATED = "1970-01-01T00:00:00.000Z"
_AUTHOR_KEYS = ("_id", "user", "status", "hidden", "statusLastChangedAt")
_ORG_KEYS = ("_id", "name", "fullname", "avatar")


def raw_part(paper: Paper, part: str) -> dict[str, Any]:
    hf = paper.extra.get("hf") if isinstance(paper.extra, dict) else None
    got = hf.get(part) if isinstance(hf, dict) else None
    return got if isinstance(got, dict) else {}


def _hf_user(raw: Any) -> dict[str, Any] | None:
    """An HF user object as imported, with the fields HF's schema requires filled in when the
    import lacked them (a saved or hand-made file may)."""
    if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
        return None
    name = raw["name"]
    defaults = {"_id": _object_id("user", name), "avatarUrl": "", "fullname": name, "isPro": False,
                "type": "user", "user": name}
    return {**defaults, **raw}


def _keywords(value: Any) -> list[str] | None:
    """HF's `ai_keywords` is a list of strings: anything else an import kept is left out."""
    return [k for k in value if isinstance(k, str)] if isinstance(value, list) else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _authors(paper: Paper) -> list[dict[str, Any]]:
    raw = raw_part(paper, "paper").get("authors")
    usable = isinstance(raw, list) and len(raw) == len(paper.authors) and all(isinstance(a, dict) for a in raw)
    out = []
    for i, a in enumerate(paper.authors):
        author: dict[str, Any] = {"_id": _object_id(paper.id, str(i), a.name), "name": a.name, "hidden": False}
        if usable:
            author.update({k: raw[i][k] for k in _AUTHOR_KEYS if k in raw[i]})  # type: ignore[index]
            if user := _hf_user(raw[i].get("user")):  # type: ignore[index]
                author["user"] = user
        out.append(author)
    return out


def _datetime(d: date | None) -> str | None:
    if d is None:
        return None
    return datetime.combine(d, time(0), tzinfo=UTC).isoformat().replace("+00:00", ".000Z")


def _object_id(*parts: str) -> str:
    """A stable 24-hex id in the shape of HF's `_id` fields."""
    return hashlib.blake2b("\x1f".join(parts).encode(), digest_size=12).hexdigest()


def paper_object(paper: Paper) -> dict[str, Any]:
    """The `paper` object of `/api/papers/{id}` and of each daily item."""
    raw = raw_part(paper, "paper")
    obj: dict[str, Any] = {
        "id": paper.id,
        "authors": _authors(paper),
        "publishedAt": _text(raw.get("publishedAt"))
        or _datetime(paper.published or paper.submitted_to_daily) or UNDATED,
        "title": paper.title,
        "summary": paper.abstract,
        "upvotes": paper.upvotes or 0,
        "discussionId": _text(raw.get("discussionId")) or _text(paper.extra.get("discussion_id"))
        or _object_id("discussion", paper.id),
        "withdrawnAt": _withdrawn_at(paper),
    }
    optional = {
        "submittedOnDailyAt": _text(raw.get("submittedOnDailyAt")) or _datetime(paper.submitted_to_daily),
        "submittedOnDailyBy": _hf_user(raw.get("submittedOnDailyBy")),
        "githubRepo": paper.github_repo,
        "githubStars": paper.github_stars,
        "projectPage": paper.project_page,
        "ai_summary": _text(paper.extra.get("ai_summary")),
        "ai_keywords": _keywords(paper.extra.get("ai_keywords")),
    }
    obj.update({k: v for k, v in optional.items() if v is not None})
    if submitter_name(paper) and not raw.get("submittedOnDailyBy"):  # a member submitted it here
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
    org = {
        "_id": _object_id("org", paper.organization or ""),
        "name": paper.organization,
        "fullname": paper.organization_name or paper.organization,
        "avatar": None,
    }
    for part in ("item", "paper"):
        raw = raw_part(paper, part).get("organization")
        if isinstance(raw, dict) and raw.get("name") == paper.organization:
            return {**org, **{k: raw[k] for k in _ORG_KEYS if k in raw}}
    return org


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
    raw = raw_part(paper, "item")
    thumbnail = _text(raw.get("thumbnail"))
    submitted_by = _hf_user(raw.get("submittedBy"))
    item: dict[str, Any] = {
        "paper": paper_object(paper),
        "publishedAt": _text(raw.get("publishedAt")) or _datetime(paper.day) or UNDATED,
        "title": paper.title,
        "summary": paper.abstract,
        "thumbnail": thumbnail if thumbnail and thumbnail.startswith("https://")
        else f"/static/thumbnail.svg#{paper.id}",
        "numComments": paper.comments or 0,
        "submittedBy": submitted_by or _user(submitter_name(paper) or "paperfeed"),
        "isAuthorParticipating": raw.get("isAuthorParticipating") is True,
    }
    if submitter_name(paper) and not raw.get("submittedBy"):  # a member submitted it here
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
