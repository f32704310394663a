"""The HTML pages: daily / weekly / monthly lists, trending, search, paper pages with related
papers, organization and author pages, about. Server-rendered; the only script loads related
papers after a paper page."""

from __future__ import annotations

import secrets
import time
from dataclasses import astuple
from datetime import date, timedelta
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from markupsafe import Markup, escape

from paperfeed import exports, feeds
from paperfeed.errors import InvalidInput, NotFound
from paperfeed.records import Paper
from paperfeed.search import Hit
from paperfeed.web import citation
from paperfeed.web.common import TEMPLATES, Marks, csrf_token, library, marks, render, session, viewer
from paperfeed.web.search_params import SearchForm, SearchParams

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
TRENDING_DAYS = 7
SEARCH_PAGE = 20
RELATED_LIMIT = 8
HOME_MIN = 10  # the front page shows at least this many papers when the store has them
MODES = [("", "auto"), ("keyword", "keyword"), ("hybrid", "hybrid"), ("semantic", "semantic")]
Text = Annotated[str | None, Query(max_length=1000)]
Page = Annotated[int, Query(ge=0, le=10_000)]


def _voted(request: Request, papers: list[Paper]) -> Marks:
    """The signed-in user's upvotes and saves among the page's papers."""
    return marks(request, [p.id for p in papers])


def _hidden(request: Request) -> set[str]:
    """The papers the signed-in user dismissed (for the listings the Library does not filter)."""
    user = viewer(request)
    return library(request).personal.feedback.dismissed_ids(user.id) if user else set()


def _path_qs(request: Request) -> str:
    return request.url.path + (f"?{request.url.query}" if request.url.query else "")


def _href(path: str, **params: Any) -> str:
    kept = {k: v for k, v in params.items() if v not in (None, "", 0)}
    return path + ("?" + urlencode(kept) if kept else "")


def _period_nav(request: Request, period: feeds.Period, sort: str) -> dict[str, Any]:
    """Previous / next links (to the nearest period that has papers: never into an empty
    future), the day / week / month views and the sort links of a period's page."""
    lib = library(request)
    s = sort if sort == "trending" else None
    key = {"day": "date", "week": "week", "month": "month"}[period.kind]
    before = lib.adjacent_day(period.start, -1)
    after = lib.adjacent_day(period.end, 1)

    def link(day: date | None) -> tuple[str, str] | None:
        if day is None:
            return None
        target = _period_of(period.kind, day)
        return _href("/daily", **{key: target.label}, sort=s), target.title

    prev, nxt = link(before), link(after)
    day = period.start
    views = [
        ("day", None if period.kind == "day" else _href("/daily", date=day.isoformat(), sort=s)),
        ("week", None if period.kind == "week" else _href("/daily", week=day.strftime("%G-W%V"), sort=s)),
        ("month", None if period.kind == "month" else _href("/daily", month=day.strftime("%Y-%m"), sort=s)),
    ]
    sort_links = [
        ("by upvotes", None if sort != "trending" else _href("/daily", **{key: period.label})),
        ("trending", None if sort == "trending" else _href("/daily", **{key: period.label}, sort="trending")),
    ]
    return {
        "prev_href": prev[0] if prev else None,
        "prev_label": prev[1] if prev else None,
        "next_href": nxt[0] if nxt else None,
        "next_label": nxt[1] if nxt else None,
        "views": views,
        "sort_links": sort_links,
        "feed_href": _href("/feeds/daily.atom", **{key: period.label}, sort=s),
    }


def _period_of(kind: str, day: date) -> feeds.Period:
    if kind == "day":
        return feeds.day_period(day)
    if kind == "week":
        return feeds.week_period(day.strftime("%G-W%V"))
    return feeds.month_period(day.strftime("%Y-%m"))


