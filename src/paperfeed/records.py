"""The one record shape every source yields, and the id/title/text normalisation around it.

Sources build `Paper` objects; the store persists them; every face reads them back. Nothing in this
module knows about storage or HTTP.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any

from paperfeed.tex import tex_to_text

# ---------------------------------------------------------------------------------------------
# arXiv identifiers

_NEW_ID = r"\d{4}\.\d{4,5}"
_OLD_ID = r"[a-z][a-z\-]*(?:\.[A-Z]{2})?/\d{7}"
ARXIV_ID_RE = re.compile(
    rf"^(?:arxiv:|https?://(?:www\.|export\.)?arxiv\.org/(?:abs|pdf)/)?"
    rf"(?P<id>{_NEW_ID}|{_OLD_ID})(?:v(?P<version>\d+))?(?:\.pdf)?$",
    re.IGNORECASE,
)


def parse_arxiv_id(text: str) -> tuple[str, int | None] | None:
    """Return (id without version, version or None) when `text` is an arXiv id, URL or `arXiv:` id."""
    m = ARXIV_ID_RE.match(text.strip())
    if not m:
        return None
    raw = m.group("id")
    # Old-style archive names are lower case, subject classes upper case (math.AG/0601001).
    if "/" in raw:
        archive, number = raw.split("/", 1)
        if "." in archive:
            head, sub = archive.split(".", 1)
            archive = f"{head.lower()}.{sub.upper()}"
        else:
            archive = archive.lower()
        raw = f"{archive}/{number}"
    version = m.group("version")
    return raw, int(version) if version else None


# ---------------------------------------------------------------------------------------------
# Text normalisation

_NON_WORD_RE = re.compile(r"[^\w]+", re.UNICODE)


def clean_text(text: str | None) -> str:
    """Normalise a title or abstract for display and search: TeX rendered, hard line breaks and
    runs of whitespace collapsed, Unicode NFC. The raw text is kept separately by the caller.
    (This runs for every record of a bulk import, so the common ASCII case takes no detours.)"""
    if not text:
        return ""
    if "\\" in text or "~" in text or "{" in text or "`" in text:
        text = tex_to_text(text)
    if not text.isascii():
        text = unicodedata.normalize("NFC", text)
    return " ".join(text.split())


@lru_cache(maxsize=65_536)
def title_key(title: str) -> str:
    """The key two records of one paper share even when sources spell the title differently:
    case-folded, accents and punctuation dropped, whitespace collapsed. Memoised (a pure
    function of the string): the recommender keys every candidate's title, a digest run the same
    few thousand arrivals once per section."""
    t = clean_text(title).casefold()
    if not t.isascii():
        t = unicodedata.normalize("NFKD", t)
        t = "".join(ch for ch in t if not unicodedata.combining(ch))
    return " ".join(_NON_WORD_RE.sub(" ", t).split())


def title_id(title: str) -> str:
    """A stable id for a paper known only by its title (no arXiv id yet)."""
    digest = hashlib.blake2b(title_key(title).encode(), digest_size=8).hexdigest()
    return f"t-{digest}"


# ---------------------------------------------------------------------------------------------
# Dates

EARLIEST_DATE = date(1800, 1, 1)  # older than any citable paper: a nonsense date
ARXIV_EPOCH = date(1991, 8, 1)  # no arXiv paper was published before arXiv began


class RecordError(ValueError):
    """A record that cannot be imported; the message says why (the source adds where)."""


def check_date(value: date | None, field_name: str, *, today: date | None = None) -> date | None:
    """Reject nonsense and future dates (one day of slack for time zones)."""
    if value is None:
        return None
    today = today or datetime.now(UTC).date()
    if value < EARLIEST_DATE:
        raise RecordError(f"{field_name} {value.isoformat()} is before {EARLIEST_DATE.isoformat()}")
    if value > today + timedelta(days=1):
        raise RecordError(f"{field_name} {value.isoformat()} is in the future")
    return value


def parse_iso_date(text: str | None, field_name: str) -> date | None:
    """Parse `YYYY-MM-DD` or an ISO datetime (`2025-01-06T12:00:00.000Z`) to a date."""
    if text is None or text == "":
        return None
    if not isinstance(text, str):
        raise RecordError(f"{field_name} is not a string: {text!r:.40}")
    try:
        if len(text) == 10:
            value = date.fromisoformat(text)
        else:
            value = datetime.fromisoformat(text.replace("Z", "+00:00")).date()
    except ValueError as exc:
        raise RecordError(f"{field_name} is not a date: {text!r:.40}") from exc
    return check_date(value, field_name)


# ---------------------------------------------------------------------------------------------
# The record

MAX_TITLE_CHARS = 2_000
MAX_ABSTRACT_CHARS = 100_000
MAX_AUTHORS = 5_000


@dataclass(slots=True)
class Author:
    name: str
    affiliation: str | None = None


@dataclass(slots=True)
class Paper:
    """One paper, whatever source it came from.

    `id` is the arXiv id without version when known, else `title_id(title)`. `title` and `abstract`
    are normalised for display and search; `title_raw`/`abstract_raw` keep the source's text.
    `author_count` is set when a source only tells how many authors there are ("• 12 authors").
    """

    id: str
    title: str
    abstract: str = ""
    authors: list[Author] = field(default_factory=list)
    author_count: int | None = None
    organization: str | None = None
    organization_name: str | None = None
    categories: list[str] = field(default_factory=list)
    published: date | None = None
    updated: date | None = None
    submitted_to_daily: date | None = None
    upvotes: int | None = None
    comments: int | None = None
    github_repo: str | None = None
    github_stars: int | None = None
    project_page: str | None = None
    doi: str | None = None
    journal_ref: str | None = None
    license: str | None = None
    version: int | None = None
    sources: list[str] = field(default_factory=list)
    title_raw: str | None = None
    abstract_raw: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def arxiv_id(self) -> str | None:
        return None if self.id.startswith("t-") else self.id

    @property
    def day(self) -> date | None:
        """The day a paper belongs to in the daily feed."""
        return self.submitted_to_daily or self.published

    @property
    def withdrawn(self) -> bool:
        return is_withdrawn(self)

    @property
    def author_names(self) -> list[str]:
        return [a.name for a in self.authors]

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of the CLI and Library contract (DESIGN.md): dates as ISO strings,
        authors as a list of names, affiliations alongside."""
        d = asdict(self)
        for key in ("published", "updated", "submitted_to_daily"):
            value = getattr(self, key)
            d[key] = value.isoformat() if value else None
        d["authors"] = self.author_names
        d["affiliations"] = [a.affiliation for a in self.authors]
        d["upvotes"] = self.upvotes or 0
        return d


