"""Typed models of the Hugging Face papers API shapes (`hf_api.py` builds them), for the OpenAPI
spec: `/openapi.json` describes every field a generated client may read, with HF's names, types
and required fields (as HF's own spec has them: the models pyhfapi generates from it).

They document; the routes do not validate through them. The routes return the JSON `hf_api`
builds, so imported values keep their exact form (a timestamp such as
`2025-02-05T03:14:15.926Z` stays byte for byte; a response model typed `datetime` would rewrite
it), and the tests validate real responses against this spec, so the two cannot drift.

Each model allows extra keys: HF adds fields over time, and an imported item keeps what HF
sent."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class HFUser(_Open):
    """An HF user overview (`submittedBy`, `submittedOnDailyBy`, an author's `user`)."""

    id_: str = Field(alias="_id", description="a 24-hex id")
    avatarUrl: str = Field(description="empty for a paperfeed member")
    fullname: str
    isPro: bool
    name: str = Field(description="the HF user name (`submitter=` matches it)")
    type: str = Field(description="`user`")
    followerCount: int | None = None
    isHf: bool | None = None
    isHfAdmin: bool | None = None
    isMod: bool | None = None
    user: str | None = None


class HFAuthor(_Open):
    id_: str = Field(alias="_id")
    name: str
    hidden: bool
    status: str | None = Field(None, description="HF's claim status, when imported")
    statusLastChangedAt: datetime | None = None
    user: HFUser | None = Field(None, description="the author's HF account, when imported")


class HFOrganization(_Open):
    id_: str | None = Field(None, alias="_id")
    name: str
    fullname: str
    avatar: str | None = None


class HFPaper(_Open):
    """The paper object: `/api/papers/{id}`, and the `paper` of every listing item."""

    id: str = Field(description="the arXiv id (or paperfeed's id for a paper without one)")
    authors: list[HFAuthor]
    publishedAt: datetime = Field(
        description="the arXiv publication time; an undated paper has 1970-01-01T00:00:00.000Z"
    )
    title: str
    summary: str = Field(description="the abstract")
    upvotes: int
    discussionId: str
    withdrawnAt: datetime | None = None
    submittedOnDailyAt: datetime | None = None
    submittedOnDailyBy: HFUser | None = None
    githubRepo: str | None = None
    githubStars: int | None = None
    projectPage: str | None = None
    ai_summary: str | None = None
    ai_keywords: list[str] | None = None
    mediaUrls: list[str] | None = None
    organization: HFOrganization | None = None


class HFDailyItem(_Open):
    """One item of `/api/daily_papers` and `/api/papers/search`. `upvotes`, `githubRepo`,
    `githubStars`, `projectPage`, `ai_summary` and `ai_keywords` repeat the paper's at the top
    level, where `huggingface_hub`'s `PaperInfo` reads them."""

    paper: HFPaper
    publishedAt: datetime = Field(description="when it entered the daily list (undated: the epoch)")
    title: str
    summary: str
    thumbnail: str = Field(description="an https URL when imported, else a placeholder path")
    numComments: int
    submittedBy: HFUser
    isAuthorParticipating: bool
    submittedOnDailyBy: HFUser | None = None
    organization: HFOrganization | None = None
    mediaUrls: list[str] | None = None
    upvotes: int | None = None
    githubRepo: str | None = None
    githubStars: int | None = None
    projectPage: str | None = None
    ai_summary: str | None = None
    ai_keywords: list[str] | None = None


class RelatedItem(HFDailyItem):
    """A daily item with its similarity to the paper asked about (a paperfeed extension)."""

    score: float = Field(description="cosine similarity, most related first")
