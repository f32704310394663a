"""Fetching papers from the arXiv API (`/api/query`, Atom): by search query or by ids.

arXiv's terms: at most one request every 3 seconds, over one connection. The shared HTTP client
enforces both (`min_interval`, one pooled connection); the interval is configurable only so
tests can run fast. Results come in slices of `page_size` (the API allows up to 2,000 a slice
and 30,000 in all).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

from paperfeed.errors import InvalidInput
from paperfeed.harvest.http import FetchError
from paperfeed.harvest.run import HarvestContext
from paperfeed.records import parse_arxiv_id
from paperfeed.sources.arxiv_atom import read_arxiv_atom
from paperfeed.sources.base import SourceError, SourceItem

MAX_SLICE = 2_000
MAX_TOTAL = 30_000
IDS_PER_REQUEST = 100
SORT_BY = ("relevance", "lastUpdatedDate", "submittedDate")


@dataclass(frozen=True)
class ApiParams:
    base_url: str
    query: str | None = None
    ids: tuple[str, ...] = field(default_factory=tuple)
    max_results: int = 100
    page_size: int = 100
    sort_by: str = "submittedDate"

    def __post_init__(self) -> None:
        if not self.query and not self.ids:
            raise InvalidInput("give a --query or at least one --id")
        if not 1 <= self.max_results <= MAX_TOTAL:
            raise InvalidInput(f"max results must be between 1 and {MAX_TOTAL}")
        if not 1 <= self.page_size <= MAX_SLICE:
            raise InvalidInput(f"page size must be between 1 and {MAX_SLICE}")
        if self.sort_by not in SORT_BY:
            raise InvalidInput(f"sort must be one of {', '.join(SORT_BY)}")
        for raw in self.ids:
            if not parse_arxiv_id(raw):
                raise InvalidInput(f"not an arXiv id: {raw[:60]!r}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "base_url": self.base_url,
            "query": self.query,
            "ids": list(self.ids),
            "max_results": self.max_results,
            "sort_by": self.sort_by,
        }


def harvest_arxiv_api(ctx: HarvestContext, params: ApiParams) -> None:
    if params.ids:
        _by_ids(ctx, params)
    if params.query:
        _by_query(ctx, params)


def _by_ids(ctx: HarvestContext, params: ApiParams) -> None:
    ids = list(dict.fromkeys(parse_arxiv_id(raw)[0] for raw in params.ids))  # type: ignore[index]
    for n, start in enumerate(range(0, len(ids), IDS_PER_REQUEST), 1):
        chunk = ids[start : start + IDS_PER_REQUEST]
        request = {"id_list": ",".join(chunk), "max_results": str(len(chunk))}
        ctx.write(_fetch(ctx, params.base_url, request), f"request {n}")
        ctx.tick(len(ids))


def _by_query(ctx: HarvestContext, params: ApiParams) -> None:
    start, n = 0, 0
    while start < params.max_results:
        n += 1
        size = min(params.page_size, params.max_results - start)
        request = {
            "search_query": params.query or "",
            "start": str(start),
            "max_results": str(size),
            "sortBy": params.sort_by,
            "sortOrder": "descending",
        }
        items = _fetch(ctx, params.base_url, request)
        ctx.write(items, f"slice {n} (start {start})")
        ctx.tick(params.max_results)
        if len(items) < size:  # the last slice: the query has no more results
            break
        start += size
        ctx.lock.renew()


def fetch_ids(ctx: HarvestContext, url: str, ids: list[str]) -> list[SourceItem]:
    """The API's records of `ids` (at most `IDS_PER_REQUEST`), fetched in one request and not
    written: the caller decides (a member's submission is checked before it is stored)."""
    return _fetch(ctx, url, {"id_list": ",".join(ids[:IDS_PER_REQUEST]), "max_results": str(len(ids))})


def _fetch(ctx: HarvestContext, url: str, request: dict[str, str]) -> list[SourceItem]:
    """One API response as source items. The API answers a bad query with an Atom feed holding
    an error entry (with HTTP 400): its message is what the user sees."""
    try:
        data = ctx.client.get(url, request).content
    except FetchError as exc:
        if exc.body:
            try:
                list(read_arxiv_atom(io.BytesIO(exc.body), "arXiv API"))
            except SourceError as api_error:
                raise SourceError(f"{api_error} ({exc})") from exc
        raise
    return list(read_arxiv_atom(io.BytesIO(data), "arXiv API"))