def make_paper(
    *,
    title: str | None,
    abstract: str | None = None,
    arxiv_id: str | None = None,
    source: str,
    **fields: Any,
) -> Paper:
    """Build a validated Paper from a source's raw fields. Raises RecordError on a record that
    must not be imported (no title, oversized text, bad id)."""
    if not isinstance(title, str) or not title.strip():
        raise RecordError("record has no title")
    if len(title) > MAX_TITLE_CHARS:
        raise RecordError(f"title is {len(title):,} characters (limit {MAX_TITLE_CHARS:,})")
    if abstract is not None and not isinstance(abstract, str):
        raise RecordError("abstract is not text")
    if abstract and len(abstract) > MAX_ABSTRACT_CHARS:
        raise RecordError(
            f"abstract is {len(abstract):,} characters (limit {MAX_ABSTRACT_CHARS:,})"
        )
    authors = fields.pop("authors", None) or []
    if len(authors) > MAX_AUTHORS:
        raise RecordError(f"{len(authors):,} authors (limit {MAX_AUTHORS:,})")
    version = fields.pop("version", None)
    if arxiv_id:
        parsed = parse_arxiv_id(arxiv_id)
        if not parsed:
            raise RecordError(f"not an arXiv id: {arxiv_id!r:.60}")
        pid, id_version = parsed
        version = version or id_version
        published = fields.get("published")
        if published is not None and published < ARXIV_EPOCH:
            raise RecordError(f"published {published.isoformat()} is before arXiv existed")
    else:
        pid = title_id(title)
    clean_title = clean_text(title)
    if not clean_title:
        raise RecordError("record has no title")
    clean_abstract = clean_text(abstract)
    return Paper(
        id=pid,
        title=clean_title,
        abstract=clean_abstract,
        authors=authors,
        version=version,
        sources=[source],
        title_raw=title if title != clean_title else None,
        abstract_raw=abstract if abstract and abstract != clean_abstract else None,
        **fields,
    )


# arXiv's withdrawal notice ("This paper has been withdrawn by the author(s)", "This submission has
# been withdrawn"), in the comment line of the withdrawn version.
_WITHDRAWN_RE = re.compile(r"\b(?:paper|submission|article|manuscript)\s+(?:has\s+been|is)\s+withdrawn\b", re.I)


def is_withdrawn(paper: Paper) -> bool:
    """A paper its authors withdrew: Hugging Face's `withdrawnAt`, or arXiv's withdrawal comment."""
    extra = paper.extra if isinstance(paper.extra, dict) else {}
    if extra.get("withdrawn_at"):
        return True
    comment = extra.get("comments")
    return isinstance(comment, str) and bool(_WITHDRAWN_RE.search(comment[:2000]))
