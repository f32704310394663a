"""Semantic Scholar's recommendations API, so S2 clients (the `semanticscholar` package,
`SemanticScholar(api_url=...)`) work against paperfeed unchanged:

- `POST /recommendations/v1/papers/?limit=N&fields=...` with `{"positivePaperIds": [...],
  "negativePaperIds": [...]}` → `{"recommendedPapers": [...]}` (stateless: nothing of any
  user is read or written);
- `GET /recommendations/v1/papers/forpaper/{paper_id}?limit=N&fields=...` → the related papers.

Paper ids: paperfeed ids, `ARXIV:<id>`, arXiv URLs (also as S2's `URL:<url>`). Papers come in
S2's field names; `fields` picks them (S2 field names paperfeed does not know are null; names
S2 does not have are a 400). Errors are `{"error": ...}` with S2's status codes.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from paperfeed.errors import InvalidInput
from paperfeed.records import Paper
from paperfeed.web.common import library

router = APIRouter(prefix="/recommendations/v1", tags=["Semantic Scholar recommendations API"])

MAX_IDS = 500
MAX_LIMIT = 500
DEFAULT_FIELDS = ("title",)
# Every paper field S2 documents for the recommendations API; those paperfeed has no data for
# are returned as null (the client reads null as "absent").
S2_FIELDS = frozenset(
    "paperId corpusId externalIds url title abstract venue publicationVenue year referenceCount "
    "citationCount influentialCitationCount isOpenAccess openAccessPdf fieldsOfStudy "
    "s2FieldsOfStudy publicationTypes publicationDate journal citationStyles authors".split()
)


class S2Author(BaseModel):
    authorId: str | None = None
    name: str


class S2Paper(BaseModel):
    """A paper in Semantic Scholar's field names; only the fields asked for are present."""

    model_config = ConfigDict(extra="allow")

    paperId: str
    title: str | None = None
    abstract: str | None = None
    year: int | None = None
    publicationDate: str | None = Field(None, description="YYYY-MM-DD")
    authors: list[S2Author] | None = None
    externalIds: dict[str, str] | None = Field(None, description="{'ArXiv': id, 'DOI': doi}")
    url: str | None = None
    venue: str | None = None


class RecommendedPapers(BaseModel):
    recommendedPapers: list[S2Paper]


class PaperLists(BaseModel):
    positivePaperIds: list[str] = Field(default_factory=list, max_length=MAX_IDS)
    negativePaperIds: list[str] | None = Field(default=None, max_length=MAX_IDS)


def s2_id(text: str) -> str:
    """A paperfeed id from an S2-style id: `ARXIV:2501.00001`, `URL:https://arxiv.org/abs/…`,
    an arXiv URL or a plain id (the Library resolves versions and URLs)."""
    text = (text or "").strip()[:300]
    if text[:4].upper() == "URL:":
        text = text[4:]
    if text[:6].upper() == "ARXIV:":
        text = text[6:]
    text = re.sub(r"^(https?):/+", r"\1://", text, flags=re.IGNORECASE)  # a proxy may merge `//`
    if not text:
        raise InvalidInput("an empty paper id")
    return text


def _fields(fields: str | None) -> list[str]:
    names = [f.strip() for f in (fields or "").split(",") if f.strip()] or list(DEFAULT_FIELDS)
    base = [name.split(".", 1)[0] for name in names]
    unknown = sorted({b for b in base if b not in S2_FIELDS})
    if unknown:
        raise InvalidInput(f"Unrecognized or unsupported fields: {unknown}")
    return list(dict.fromkeys(["paperId", *base]))


def s2_paper(paper: Paper, fields: list[str]) -> dict[str, Any]:
    external: dict[str, str] = {}
    if paper.arxiv_id:
        external["ArXiv"] = paper.arxiv_id
    if paper.doi:
        external["DOI"] = paper.doi
    values: dict[str, Any] = {
        "paperId": paper.id,
        "title": paper.title,
        "abstract": paper.abstract or None,
        "year": paper.published.year if paper.published else None,
        "publicationDate": paper.published.isoformat() if paper.published else None,
        "authors": [{"authorId": None, "name": name} for name in paper.author_names],
        "externalIds": external,
        "url": f"https://arxiv.org/abs/{paper.arxiv_id}" if paper.arxiv_id else None,
        "venue": paper.journal_ref or ("arXiv" if paper.arxiv_id else None),
        "fieldsOfStudy": None,
        "isOpenAccess": bool(paper.arxiv_id) or None,
        "openAccessPdf": {"url": f"https://arxiv.org/pdf/{paper.arxiv_id}"} if paper.arxiv_id else None,
    }
    return {name: values.get(name) for name in fields}


@router.post(
    "/papers/", summary="Recommendations from positive and negative papers",
    response_model=RecommendedPapers, response_model_exclude_unset=True,
)
@router.post("/papers", include_in_schema=False, response_model=RecommendedPapers,
             response_model_exclude_unset=True)
def from_lists(
    request: Request,
    body: PaperLists,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
    fields: Annotated[str | None, Query(max_length=2000, description="comma-separated S2 fields")] = None,
) -> dict[str, Any]:
    """Like S2's `POST /recommendations/v1/papers/`: papers like the positives and unlike the
    negatives, best first; unknown ids are a 404."""
    names = _fields(fields)
    if not body.positivePaperIds:
        raise InvalidInput("positivePaperIds must name at least one paper")
    hits = library(request).recommend(
        positive=[s2_id(p) for p in body.positivePaperIds],
        negative=[s2_id(p) for p in body.negativePaperIds or ()],
        limit=limit,
    )
    return {"recommendedPapers": [s2_paper(h.paper, names) for h in hits]}


@router.get(
    "/papers/forpaper/{paper_id:path}", summary="Papers related to one paper",
    response_model=RecommendedPapers, response_model_exclude_unset=True,
)
def for_paper(
    request: Request,
    paper_id: str,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
    fields: Annotated[str | None, Query(max_length=2000, description="comma-separated S2 fields")] = None,
    from_: Annotated[str, Query(alias="from", pattern="^(recent|all-cs)$")] = "recent",
) -> dict[str, Any]:
    """Like S2's `GET /recommendations/v1/papers/forpaper/{paper_id}`: the related papers."""
    names = _fields(fields)
    hits = library(request).related(s2_id(paper_id), limit=limit)
    return {"recommendedPapers": [s2_paper(h.paper, names) for h in hits]}
