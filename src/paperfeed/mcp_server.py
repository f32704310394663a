"""paperfeed as an MCP server (the official `mcp` SDK's `MCPServer`): tools to search, read a
paper, find related papers, list a day / week / month or trending, and, for an authenticated
user, recommendations, saving to a collection and "not interested". A paper is also a resource,
`paper://{id}`, in markdown.

Who the caller is comes from `identify` (the transport decides: the HTTP app reads the
`Authorization: Bearer` header, `paperfeed mcp` over stdio reads `PAPERFEED_TOKEN` or acts as the
instance owner). Read tools work for anyone; the personal tools need a user, and the ones that
change something need a `write` token. Every failure is a tool error with a plain message."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Literal, TypeVar

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceNotFoundError, ToolError
from pydantic import BaseModel, Field

from paperfeed import exports
from paperfeed.errors import PaperfeedError
from paperfeed.library import Library
from paperfeed.records import Paper

MAX_RESULTS = 100
T = TypeVar("T")
ABSTRACT_CHARS = 600


class Caller(BaseModel):
    """Who is calling: a user id and whether they may change things."""

    user_id: str
    can_write: bool


Identify = Callable[[Context], Caller | None]


class PaperSummary(BaseModel):
    id: str
    title: str
    authors: list[str]
    date: str | None = Field(description="the day the paper is listed on (ISO), null when undated")
    upvotes: int
    abstract: str = Field(description=f"the abstract, cut at {ABSTRACT_CHARS} characters in lists")
    url: str | None = Field(description="the arXiv page, when the paper is on arXiv")
    categories: list[str]
    organization: str | None


class ScoredPaper(PaperSummary):
    score: float


class PaperList(BaseModel):
    papers: list[ScoredPaper]


class Period(BaseModel):
    kind: Literal["day", "week", "month"]
    label: str
    start: str
    end: str


class DailyList(BaseModel):
    period: Period | None
    papers: list[ScoredPaper]


class Recommended(ScoredPaper):
    reasons: list[str]


class Recommendations(BaseModel):
    papers: list[Recommended]


class Saved(BaseModel):
    paper_id: str
    collection: str


class Dismissed(BaseModel):
    paper_id: str
    dismissed: bool


Limit = Annotated[int, Field(ge=1, le=MAX_RESULTS, description=f"1 to {MAX_RESULTS}")]
Text = Annotated[str, Field(max_length=1000)]
Id = Annotated[str, Field(max_length=300, description="an arXiv id or paperfeed id")]
DateText = Annotated[str | None, Field(max_length=20, description="YYYY-MM-DD")]


def _summary(paper: Paper, full: bool = False) -> dict:
    abstract = paper.abstract or ""
    if not full and len(abstract) > ABSTRACT_CHARS:
        abstract = abstract[: ABSTRACT_CHARS - 1].rstrip() + "…"
    return {
        "id": paper.id,
        "title": paper.title,
        "authors": [a.name for a in paper.authors],
        "date": paper.day.isoformat() if paper.day else None,
        "upvotes": paper.upvotes or 0,
        "abstract": abstract,
        "url": f"https://arxiv.org/abs/{paper.arxiv_id}" if paper.arxiv_id else None,
        "categories": list(paper.categories),
        "organization": paper.organization_name or paper.organization,
    }


def _scored(paper: Paper, score: float) -> ScoredPaper:
    return ScoredPaper(**_summary(paper), score=round(float(score), 6))


def build_server(lib: Library, identify: Identify) -> MCPServer:
    """The MCP server over `lib`; `identify` tells who calls (None: nobody signed in)."""
    server = MCPServer(
        name="paperfeed",
        instructions="Research papers: search, daily and trending lists, related papers; with a "
        "token, your recommendations, collections and 'not interested'.",
    )

    def caller(ctx: Context, write: bool) -> Caller:
        who = identify(ctx)
        if who is None:
            raise ToolError("this tool needs a personal access token (Authorization: Bearer ...)")
        if write and not who.can_write:
            raise ToolError("this token is read-only: this tool needs a write token")
        return who

    def run(action: Callable[[], T]) -> T:
        try:
            return action()
        except PaperfeedError as exc:
            raise ToolError(str(exc)) from None

    @server.tool(description="Search papers by keywords, meaning (semantic) or both (hybrid).")
    def search(
        query: Text,
        mode: Literal["keyword", "hybrid", "semantic"] | None = None,
        limit: Limit = 10,
        since: DateText = None,
        until: DateText = None,
        category: Annotated[str | None, Field(max_length=100)] = None,
        organization: Annotated[str | None, Field(max_length=300)] = None,
        author: Annotated[str | None, Field(max_length=300)] = None,
    ) -> PaperList:
        hits = run(lambda: lib.search(query, mode=mode, limit=limit, since=since, until=until,
                                      category=category, organization=organization, author=author))
        return PaperList(papers=[_scored(h.paper, h.score) for h in hits])

    @server.tool(description="One paper by arXiv id (with or without version) or paperfeed id.")
    def paper(id: Annotated[str, Field(max_length=300)]) -> PaperSummary:  # noqa: A002
        found = run(lambda: lib.known_paper(id))
        return PaperSummary(**_summary(found, full=True))

    @server.tool(description="Papers related to a paper.")
    def related(id: Annotated[str, Field(max_length=300)], limit: Limit = 10) -> PaperList:  # noqa: A002
        found = run(lambda: lib.known_paper(id))
        hits = run(lambda: lib.related(found.id, limit=limit))
        return PaperList(papers=[_scored(h.paper, h.score) for h in hits])

    @server.tool(description="The papers of a day (date), ISO week (2025-W06) or month (2025-02); "
                 "default the latest day. sort: upvotes or trending.")
    def daily(
        date: DateText = None,
        week: Annotated[str | None, Field(max_length=10)] = None,
        month: Annotated[str | None, Field(max_length=10)] = None,
        sort: Literal["upvotes", "trending"] = "upvotes",
        limit: Limit = 20,
    ) -> DailyList:
        mode: Literal["published", "trending"] = "trending" if sort == "trending" else "published"
        period, scored = run(lambda: lib.daily_scored(date, week, month, sort=mode, limit=limit))
        shown = None if period is None else Period(
            kind=period.kind, label=period.label, start=period.start.isoformat(), end=period.end.isoformat()
        )
        return DailyList(period=shown, papers=[_scored(p, s) for p, s in scored])

    @server.tool(description="Trending papers of the last `days` days (default 7).")
    def trending(days: Annotated[int, Field(ge=1, le=366)] = 7, limit: Limit = 20) -> PaperList:
        scored = run(lambda: lib.trending(days, limit=limit))
        return PaperList(papers=[_scored(p, s) for p, s in scored])

    @server.tool(description="Your recommendations (needs a token), from one collection or all.")
    def recommend(
        ctx: Context, collection: Annotated[str | None, Field(max_length=200)] = None, limit: Limit = 10
    ) -> Recommendations:
        who = caller(ctx, write=False)
        found = run(lambda: lib.recommend(collection=collection, user=who.user_id, limit=limit))
        return Recommendations(papers=[
            Recommended(**_summary(r.paper), score=round(float(r.score), 6), reasons=list(r.reasons))
            for r in found
        ])

    @server.tool(description="Save a paper to one of your collections (created if new; needs a write token).")
    def save(
        ctx: Context, paper_id: Id, collection: Annotated[str, Field(max_length=200)]
    ) -> Saved:
        who = caller(ctx, write=True)
        found = run(lambda: lib.known_paper(paper_id))
        saved = run(lambda: lib.library_add(found.id, collection, user=who.user_id))
        return Saved(paper_id=found.id, collection=saved.name)

    @server.tool(description="Mark a paper 'not interested' (needs a write token).")
    def dismiss(ctx: Context, paper_id: Annotated[str, Field(max_length=300)]) -> Dismissed:
        who = caller(ctx, write=True)
        found = run(lambda: lib.known_paper(paper_id))
        newly = run(lambda: lib.dismiss(found.id, user=who.user_id))
        return Dismissed(paper_id=found.id, dismissed=bool(newly))

    @server.resource("paper://{paper_id}", name="paper", mime_type="text/markdown",
                     description="A paper as markdown: title, authors, date, abstract, links.")
    def paper_markdown(paper_id: str) -> str:
        found = lib.get(paper_id[:300])
        if found is None:
            raise ResourceNotFoundError(f"no such paper: {paper_id[:80]}")
        return exports.to_markdown(found)

    return server
