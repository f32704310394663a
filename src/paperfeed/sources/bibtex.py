"""BibTeX (and biblatex) from a reference manager, parsed with bibtexparser 2.

An arXiv id is taken from `eprint` (with `archivePrefix`/`eprinttype` arXiv, or an eprint that
is plainly an arXiv id), an arxiv.org URL, or an arXiv DOI (`10.48550/arXiv.ID`). Without one,
the paper gets a title-based id. `published` is set only from a full date (biblatex `date`);
`year` and `month` alone are kept in `extra`, since a year is not a publication day.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import date
from typing import Any, BinaryIO

import bibtexparser
from bibtexparser import model

from paperfeed.records import Author, Paper, RecordError, make_paper, parse_arxiv_id, parse_iso_date
from paperfeed.sources._common import MONTHS, clean_name, has_bad_utf8, read_all
from paperfeed.sources.base import Rejected, SourceError, SourceItem

FORMAT = "bibtex"

_ARXIV_DOI_PREFIX = "10.48550/arxiv."
_EXTRA_FIELDS = (
    "year",
    "month",
    "note",
    "date",
    "keywords",
    "url",
    "volume",
    "number",
    "pages",
    "publisher",
)
_DOI_URL_PREFIXES = ("https://doi.org/", "http://doi.org/", "https://dx.doi.org/", "doi:")


def read_bibtex(stream: BinaryIO, name: str) -> Iterator[SourceItem]:
    """Yield a Paper per BibTeX entry, or Rejected("line N", ...) (N: the entry's first line)
    for an entry that cannot be parsed or imported. Raises SourceError when the input is empty
    or holds no BibTeX entries at all."""
    text = read_all(stream).decode("utf-8", "surrogateescape")
    library = _parse(text)
    found = False
    for block in library.blocks:
        if isinstance(block, model.Entry):
            found = True
            yield _entry(block)
        elif isinstance(block, model.DuplicateBlockKeyBlock) and isinstance(
            block.ignore_error_block, model.Entry
        ):
            # Two entries sharing a citation key are still two records; the store merges
            # duplicates by arXiv id or title, not by key.
            found = True
            yield _entry(block.ignore_error_block)
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


def _entry(entry: model.Entry) -> Paper | Rejected:
    fields = {key.lower(): value for key, value in _field_values(entry).items()}
    if has_bad_utf8(fields):
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
    doi = _doi(fields.get("doi"))
    extra: dict[str, Any] = {"bibtex_key": key, "bibtex_type": entry_type.lower()}
    for name in _EXTRA_FIELDS:
        if value := fields.get(name, "").strip():
            extra[name] = _extra_value(name, value)
    primary = fields.get("primaryclass", "").strip()
    return make_paper(
        title=title,
        abstract=abstract,
        arxiv_id=_arxiv_id(fields, doi),
        source=FORMAT,
        authors=[Author(n) for n in split_bibtex_names(fields.get("author", ""))],
        categories=[primary] if primary else [],
        published=_full_date(fields.get("date", "")),
        doi=doi,
        journal_ref=debrace(fields.get("journal") or fields.get("booktitle") or "") or None,
        extra=extra,
    )


def _full_date(text: str) -> date | None:
    """A biblatex `date` that names a day (`2021-03-05`); `2021` or `2021-03` is no day."""
    text = text.strip()
    return parse_iso_date(text, "date") if len(text) == 10 else None


def _arxiv_id(fields: dict[str, str], doi: str | None) -> str | None:
    """An arXiv id from eprint, a URL or an arXiv DOI; an eprint marked as arXiv that is not an
    arXiv id is returned as is, so that `make_paper` rejects it with the reason."""
    eprint = fields.get("eprint", "").strip()
    archive = (fields.get("archiveprefix") or fields.get("eprinttype") or "").strip().lower()
    if eprint and (archive == "arxiv" or (not archive and parse_arxiv_id(eprint))):
        return eprint
    url = fields.get("url", "").strip()
    if "arxiv.org/" in url and parse_arxiv_id(url):
        return url
    if doi and doi.lower().startswith(_ARXIV_DOI_PREFIX):
        candidate = doi[len(_ARXIV_DOI_PREFIX) :]
        if parse_arxiv_id(candidate):
            return candidate
    return None


def _doi(value: str | None) -> str | None:
    doi = (value or "").strip()
    for prefix in _DOI_URL_PREFIXES:
        if doi.lower().startswith(prefix):
            doi = doi[len(prefix) :]
    return doi or None


def _extra_value(name: str, value: str) -> int | str:
    if name == "month":
        return _month(value)
    value = debrace(value)
    return int(value) if name == "year" and value.isdigit() else value


def _month(value: str) -> int | str:
    """`mar`, `March` or `3` → 3; anything else kept as written."""
    value = debrace(value).strip()
    if value.isdigit():
        return int(value)
    return MONTHS.get(value.lower().rstrip("."), value)


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
    parts, depth, start, i = [], 0, 0, 0
    lowered = text.lower()
    while i < len(text):
        ch = text[i]
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth = max(0, depth - 1)
        elif depth == 0 and lowered.startswith(separator, i):
            parts.append(text[start:i])
            i += len(separator)
            start = i
            continue
        i += 1
    parts.append(text[start:])
    return parts


def _display_name(name: str) -> str:
    """`Last, First` → `First Last`; `Last, Jr, First` → `First Last Jr`."""
    pieces = [p.strip() for p in _split_top_level(name, ",")]
    if len(pieces) == 2:
        name = f"{pieces[1]} {pieces[0]}"
    elif len(pieces) >= 3:
        name = f"{pieces[2]} {pieces[0]} {pieces[1]}"
    return clean_name(name)
