"""What the OpenAPI spec says of answers the routes do not build themselves: the error body every
JSON route answers with (`app.py`'s handlers: `{"error": ...}`, and for a 422 the `detail` of each
bad parameter), and feeds' XML media types instead of FastAPI's default `application/json`."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class Problem(BaseModel):
    loc: list[str | int] = Field(description="where: e.g. [\"query\", \"limit\"]")
    msg: str
    type: str


class ErrorBody(BaseModel):
    """The body of every JSON error (400, 401, 403, 404, 422, 429, 503)."""

    error: str = Field(description="what was wrong, in a sentence")
    detail: list[Problem] | None = Field(None, description="422 only: each bad parameter")


_SAYS = {
    400: "A value that cannot be used (e.g. `date=2025-02-30`)",
    401: "A missing, invalid, revoked or expired access token",
    404: "No such paper (or feed)",
    422: "A parameter out of range or of the wrong type, with `detail`",
}


def errors(*codes: int, **says: str) -> dict[int | str, dict[str, Any]]:
    """The `responses=` entries for these error codes, each with the error body model; a
    keyword `e404="..."` words a code's description for the route."""
    return {
        code: {"model": ErrorBody, "description": says.get(f"e{code}", _SAYS[code])} for code in codes
    }


def xml_feed(*media: str) -> dict[int | str, dict[str, Any]]:
    """The `responses=` entry of a feed route: a 200 in the given XML media types."""
    return {
        200: {
            "description": "The feed",
            "content": {m: {"schema": {"type": "string"}} for m in media},
        }
    }


ATOM = "application/atom+xml"
RSS = "application/rss+xml"