def _home_sections(
    request: Request, period: feeds.Period | None, shown: int, mode: feeds.Sort
) -> list[dict[str, Any]]:
    """What the front page adds below a thin latest day: the rest of its week (the week
    before when the day is a Monday), a day per heading, and then, if that is still less than
    a screenful, the papers that have no date at all, under their own heading."""
    lib = library(request)
    sections: list[dict[str, Any]] = []
    if period is not None and shown < HOME_MIN:
        week = _period_of("week", period.start)
        start, end, heading = week.start, period.start - timedelta(days=1), "Earlier that week"
        if start > end:
            week = week.shifted(-1)
            start, end, heading = week.start, week.end, "The week before"
        rest = lib.accounts.listing(feeds.Period("week", start, end), sort=mode, limit=PAGE_SIZE)
        hidden = _hidden(request)
        by_day: dict[date, list[tuple[Paper, float]]] = {}
        for paper, score in rest:
            if paper.day is not None and paper.id not in hidden:
                by_day.setdefault(paper.day, []).append((paper, score))
        for i, day in enumerate(sorted(by_day, reverse=True)):
            sections.append({
                "kicker": (f"{heading}, {week.title}", _href("/daily", week=week.label)) if i == 0 else None,
                "heading": feeds.day_title(day),
                "href": _href("/daily", date=day.isoformat(), sort="trending" if mode == "trending" else None),
                "papers": by_day[day],
            })
            shown += len(by_day[day])
    if shown < HOME_MIN:
        hidden = _hidden(request)
        undated = [x for x in lib.undated(limit=PAGE_SIZE + 1) if x.id not in hidden]
        if undated:
            sections.append({
                "id": "undated",
                "heading": "Undated papers",
                "note": "These came without a date, so they are on no day's list: a saved Hugging "
                "Face page shows some papers' dates and not others (the bundled demo sample is "
                "two such pages).",
                "href": "/undated" if len(undated) > PAGE_SIZE else None,
                "papers": [(x, float(x.upvotes or 0)) for x in undated[:PAGE_SIZE]],
            })
    return sections


@router.get("/", response_class=HTMLResponse)
@router.get("/daily", response_class=HTMLResponse)
def daily(
    request: Request,
    date: Text = None,
    week: Text = None,
    month: Text = None,
    sort: Text = None,
    p: Page = 0,
) -> HTMLResponse:
    """A day, week or month. The front page (no period asked for) is the latest day with
    papers, filled up to a screenful (`_home_sections`)."""
    lib = library(request)
    user = viewer(request)
    if request.url.path == "/" and user is not None and lib.personal.settings.home(user.id) == "foryou":
        return RedirectResponse("/for-you", status_code=303)  # type: ignore[return-value]
    mode: feeds.Sort = "trending" if sort == "trending" else "published"
    if sort not in (None, "", "trending", "published", "upvotes"):
        raise InvalidInput("sort must be upvotes or trending")
    period, scored = lib.daily_scored(
        date, week, month, sort=mode, limit=PAGE_SIZE + 1, offset=p * PAGE_SIZE, user=viewer(request)
    )
    home = not (date or week or month) and p == 0
    sections = _home_sections(request, period, len(scored), mode) if home else []
    everything = [x for x, _ in scored] + [x for s in sections for x, _ in s["papers"]]
    context: dict[str, Any] = {
        "papers": scored[:PAGE_SIZE],
        "sections": sections,
        "voted": _voted(request, everything),
        "path_qs": _path_qs(request),
        "show_score": mode == "trending",
        "feed_href": "/feeds/daily.atom",
        "heading": "Daily papers",
        "period": period,
    }
    if period is not None:
        context["heading"] = f"Papers of {period.title}"
        context.update(_period_nav(request, period, mode))
        if len(scored) > PAGE_SIZE:
            key = {"day": "date", "week": "week", "month": "month"}[period.kind]
            context["more_href"] = _href(
                "/daily", **{key: period.label}, sort="trending" if mode == "trending" else None, p=p + 1
            )
    return render(request, "daily.html", context)


@router.get("/trending", response_class=HTMLResponse)
def trending(request: Request, p: Page = 0) -> HTMLResponse:
    scored = library(request).trending(
        TRENDING_DAYS, limit=PAGE_SIZE + 1, offset=p * PAGE_SIZE, user=viewer(request)
    )
    return render(
        request,
        "daily.html",
        {
            "heading": "Trending",
            "explanation": f"The last {TRENDING_DAYS} days, by upvotes with a time decay "
            f"(upvotes / (age in hours + 2)^{feeds.GRAVITY}; see About).",
            "papers": scored[:PAGE_SIZE],
            "voted": _voted(request, [x for x, _ in scored]),
            "path_qs": _path_qs(request),
            "show_score": True,
            "feed_href": "/feeds/trending.atom",
            "more_href": _href("/trending", p=p + 1) if len(scored) > PAGE_SIZE else None,
        },
    )


