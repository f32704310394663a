"""RSS 2.0 and Atom feeds of the daily list, trending, and any search (built with feedgen on
lxml, so every piece of paper text is escaped by the XML serializer).

RSS titles and descriptions are HTML by convention: readers (feedparser, newsboat, ...) decode
their text once as HTML. So in RSS they carry the text HTML-escaped first, and the serializer
escapes that again for XML; `<img onerror=...>` in a title reaches a reader as text. Atom says
what its text is (`type="text"`), so it carries the text escaped once."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, time
from typing import Annotated, Literal
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from feedgen.feed import FeedGenerator

from paperfeed.errors import InvalidInput
from paperfeed.records import Paper
from paperfeed.web.common import library
from paperfeed.web.documented import ATOM, RSS, errors, xml_feed
from paperfeed.web.search_params import SearchQuery

router = APIRouter(prefix="/feeds", tags=["feeds"])

FEED_SIZE = 50
Format = Literal["atom", "rss"]
Text = Annotated[str | None, Query(max_length=1000)]
# Characters XML 1.0 cannot carry at all (lxml refuses them): dropped from untrusted text.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
MEDIA = {"atom": "application/atom+xml; charset=utf-8", "rss": "application/rss+xml; charset=utf-8"}


def _x(text: object) -> str:
    return _NOT_XML.sub("", str(text or ""))


def _html(text: object) -> str:
    """Text as RSS carries it in title and description: HTML-escaped (then XML-escaped)."""
    return html.escape(_x(text), quote=False)


def _feed(request: Request, fmt: str, title: str, subtitle: str, papers: list[Paper]) -> Response:
    if fmt not in MEDIA:
        raise InvalidInput("feeds end in .atom or .rss")
    text = _html if fmt == "rss" else _x
    base = str(request.base_url).rstrip("/")
    self_url = base + request.url.path + (f"?{request.url.query}" if request.url.query else "")
    fg = FeedGenerator()
    fg.id(_x(self_url))
    fg.title(text(title))
    fg.subtitle(text(subtitle))
    fg.description(text(subtitle))
    fg.link(href=_x(self_url), rel="self")
    fg.link(href=base + "/", rel="alternate")
    fg.language("en")
    fg.generator("paperfeed")
    newest = max((p.day for p in papers if p.day), default=None)
    fg.updated(datetime.combine(newest, time(12), tzinfo=UTC) if newest else datetime.now(UTC))
    for paper in papers:
        url = f"{base}/papers/{quote(paper.id, safe='/')}"
        entry = fg.add_entry(order="append")
        entry.id(_x(url))
        entry.title(text(paper.title))
        entry.link(href=_x(url))
        summary = text(paper.abstract)
        entry.summary(summary if summary else None)
        if fmt == "rss":
            entry.description(summary or text(paper.title))
            entry.guid(_x(url), permalink=True)
        for name in paper.author_names[:20]:
            entry.author({"name": _x(name) or "unknown"})
        for cat in paper.categories[:5]:
            entry.category(term=_x(cat))
        when = datetime.combine(paper.day, time(12), tzinfo=UTC) if paper.day else datetime.now(UTC)
        entry.published(when)
        entry.updated(when)
    body = fg.atom_str(pretty=True) if fmt == "atom" else fg.rss_str(pretty=True)
    return Response(body, media_type=MEDIA[fmt])


@router.get(
    "/daily.{fmt}", summary="The daily list as a feed", response_class=Response,
    responses={**xml_feed(ATOM, RSS), **errors(400, 422)},
)
def daily_feed(
    request: Request,
    fmt: Format,
    date: Text = None,
    week: Text = None,
    month: Text = None,
    sort: Literal["upvotes", "published", "trending"] = "upvotes",
) -> Response:
    mode: Literal["published", "trending"] = "trending" if sort == "trending" else "published"
    period, scored = library(request).daily_scored(date, week, month, sort=mode, limit=FEED_SIZE)
    label = period.label if period else "no papers yet"
    return _feed(request, fmt, f"paperfeed: papers of {label}", "Daily papers, most upvoted first",
                 [p for p, _ in scored])


@router.get(
    "/trending.{fmt}", summary="Trending papers as a feed", response_class=Response,
    responses={**xml_feed(ATOM, RSS), **errors(422)},
)
def trending_feed(request: Request, fmt: Format) -> Response:
    scored = library(request).trending(limit=FEED_SIZE)
    return _feed(request, fmt, "paperfeed: trending papers",
                 "The last 7 days by upvotes with a time decay", [p for p, _ in scored])


@router.get(
    "/search.{fmt}", summary="Any search as a feed", response_class=Response,
    responses={**xml_feed(ATOM, RSS), **errors(400, 422)},
)
def search_feed(request: Request, fmt: Format, search: SearchQuery) -> Response:
    q = search.q
    hits = library(request).search(q, limit=FEED_SIZE, **search.filters())
    params = urlencode({"q": q[:100]})
    return _feed(request, fmt, f"paperfeed: {q[:100]}", f"Search results for {params}",
                 [h.paper for h in hits])
