"""BibTeX (and biblatex) from a reference manager, parsed with bibtexparser 2.

Written for what Zotero, Better BibTeX, Mendeley, arXiv's "Export BibTeX citation" and Google
Scholar produce. The arXiv id comes from `eprint` (with `archivePrefix`/`eprinttype` arXiv, or an
eprint that is plainly an arXiv id), else any field that marks one (see `_refs`): `url`, `doi`,
`number`, `note`, `journal`, `howpublished`. Without one, the paper gets a title-based id.
`published` comes from a biblatex `date`, else `year` + `month` (a month stands for its first
day; `extra["date_precision"]` says so); a year alone is kept in `extra`. `keywords` naming arXiv
categories (Zotero's `Computer Science - Machine Learning`) become categories. LaTeX escapes are
rendered (`{\\textbackslash}`, `\\&`, accents).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from datetime import date
from typing import Any, BinaryIO

import bibtexparser
from bibtexparser import model

from paperfeed.records import Author, Paper, RecordError, make_paper, parse_arxiv_id
from paperfeed.sources._common import clean_name, has_bad_utf8, read_all
from paperfeed.sources._refs import (
    ARXIV_DOI_PREFIX,
    arxiv_id_in,
    categories_from_tags,
    clean_doi,
    dated,
    iso_date_parts,
    journal_ref,
    month_number,
    split_tags,
    year_number,
)
from paperfeed.sources.base import DEFAULT_LIMITS, Limits, Rejected, SourceError, SourceItem

FORMAT = "bibtex"

_EXTRA_FIELDS = ("year", "month", "note", "date", "keywords", "url", "volume", "number", "pages", "publisher")
# Fields where exporters other than `eprint` put an arXiv id, in the order they are trusted.
_ARXIV_FIELDS = ("url", "doi", "number", "note", "journal", "howpublished", "annote")


def read_bibtex(
    stream: BinaryIO, name: str, limits: Limits = DEFAULT_LIMITS
) -> Iterator[SourceItem]:
    """Yield a Paper per BibTeX entry, or Rejected("line N", ...) (N: the entry's first line)
    for an entry that cannot be parsed or imported. Raises SourceError when the input is empty
    or holds no BibTeX entries at all."""
    data = read_all(stream, limits)
    try:
        text, lossy = data.decode("utf-8"), False
    except UnicodeDecodeError:  # bad bytes become lone surrogates; only their entries are rejected
        text, lossy = data.decode("utf-8", "surrogateescape"), True
    library = _parse(text)
    found = False
    for block in library.blocks:
        if isinstance(block, model.Entry):
            found = True
            yield _entry(block, lossy)
        elif isinstance(block, model.DuplicateBlockKeyBlock) and isinstance(
            block.ignore_error_block, model.Entry
        ):
            # Two entries sharing a citation key are still two records; the store merges
            # duplicates by arXiv id or title, not by key.
            found = True
            yield _entry(block.ignore_error_block, lossy)
        elif isinstance(block, model.ParsingFailedBlock):
            found = True
            yield Rejected(_where(block), f"BibTeX syntax error: {block.error}")
    if not found:
        raise SourceError("no BibTeX entries found")


def _parse(text: str) -> bibtexparser.Library:
    # bibtexparser logs every failed block as a warning; they are reported as Rejected instead.
    logger = logging.getLogger("bibtexparser")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        return bibtexparser.parse_string(text)
    except Exception as exc:  # the third-party parser's own failures mean unusable input
        raise SourceError(f"cannot parse BibTeX: {exc}") from None
    finally:
        logger.setLevel(level)


def _where(block: model.Block) -> str:
    return f"line {(block.start_line or 0) + 1}"  # bibtexparser counts lines from 0


def _entry(entry: model.Entry, lossy: bool) -> Paper | Rejected:
    fields = {key.lower(): value for key, value in _field_values(entry).items()}
    if lossy and has_bad_utf8(fields):
        return Rejected(_where(entry), "invalid UTF-8")
    try:
        return paper_from_fields(fields, key=entry.key, entry_type=entry.entry_type)
    except RecordError as exc:
        return Rejected(_where(entry), str(exc))


def _field_values(entry: model.Entry) -> dict[str, str]:
    return {f.key: v if isinstance(v := f.value, str) else str(v) for f in entry.fields}


def paper_from_fields(fields: dict[str, str], *, key: str, entry_type: str) -> Paper:
    """Map an entry's fields (keys lower-cased) to a Paper; raises RecordError."""
    title = debrace(fields.get("title", ""))
    abstract = debrace(fields.get("abstract", "")) or None
    raw_doi = fields.get("doi", "").strip()
    doi = clean_doi(raw_doi)
    extra: dict[str, Any] = {"bibtex_key": key, "bibtex_type": entry_type.lower()}
    for name in _EXTRA_FIELDS:
        if value := fields.get(name, "").strip():
            extra[name] = _extra_value(name, value)
    published, precision = _published(fields)
    if precision:
        extra["date_precision"] = precision
    keywords = split_tags(debrace(fields.get("keywords", "")))
    categories, tags = categories_from_tags(fields.get("primaryclass"), keywords)
    if tags:
        extra["tags"] = tags
    arxiv_id = _arxiv_id(fields, doi)
    if doi and doi.lower().startswith(ARXIV_DOI_PREFIX):
        doi = None  # arXiv's own DOI follows from the id; `doi` is the published version's
    return make_paper(
        title=title,
        abstract=abstract,
        arxiv_id=arxiv_id,
        source=FORMAT,
        authors=[Author(n) for n in split_bibtex_names(fields.get("author", ""))],
        categories=categories,
        published=published,
        doi=doi,
        journal_ref=journal_ref(debrace(_first(fields, "journal", "journaltitle", "booktitle"))),
        extra=extra,
    )


def _first(fields: dict[str, str], *names: str) -> str:
    return next((fields[n] for n in names if fields.get(n, "").strip()), "")


def _published(fields: dict[str, str]) -> tuple[date | None, str | None]:
    """(date, precision) from biblatex `date` or `year` + `month`."""
    text = debrace(fields.get("date", ""))
    if text:
        return dated(*iso_date_parts(text, "date"), "date")
    year = year_number(fields.get("year"))
    if year is None:
        return None, None
    return dated(year, month_number(fields.get("month")), None, "year")


def _arxiv_id(fields: dict[str, str], doi: str | None) -> str | None:
    """An arXiv id from eprint or a field that marks one; an eprint marked as arXiv that is not
    an arXiv id is returned as is, so that `make_paper` rejects it with the reason."""
    eprint = fields.get("eprint", "").strip()
    archive = (fields.get("archiveprefix") or fields.get("eprinttype") or "").strip().lower()
    if eprint and (archive == "arxiv" or (not archive and parse_arxiv_id(eprint))):
        return eprint
    if (mendeley := fields.get("arxivid", "").strip()) and parse_arxiv_id(mendeley):
        return mendeley  # Mendeley's own field
    return arxiv_id_in(*(fields.get(name) for name in _ARXIV_FIELDS))


def _extra_value(name: str, value: str) -> int | str:
    if name == "month":
        return month_number(value) or debrace(value)
    value = debrace(value)
    return int(value) if name == "year" and value.isdigit() else value


def debrace(text: str) -> str:
    """Drop BibTeX's protective braces (`A {GPU} Study`). Text with TeX commands keeps them:
    `make_paper` renders TeX and needs the groups."""
    if "\\" in text or "$" in text:
        return text.strip()
    return text.replace("{", "").replace("}", "").strip()


def split_bibtex_names(text: str) -> list[str]:
    """`Doe, John and Jane Roe and {Barnes and Noble}` → display names, `First Last` order.
    `and` inside braces does not split; `others` (et al.) is dropped."""
    names = []
    for part in _split_top_level(text, " and "):
        name = _display_name(part.strip())
        if name and name.lower() != "others":
            names.append(name)
    return names


def _split_top_level(text: str, separator: str) -> list[str]:
    """Split on `separator` (case-insensitively) outside braces; whitespace runs count as one."""
    text = " ".join(text.split())
    if "{" not in text:  # the common case: no groups to respect
        return re.split(re.escape(separator), text, flags=re.IGNORECASE)
    marks = _SPLIT_MARKS.get(separator)
    if marks is None:
        marks = _SPLIT_MARKS[separator] = re.compile(r"[{}]|" + re.escape(separator), re.IGNORECASE)
    parts, depth, start = [], 0, 0
    for m in marks.finditer(text):  # visits braces and separators, not every character
        mark = m.group()
        if mark == "{":
            depth += 1
        elif mark == "}":
            depth = max(0, depth - 1)
        elif depth == 0:
            parts.append(text[start : m.start()])
            start = m.end()
    parts.append(text[start:])
    return parts


_SPLIT_MARKS: dict[str, re.Pattern[str]] = {}


def _display_name(name: str) -> str:
    """`Last, First` → `First Last`; `Last, Jr, First` → `First Last Jr`."""
    pieces = [p.strip() for p in _split_top_level(name, ",")]
    if len(pieces) == 2:
        name = f"{pieces[1]} {pieces[0]}"
    elif len(pieces) >= 3:
        name = f"{pieces[2]} {pieces[0]} {pieces[1]}"
    return clean_name(name)
