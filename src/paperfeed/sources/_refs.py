"""What the reference-manager formats (BibTeX, RIS, CSL-JSON) share: finding the arXiv id in the
many places exporters put it, DOIs, dates of month or year precision, and tags that name arXiv
categories.

Where exporters put the arXiv id: `eprint` (+ `archivePrefix`/`eprinttype` arXiv), an arxiv.org
URL, the arXiv DOI `10.48550/arXiv.ID`, Zotero's `number = {arXiv:ID}` and `note`/`extra`
`arXiv:ID [cs]`, Google Scholar's `journal = {arXiv preprint arXiv:ID}`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date
from typing import Any

from paperfeed.arxiv_taxonomy import category_code, is_category
from paperfeed.records import Paper, RecordError, make_paper
from paperfeed.sources._common import MONTHS, month_day_year

ARXIV_DOI_PREFIX = "10.48550/arxiv."
_ID = r"(\d{4}\.\d{4,5}(?:v\d+)?|[a-z][a-z\-]*(?:\.[A-Z]{2})?/\d{7}(?:v\d+)?)"
# The id after an explicit arXiv marker; never a bare number (a page or report number).
_ARXIV_IN_TEXT = re.compile(
    rf"(?:arxiv\.org/(?:abs|pdf)/|10\.48550/arxiv\.|\barxiv\s*:\s*|\barxiv\s+(?:preprint\s+)?)"
    rf"{_ID}",
    re.IGNORECASE,
)
_DOI_RE = re.compile(r"^10\.\d{4,9}/\S+$")
_DOI_PREFIXES = ("https://doi.org/", "http://doi.org/", "https://dx.doi.org/", "http://dx.doi.org/")
_NOT_JOURNALS = re.compile(r"^\s*(?:arxiv\b|corr\s*$)", re.IGNORECASE)


def arxiv_id_in(*texts: str | None) -> str | None:
    """The first arXiv id that some text marks as one (`arXiv:2401.01234`, an arxiv.org URL, an
    arXiv DOI), or None."""
    for text in texts:
        if text and (m := _ARXIV_IN_TEXT.search(text)):
            return m.group(1)
    return None


def clean_doi(value: str | None) -> str | None:
    """A DOI without its URL or `doi:` prefix; None for anything that is not a DOI."""
    doi = (value or "").strip()
    for prefix in _DOI_PREFIXES:
        if doi.lower().startswith(prefix):
            doi = doi[len(prefix) :]
    if doi.lower().startswith("doi:"):
        doi = doi[4:].strip()
    return doi if _DOI_RE.match(doi) else None


def journal_ref(value: str | None) -> str | None:
    """A venue that names a journal or proceedings: `arXiv preprint arXiv:...` and DBLP's
    `CoRR` are the preprint server, not a venue."""
    value = (value or "").strip()
    return None if not value or _NOT_JOURNALS.match(value) else value


def month_number(value: str | int | None) -> int | None:
    """`aug`, `August`, `8`, `{8}` → 8; None for anything else."""
    if isinstance(value, int):
        return value if 1 <= value <= 12 else None
    text = (value or "").strip().strip("{}").strip().rstrip(".").lower()
    number = int(text) if text.isdigit() else MONTHS.get(text)
    return number if number is not None and 1 <= number <= 12 else None


def year_number(value: Any) -> int | None:
    text = str(value).strip().strip("{}").strip() if value is not None else ""
    return int(text) if len(text) == 4 and text.isdigit() else None


def dated(
    year: int | None, month: int | None, day: int | None, field_name: str
) -> tuple[date | None, str | None]:
    """(published, precision) from date parts. A month without a day stands for its first day
    (precision `month`, kept so exports write the month back, not a day); a year alone is no
    publication date (precision `year`: the caller keeps the year)."""
    if year is None:
        return None, None
    if month is None:
        return None, "year"
    if day is None:
        return month_day_year(year, month, 1, field_name), "month"
    return month_day_year(year, month, day, field_name), "day"


def iso_date_parts(text: str, field_name: str) -> tuple[int, int | None, int | None]:
    """`2024`, `2024-08` or `2024-08-15` (a biblatex `date`, an RIS `DA` with slashes) → parts."""
    parts = [p for p in re.split(r"[-/]", text.strip()) if p]
    try:
        numbers = [int(p) for p in parts[:3]]
    except ValueError:
        raise RecordError(f"{field_name} is not a date: {text!r:.40}") from None
    if not numbers or len(parts[0]) != 4:
        raise RecordError(f"{field_name} is not a date: {text!r:.40}")
    month = numbers[1] if len(numbers) > 1 else None
    day = numbers[2] if len(numbers) > 2 else None
    return numbers[0], month, day


def categories_from_tags(primary: str | None, tags: Iterable[str]) -> tuple[list[str], list[str]]:
    """(arXiv categories, the other tags). `primary` (a BibTeX `primaryClass`) comes first when
    it is a category; tags naming categories (`Computer Science - Machine Learning`) follow."""
    categories: list[str] = []
    others: list[str] = []
    if primary and is_category(primary.strip()):
        categories.append(primary.strip())
    for tag in tags:
        tag = tag.strip()
        if not tag:
            continue
        code = category_code(tag)
        if code is None:
            others.append(tag)
        elif code not in categories:
            categories.append(code)
    return categories, others


def split_tags(text: str) -> list[str]:
    """A BibTeX `keywords` list (`,` or `;` between tags) → tags. Some category names hold
    commas (`Computer Science - Distributed, Parallel, and Cluster Computing`): pieces that
    together name a category stay one tag."""
    pieces = [p.strip() for p in re.split(r"[,;]", text)]
    tags: list[str] = []
    i = 0
    while i < len(pieces):
        for j in range(min(len(pieces), i + 4), i + 1, -1):
            joined = ", ".join(pieces[i:j])
            if category_code(joined):
                tags.append(joined)
                i = j
                break
        else:
            if pieces[i]:
                tags.append(pieces[i])
            i += 1
    return tags


# Plain-text formats (RIS, CSL-JSON) hold no TeX, but `make_paper` renders TeX in every title
# and abstract. Characters TeX rendering would change are written so that it renders them back
# as themselves (`{` → `\{`, `--` → `{-}{-}`), and the raw text kept is the source's own.
_TEX_LITERAL = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "$": r"\$",
    "~": r"\textasciitilde{}",
    "`": "{`}",
    "'": "{'}",
    "-": "{-}",
}
_TEX_LITERAL_RE = re.compile(r"[\\{}$~`'-]")
_TEX_TRIGGER_RE = re.compile(r"[\\{}~`$]")


def tex_literal(text: str | None) -> str | None:
    """Plain text that `clean_text` renders as itself. (A regex, not `str.translate`: only the
    few special characters are visited, which matters for abstracts.)"""
    if not text or not _TEX_TRIGGER_RE.search(text):
        return text
    return _TEX_LITERAL_RE.sub(lambda m: _TEX_LITERAL[m.group()], text)


def make_plain_paper(*, title: str, abstract: str | None, **fields: Any) -> Paper:
    """`make_paper` for a plain-text source: no TeX rendering of the title and abstract."""
    paper = make_paper(title=tex_literal(title), abstract=tex_literal(abstract), **fields)
    paper.title_raw = title if title != paper.title else None
    paper.abstract_raw = abstract if abstract and abstract != paper.abstract else None
    return paper
