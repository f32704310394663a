"""The JSON API, speaking the Hugging Face papers API (paths, parameters and shapes: see
`hf_api.py`), plus `/api/papers/{id}/related`."""

from __future__ import annotations

from typing import Annotated, Any, Literal, cast

from fastapi import APIRouter, Query, Request

from paperfeed.errors import NotFound
from paperfeed.records import Paper
from paperfeed.web import hf_api
from paperfeed.web.common import library

router = APIRouter(prefix="/api", tags=["Hugging Face papers API"])

MAX_PAGE = 100_000
TRENDING_DAYS = 7  # `sort=trending` without a period: the window of `/trending`
MAX_WINDOW = 100_000


def _submitted_by(paper: Paper, name: str) -> bool:
    """Whether `name` (an HF user name, any case) submitted the paper: HF's `submittedBy` or
    `submittedOnDailyBy` as imported, else the submitter an older import kept."""
    item, own = hf_api.raw_part(paper, "item"), hf_api.raw_part(paper, "paper")
    candidates = [item.get("submittedBy"), own.get("submittedOnDailyBy")]
    if not any(isinstance(c, dict) for c in candidates):
        candidates = [paper.extra.get("submitted_by")]
    names = {
        str(c.get("name", "") if isinstance(c, dict) else c or "").lower() for c in candidates
    }
    return name.strip().lower() in names - {""}


@router.get("/daily_papers", summary="Daily papers of a day, week or month")
def daily_papers(
    request: Request,
    date: Annotated[
        str | None, Query(description="YYYY-MM-DD (default: the latest day)", max_length=40)
    ] = None,
    week: Annotated[str | None, Query(description="YYYY-Www, e.g. 2025-W09", max_length=40)] = None,
    month: Annotated[str | None, Query(description="YYYY-MM", max_length=40)] = None,
    sort: Literal["publishedAt", "trending"] = "publishedAt",
    p: Annotated[int, Query(ge=0, le=MAX_PAGE, description="page, from 0")] = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    submitter: Annotated[str | None, Query(max_length=100)] = None,
) -> list[dict[str, Any]]:
    """Items ordered by upvotes (`publishedAt`, as Daily Papers orders a day) or by trending
    score; `sort=trending` without a period covers the last 7 days with papers, as `/trending`.
    `submitter` is the HF user name of who submitted the paper to Daily Papers. A page past the
    end is an empty list."""
    lib = library(request)
    mode = "trending" if sort == "trending" else "published"
    window = sort == "trending" and not (date or week or month)  # as /trending: the last 7 days

    def listing(n: int | None, offset: int) -> list[Paper]:
        if window:
            return [x for x, _ in lib.trending(TRENDING_DAYS, limit=n or MAX_WINDOW, offset=offset)]
        sort = cast(Literal["published", "trending"], mode)  # checked by daily_scored
        return [x for x, _ in lib.daily_scored(date, week, month, sort=sort, limit=n, offset=offset)[1]]

    if submitter:
        papers = [paper for paper in listing(None, 0) if _submitted_by(paper, submitter)]
        papers = papers[p * limit : (p + 1) * limit]
    else:
        papers = listing(limit, p * limit)
    return [hf_api.daily_item(paper) for paper in papers]


# On the event loop like the search page (see web/pages.py `search_page`): fairer under load.
@router.get("/papers/search", summary="Search papers")
async def search_papers(
    request: Request,
    q: Annotated[str | None, Query(max_length=250, description="query text, an arXiv id or a title")] = None,
    limit: Annotated[int, Query(ge=1, le=120)] = 50,
) -> list[dict[str, Any]]:
    """Items shaped like daily items, best match first. No query: an empty list."""
    if not q or not q.strip():
        return []
    hits = library(request).search(q, limit=limit)
    return [hf_api.daily_item(hit.paper) for hit in hits]


@router.get("/papers/{paper_id:path}/related", summary="Papers related to a paper (paperfeed extension)")
def related_papers(
    request: Request,
    paper_id: str,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
) -> list[dict[str, Any]]:
    """Items shaped like search items, most related first, each with a `score`."""
    hits = library(request).related(paper_id[:200], limit=limit)
    return [{**hf_api.daily_item(hit.paper), "score": round(hit.score, 6)} for hit in hits]


@router.get("/papers/{paper_id:path}", summary="One paper")
def paper(request: Request, paper_id: str) -> dict[str, Any]:
    """The paper object (the `paper` part of a daily item, at top level); 404 when unknown."""
    found = library(request).get(paper_id[:200])
    if found is None:
        raise NotFound(f"no such paper: {paper_id[:80]}")
    return hf_api.paper_object(found)