# `async def` though it blocks: a search is a few ms of CPU under the GIL, so running it on the
# event loop (one request at a time per worker process, in arrival order) is fairer than FastAPI's
# thread pool, where 8 connections' searches fight over the GIL and the slowest wait longest:
# at 1M papers with 32 clients the p99 fell from ~0.7 s to ~0.25 s (BENCHMARKS.md).
# Parallelism comes from `serve --workers N`.
@router.get("/search", response_class=HTMLResponse)
async def search_page(
    request: Request, search: SearchForm, p: Annotated[int, Query(ge=0, le=49)] = 0
) -> HTMLResponse:
    lib = library(request)
    q = search.q
    error = None
    searched = bool(q.strip() or search.organization or search.author)
    status = 200
    timing = None
    results = Markup("")
    if searched:
        try:
            if q.strip():
                started = time.perf_counter()
                results, hit = _search_results(request, search, p)
                took = (time.perf_counter() - started) * 1000
                timing = f'search;dur={took:.1f};desc="{"cache hit" if hit else "cache miss"}"'
            else:
                filters = search.filters()
                papers = lib.papers_by(
                    organization=filters["organization"], author=filters["author"],
                    limit=(p + 1) * SEARCH_PAGE,
                )
                hidden = _hidden(request)
                hits = [Hit(x, float(x.upvotes or 0)) for x in papers if x.id not in hidden]
                voted = _voted(request, [h.paper for h in hits[p * SEARCH_PAGE :]])
                results = _results_html(hits, search, p, voted, csrf_token(request), _path_qs(request))
        except InvalidInput as exc:
            error, status, searched = str(exc), 400, False
    response = render(
        request,
        "search.html",
        {**search.form(), "modes": MODES, "error": error, "searched": searched, "results": results,
         "search_feed": _href("/feeds/search.atom", **search.given()) if q.strip() else None,
         "missing_id": lib.missing_arxiv_id(q) if searched and q else None},
        status_code=status,
    )
    if timing:  # how long the search took and whether the cache answered (browser dev tools)
        response.headers["Server-Timing"] = timing
    return response


# Stand-ins for the two per-visitor values of a result list (its forms' CSRF token and return
# path), so an anonymous visitor's list can be rendered once and served to everyone. Random per
# process: no paper text or query can contain them.
_CSRF_SLOT = "pfcsrf" + secrets.token_hex(16)
_NEXT_SLOT = "pfnext" + secrets.token_hex(16)


def _search_results(request: Request, search: SearchParams, p: int) -> tuple[Markup, bool]:
    """The result list of a search as HTML, and whether a cache answered. For a visitor who is
    not signed in (no upvotes to show) the rendered list is kept in `app.state.result_pages`,
    emptied with the search cache whenever the store changes: rendering 20 results is ~0.7 ms,
    about half of what a repeated search costs the server."""
    lib = library(request)

    def hits() -> list[Hit]:
        return lib.search(search.q, limit=(p + 1) * SEARCH_PAGE, user=viewer(request), **search.filters())

    csrf, path_qs = csrf_token(request), _path_qs(request)
    if session(request) is not None:
        found = hits()
        voted = _voted(request, [h.paper for h in found[p * SEARCH_PAGE :]])
        return _results_html(found, search, p, voted, csrf, path_qs), lib.search_cache.last_was_hit()
    pages = request.app.state.result_pages
    key = (" ".join(search.q.split()), *astuple(search)[1:], p)
    html = pages.get(key, lambda: str(_results_html(hits(), search, p, set(), _CSRF_SLOT, _NEXT_SLOT)))
    hit = pages.last_was_hit() or lib.search_cache.last_was_hit()
    return Markup(html.replace(_CSRF_SLOT, str(escape(csrf))).replace(_NEXT_SLOT, str(escape(path_qs)))), hit


def _results_html(
    hits: list[Hit], search: SearchParams, p: int, voted: frozenset[str] | set[str], csrf: str,
    path_qs: str,
) -> Markup:
    """Page `p` of `hits` (the first (p + 1) * SEARCH_PAGE results) as the result list's HTML."""
    more = len(hits) == (p + 1) * SEARCH_PAGE and p < 49
    feed_params = search.given()
    return Markup(TEMPLATES.get_template("_search_results.html").render(
        hits=hits[p * SEARCH_PAGE :],
        voted=voted,
        csrf=csrf,
        path_qs=path_qs,
        feed_href=_href("/feeds/search.atom", **feed_params),
        more_href=_href("/search", **feed_params, p=p + 1) if more else None,
        first=p * SEARCH_PAGE + 1,
    ))


