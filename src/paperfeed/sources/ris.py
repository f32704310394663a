"""RIS (Zotero, Mendeley, EndNote exports), parsed with rispy.

The input is streamed line by line: each record (`TY  - ` to `ER  - `) is cut out with its first
line number and handed to rispy on its own, so a broken record is reported with its line and the
rest imported, and a large file is read in constant memory. Record fields: `TI`/`T1` title,
`AU`/`A1` authors (`Last, First` or `Last, First, Suffix`), `AB`/`N2` abstract, `DA`/`PY`/`Y1`
date (`2023/08/01/`), `DO`, `UR`, `KW` (arXiv category tags → categories), `JO`/`T2`/`JF`
venue; the arXiv id from `UR`, `DO`, `M1`/`M3`/`IS`/`SN`, `N1` or the venue (see `_refs`).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import date
from typing import Any, BinaryIO

import rispy

from paperfeed.records import Author, Paper, RecordError
from paperfeed.sources._common import GZIP_ERRORS, clean_name, has_bad_utf8
from paperfeed.sources._refs import (
    ARXIV_DOI_PREFIX,
    arxiv_id_in,
    categories_from_tags,
    clean_doi,
    dated,
    iso_date_parts,
    journal_ref,
    make_plain_paper,
)
from paperfeed.sources.base import DEFAULT_LIMITS, Limits, Rejected, SourceError, SourceItem, TooLarge

FORMAT = "ris"

_MAX_RECORD_LINES = 100_000


def read_ris(stream: BinaryIO, name: str, limits: Limits = DEFAULT_LIMITS) -> Iterator[SourceItem]:
    """Yield a Paper per RIS record, or Rejected("line N", ...) (N: the record's `TY` line).
    Raises SourceError when the input is empty or holds no RIS record."""
    found, blank = False, True
    record: list[str] = []
    start = 0
    stray_at: int | None = None
    for number, line in _numbered_lines(stream, limits):
        if blank and line.strip():
            blank = False
        tag = line[:2] if line[2:5] == "  -" else None
        if tag == "TY":
            if record:
                found = True
                yield Rejected(f"line {start}", "RIS record not closed by ER before the next TY")
            record, start = [line], number
        elif not record:
            if line.strip() and stray_at is None:
                stray_at = number
        else:
            record.append(line)
            if tag == "ER":
                found = True
                yield _record(record, start)
                record = []
            elif len(record) > _MAX_RECORD_LINES:
                found = True
                yield Rejected(f"line {start}", f"RIS record longer than {_MAX_RECORD_LINES:,} lines")
                record = []
    if record:
        found = True
        yield Rejected(f"line {start}", "RIS record not closed by ER (truncated file?)")
    if blank:
        raise SourceError("empty file")
    if not found:
        where = f" (line {stray_at} is not RIS)" if stray_at else ""
        raise SourceError(f"no RIS records found{where}")


def _numbered_lines(stream: BinaryIO, limits: Limits) -> Iterator[tuple[int, str]]:
    """(number, line) from 1, newline dropped; bytes that are not UTF-8 become lone surrogates
    (see `has_bad_utf8`) so that only their record is rejected. No line is read beyond
    `limits.record_bytes` characters and no input beyond `limits.document_bytes`: TooLarge."""
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="surrogateescape", newline=None)
    number = size = 0
    while True:
        try:
            line = text.readline(limits.record_bytes + 1)
        except GZIP_ERRORS:
            raise SourceError("truncated or corrupt gzip data") from None
        if not line:
            return
        size += len(line)
        if len(line) > limits.record_bytes or size > limits.document_bytes:
            raise TooLarge(f"a RIS line or file over the limit (PAPERFEED_MAX_RECORD_BYTES "
                           f"{limits.record_bytes:,}, PAPERFEED_MAX_DOCUMENT_BYTES {limits.document_bytes:,})")
        number += 1
        yield number, line.rstrip("\n")


def _record(lines: list[str], start: int) -> Paper | Rejected:
    if any(has_bad_utf8(line) for line in lines):
        return Rejected(f"line {start}", "invalid UTF-8")
    try:
        parsed = rispy.loads("\n".join(lines))
    except Exception as exc:  # the third-party parser's failure on one record
        return Rejected(f"line {start}", f"RIS syntax error: {exc}")
    if len(parsed) != 1:
        return Rejected(f"line {start}", "RIS syntax error: not one record")
    try:
        return paper_from_ris(parsed[0])
    except RecordError as exc:
        return Rejected(f"line {start}", str(exc))


def _text(record: dict[str, Any], *keys: str) -> str:
    for key in keys:
        value = record.get(key)
        if isinstance(value, list):
            value = " ".join(v for v in value if isinstance(v, str))
        if isinstance(value, str) and value.strip():
            return value.strip()
    return ""


def _texts(record: dict[str, Any], *keys: str) -> list[str]:
    out: list[str] = []
    for key in keys:
        value = record.get(key)
        if isinstance(value, str):
            out.append(value)
        elif isinstance(value, list):
            out.extend(v for v in value if isinstance(v, str))
    return [v.strip() for v in out if v.strip()]


def paper_from_ris(record: dict[str, Any]) -> Paper:
    """Map one rispy record to a Paper; raises RecordError."""
    title = _text(record, "title", "primary_title")
    doi = clean_doi(_text(record, "doi"))
    urls = _texts(record, "urls")
    notes = _texts(record, "notes")
    venue = _text(record, "journal_name", "secondary_title", "alternate_title3", "alternate_title1")
    arxiv_id = arxiv_id_in(
        *urls, doi, _text(record, "note"), _text(record, "type_of_work"), _text(record, "number"),
        _text(record, "issn"), *notes, venue,
    )
    if doi and doi.lower().startswith(ARXIV_DOI_PREFIX):
        doi = None  # arXiv's own DOI follows from the id
    published, precision, year = _published(record)
    categories, tags = categories_from_tags(None, _texts(record, "keywords"))
    extra: dict[str, Any] = {"ris_type": _text(record, "type_of_reference")}
    if precision:
        extra["date_precision"] = precision
        extra["year"] = year
    if tags:
        extra["tags"] = tags
    if urls:
        extra["url"] = urls[0]
    return make_plain_paper(
        title=title,
        abstract=_text(record, "abstract", "notes_abstract") or None,
        arxiv_id=arxiv_id,
        source=FORMAT,
        authors=[Author(n) for n in _authors(record)],
        categories=categories,
        published=published,
        doi=doi,
        journal_ref=journal_ref(venue),
        extra=extra,
    )


def _published(record: dict[str, Any]) -> tuple[date | None, str | None, int | None]:
    """(date, precision, year) from `DA` (`2023/08/01/`), else `PY`/`Y1` (`2023`, `2023/08/01/`)."""
    for key in ("date", "year", "publication_year"):
        if text := _text(record, key):
            parts = iso_date_parts(text, key)
            return (*dated(*parts, key), parts[0])
    return None, None, None


def _authors(record: dict[str, Any]) -> list[str]:
    names = []
    for raw in _texts(record, "authors", "first_authors"):
        parts = [p.strip() for p in raw.split(",")]
        if len(parts) == 2:
            raw = f"{parts[1]} {parts[0]}"
        elif len(parts) >= 3:
            raw = f"{parts[1]} {parts[0]} {parts[2]}"
        if name := clean_name(raw):
            names.append(name)
    return names
