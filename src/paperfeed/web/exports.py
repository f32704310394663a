"""Papers as files for reference managers and agents: one paper (`/papers/{id}.bib`, `.ris`,
`.csl.json` / `.json`, `.md`), a day / week / month (`/daily.bib?date=...`) and a search
(`/search.bib?q=...`). The markdown is what `huggingface_hub`'s `read_paper` and `hf papers read`
fetch (`GET /papers/{id}.md`). A collection's export is `GET /api/library/export`.

The writers are `paperfeed.exports`; this module only picks the papers and the HTTP headers."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from paperfeed import exports, feeds
from paperfeed.errors import InvalidInput, NotFound
from paperfeed.records import Paper
from paperfeed.web.common import file_route, library
from paperfeed.web.search_params import SearchQuery

router = APIRouter(tags=["Exports"])

Text = Annotated[str | None, Query(max_length=1000)]
MAX_SEARCH_EXPORT = 200
MAX_PERIOD_EXPORT = 1000
# Errors are plain text here (`common.FILE_ROUTES`): a reference manager or `curl -f` asked for a
# file, and shows or logs the body as it is. A bad parameter is a 400 (a validation error too, not
# FastAPI's JSON 422), an unknown paper a 404.
PLAIN_ERRORS: dict[int | str, dict[str, Any]] = {
    "4XX": {"description": "400 for a bad parameter, 404 for an unknown paper: what is wrong, in "
            "plain text", "content": {"text/plain": {"schema": {"type": "string"}}}},
}


@dataclass(frozen=True)
class Format:
    """One export format: its writer over a list of papers, media type and file extension."""

    write: Callable[[Sequence[Paper]], str]
    media: str
    ext: str
    inline: bool = False


FORMATS: dict[str, Format] = {
    "bib": Format(exports.to_bibtex, "application/x-bibtex; charset=utf-8", "bib"),
    "ris": Format(exports.to_ris, "application/x-research-info-systems; charset=utf-8", "ris"),
    "csl.json": Format(exports.to_csl_json, "application/vnd.citationstyles.csl+json; charset=utf-8", "json"),
    "json": Format(exports.to_csl_json, "application/vnd.citationstyles.csl+json; charset=utf-8", "json"),
    # Markdown is read, not saved: inline, one paper at a time.
    "md": Format(lambda papers: exports.to_markdown(papers[0]), "text/markdown; charset=utf-8", "md", True),
}


def _filename(stem: str) -> str:
    """A file name safe in a Content-Disposition header (the stem may come from a paper id)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", stem)[:100].strip("._") or "papers"


def _file(fmt: Format, papers: Sequence[Paper], stem: str) -> Response:
    disposition = "inline" if fmt.inline else "attachment"
    return Response(
        fmt.write(papers),
        media_type=fmt.media,
        headers={"content-disposition": f'{disposition}; filename="{_filename(stem)}.{fmt.ext}"'},
    )


def _paper_route(ext: str) -> None:
    fmt = FORMATS[ext]

    def paper_file(request: Request, paper_id: str) -> Response:
        paper = library(request).get(paper_id[:200])
        if paper is None:
            raise NotFound(f"no such paper: {paper_id[:80]}")
        return _file(fmt, [paper], paper.id)

    router.add_api_route(
        file_route(f"/papers/{{paper_id:path}}.{ext}"),
        paper_file,
        methods=["GET"],
        summary=f"One paper as .{ext}",
        response_class=Response,
        responses={200: {"content": {fmt.media.split(";")[0]: {}}}, **PLAIN_ERRORS},
        name=f"paper_{ext.replace('.', '_')}",
    )


def _daily_route(ext: str) -> None:
    fmt = FORMATS[ext]

    def daily_file(
        request: Request, date: Text = None, week: Text = None, month: Text = None, sort: Text = None
    ) -> Response:
        mode: feeds.Sort = "trending" if sort == "trending" else "published"
        if sort not in (None, "", "trending", "published", "upvotes"):
            raise InvalidInput("sort must be upvotes or trending")
        period, scored = library(request).daily_scored(date, week, month, sort=mode, limit=MAX_PERIOD_EXPORT)
        stem = f"paperfeed-{period.label}" if period else "paperfeed-daily"
        return _file(fmt, [p for p, _ in scored], stem)

    router.add_api_route(
        file_route(f"/daily.{ext}"), daily_file, methods=["GET"], summary=f"A day, week or month as .{ext}",
        response_class=Response, responses={200: {"content": {fmt.media.split(";")[0]: {}}}, **PLAIN_ERRORS},
        name=f"daily_{ext.replace('.', '_')}",
    )


def _search_route(ext: str) -> None:
    fmt = FORMATS[ext]

    def search_file(
        request: Request, search: SearchQuery, limit: Annotated[int, Query(ge=1, le=MAX_SEARCH_EXPORT)] = 50
    ) -> Response:
        hits = library(request).search(search.q, limit=limit, **search.filters())
        return _file(fmt, [h.paper for h in hits], "paperfeed-search")

    router.add_api_route(
        file_route(f"/search.{ext}"), search_file, methods=["GET"], summary=f"Search results as .{ext}",
        response_class=Response, responses={200: {"content": {fmt.media.split(";")[0]: {}}}, **PLAIN_ERRORS},
        name=f"search_{ext.replace('.', '_')}",
    )


# `.csl.json` before `.json`: the longer suffix must win for the same path.
for _ext in ("bib", "ris", "csl.json", "json", "md"):
    _paper_route(_ext)
for _ext in ("bib", "ris", "csl.json"):
    _daily_route(_ext)
    _search_route(_ext)