def _paper_or_404(request: Request, paper_id: str) -> Paper:
    paper = library(request).get(paper_id[:200])
    if paper is None:
        raise NotFound(f"no such paper: {paper_id[:80]}")
    return paper


@router.get("/papers/{paper_id:path}/related", response_class=HTMLResponse)
def related_page(
    request: Request, paper_id: str, fragment: Annotated[int, Query(ge=0, le=1)] = 0
) -> HTMLResponse:
    lib = library(request)
    paper = _paper_or_404(request, paper_id)
    hits = lib.related(paper.id, limit=RELATED_LIMIT, user=viewer(request))
    context = {
        "p": paper,
        "hits": hits,
        "voted": _voted(request, [h.paper for h in hits]),
        "path_back": f"/papers/{paper.id}",
    }
    return render(request, "related_fragment.html" if fragment else "related.html", context)


@router.get("/papers/{paper_id:path}", response_class=HTMLResponse)
def paper_page(request: Request, paper_id: str) -> HTMLResponse:
    paper = _paper_or_404(request, paper_id)
    # What `request.url_for("paper_page", ...)` gives (a path parameter is not quoted), without
    # its walk over every route of the app: a tenth of this page's time at 1M papers.
    page_url = str(request.base_url).rstrip("/") + "/papers/" + paper.id
    context: dict[str, Any] = {
        "p": paper,
        "voted": _voted(request, [paper]),
        "bibtex": exports.to_bibtex([paper]),
        "meta_tags": citation.meta_html(paper, page_url),
        "json_ld": citation.json_ld(paper, page_url),
    }
    user = viewer(request)
    if user is not None:  # the reader's collections for "Save to", and whether it is dismissed
        lib = library(request)
        context["collections"] = lib.collections(user)
        context["in_collections"] = next(
            (m.collections for m in lib.personal.collections.memberships(user.id) if m.paper_id == paper.id), ()
        )
        context["dismissed"] = paper.id in lib.personal.feedback.dismissed_ids(user.id)
    return render(request, "paper.html", context)


def _listing(request: Request, heading: str, papers: list[Paper], p: int, more: str) -> HTMLResponse:
    hidden = _hidden(request)
    papers = [x for x in papers if x.id not in hidden]
    return render(
        request,
        "list.html",
        {
            "heading": heading,
            "papers": papers[:PAGE_SIZE],
            "voted": _voted(request, papers),
            "path_qs": _path_qs(request),
            "more_href": _href(more, p=p + 1) if len(papers) > PAGE_SIZE else None,
        },
    )


@router.get("/organizations/{name:path}", response_class=HTMLResponse)
def organization_page(request: Request, name: str, p: Page = 0) -> HTMLResponse:
    name = name[:300]
    papers = library(request).papers_by(organization=name, limit=PAGE_SIZE + 1, offset=p * PAGE_SIZE)
    shown = next((x.organization_name for x in papers if x.organization_name), None) or name
    return _listing(request, f"Papers from {shown}", papers, p, f"/organizations/{quote(name, safe='')}")


@router.get("/authors/{name:path}", response_class=HTMLResponse)
def author_page(request: Request, name: str, p: Page = 0) -> HTMLResponse:
    name = name[:300]
    papers = library(request).papers_by(author=name, limit=PAGE_SIZE + 1, offset=p * PAGE_SIZE)
    return _listing(request, f"Papers by {name}", papers, p, f"/authors/{quote(name, safe='')}")


@router.get("/undated", response_class=HTMLResponse)
def undated_page(request: Request, p: Page = 0) -> HTMLResponse:
    papers = library(request).undated(limit=PAGE_SIZE + 1, offset=p * PAGE_SIZE)
    return _listing(request, "Undated papers", papers, p, "/undated")


@router.get("/about", response_class=HTMLResponse)
def about(request: Request) -> HTMLResponse:
    return render(request, "about.html", {"trending_days": TRENDING_DAYS, "gravity": feeds.GRAVITY})
