"""The HTTP app: HTML pages and the Hugging Face-compatible JSON API, thin over the Library."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.templating import Jinja2Templates

from paperfeed.config import Config
from paperfeed.errors import InvalidInput, NotFound
from paperfeed.library import Library
from paperfeed.web import hf_api

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


def create_app(config: Config | None = None, library: Library | None = None) -> FastAPI:
    lib = library or Library(config or Config.from_env())
    app = FastAPI(title="paperfeed", version="0.1.0")
    app.state.library = lib

    @app.exception_handler(InvalidInput)
    async def invalid_input(_: Request, exc: InvalidInput) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, status_code=400)

    @app.exception_handler(NotFound)
    async def not_found(_: Request, exc: NotFound) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, status_code=404)

    @app.get("/", response_class=HTMLResponse)
    def index(request: Request) -> HTMLResponse:
        period, scored = lib.daily_scored()
        return TEMPLATES.TemplateResponse(
            request,
            "daily.html",
            {"period": period, "papers": [p for p, _ in scored], "stats": lib.stats()},
        )

    @app.get("/api/daily_papers")
    def daily_papers(
        date: str | None = None,
        week: str | None = None,
        month: str | None = None,
        sort: Annotated[str, Query(pattern="^(publishedAt|trending)$")] = "publishedAt",
        p: Annotated[int, Query(ge=0, le=100_000)] = 0,
        limit: Annotated[int, Query(ge=1, le=100)] = 50,
        submitter: str | None = None,
    ) -> list[dict[str, Any]]:
        mode = "trending" if sort == "trending" else "published"
        _, scored = lib.daily_scored(date, week, month, sort=mode, limit=limit, offset=p * limit)
        return [hf_api.daily_item(paper) for paper, _ in scored]

    return app


def app_from_env() -> FastAPI:
    """The app factory for `uvicorn --factory` (several worker processes)."""
    return create_app(Config.from_env())
