"""CSL-JSON (Zotero's "CSL JSON" export, citeproc-js input): a JSON array of items.

Item fields used: `title`, `author` (`{family, given}`, `{literal}`), `issued` (`date-parts`
`[[y, m, d]]`, parts may be strings; or `raw`/`literal` text), `abstract`, `DOI`, `URL`,
`container-title`, `keyword` (tags, comma-separated), `type`; the arXiv id from `URL`, `DOI`,
`number` (Zotero: `arXiv:ID`), `note` (Zotero's Extra: `arXiv:ID [cs]`), `archive_location` or
the container title (see `_refs`). A broken item is reported by its index in the array (`item
3`, counting from 0).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from typing import Any, BinaryIO

from paperfeed.records import Author, Paper, RecordError
from paperfeed.sources._common import clean_name, has_bad_utf8, load_json_document, read_all
from paperfeed.sources._refs import (
    ARXIV_DOI_PREFIX,
    arxiv_id_in,
    categories_from_tags,
    clean_doi,
    dated,
    iso_date_parts,
    journal_ref,
    make_plain_paper,
    split_tags,
)
from paperfeed.sources.base import DEFAULT_LIMITS, Limits, Rejected, SourceError, SourceItem

FORMAT = "csl-json"

# CSL's rich-text markup in titles (Zotero writes `<i>E. coli</i>`): kept as plain text.
_RICH_TEXT = re.compile(r"</?(?:i|b|sup|sub|span(?:\s[^<>]*)?)>")
_ARXIV_FIELDS = ("URL", "DOI", "number", "note", "archive_location", "container-title", "publisher")


def read_csl_json(
    stream: BinaryIO, name: str, limits: Limits = DEFAULT_LIMITS
) -> Iterator[SourceItem]:
    """Yield a Paper per item, or Rejected("item N", ...). Raises SourceError when the input is
    empty, not JSON, not an array of items (one item object is read as one), or has no items."""
    document, lossy = load_json_document(read_all(stream, limits))
    if isinstance(document, dict) and ("title" in document or "type" in document):
        document = [document]
    if not isinstance(document, list):
        raise SourceError("not CSL-JSON: expected a JSON array of items")
    if not document:
        raise SourceError("no CSL-JSON items found (an empty array)")
    for index, item in enumerate(document):
        where = f"item {index}"
        if not isinstance(item, dict):
            yield Rejected(where, "not a CSL-JSON item (an object)")
        elif lossy and has_bad_utf8(item):
            yield Rejected(where, "invalid UTF-8")
        else:
            try:
                yield paper_from_csl(item)
            except RecordError as exc:
                yield Rejected(where, str(exc))


def _str(item: dict[str, Any], key: str) -> str:
    value = item.get(key)
    if value is None:
        return ""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise RecordError(f"{key} is not text: {value!r:.40}")
    return value.strip()


def paper_from_csl(item: dict[str, Any]) -> Paper:
    """Map one CSL-JSON item to a Paper; raises RecordError."""
    title = _RICH_TEXT.sub("", _str(item, "title"))
    doi = clean_doi(_str(item, "DOI"))
    arxiv_id = arxiv_id_in(*(_str(item, key) for key in _ARXIV_FIELDS))
    if doi and doi.lower().startswith(ARXIV_DOI_PREFIX):
        doi = None  # arXiv's own DOI follows from the id
    published, precision, year = _issued(item.get("issued"))
    categories, tags = categories_from_tags(None, split_tags(_str(item, "keyword")))
    extra: dict[str, Any] = {"csl_type": _str(item, "type")}
    if precision:
        extra["date_precision"] = precision
        extra["year"] = year
    if tags:
        extra["tags"] = tags
    if url := _str(item, "URL"):
        extra["url"] = url
    return make_plain_paper(
        title=title,
        abstract=_str(item, "abstract") or None,
        arxiv_id=arxiv_id,
        source=FORMAT,
        authors=[Author(n) for n in _authors(item.get("author"))],
        categories=categories,
        published=published,
        doi=doi,
        journal_ref=journal_ref(_str(item, "container-title")),
        extra=extra,
    )


def _issued(value: Any) -> tuple[date | None, str | None, int | None]:
    """(date, precision, year) from a CSL date: `{"date-parts": [[2023, 8, 1]]}` (parts may be
    strings, as Zotero writes the year), or `{"raw": "2023-08-01"}` / `{"literal": ...}`."""
    if value is None:
        return None, None, None
    if not isinstance(value, dict):
        raise RecordError(f"issued is not a CSL date: {value!r:.40}")
    parts = value.get("date-parts")
    if parts is not None:
        if not (isinstance(parts, list) and parts and isinstance(parts[0], list) and parts[0]):
            raise RecordError(f"issued date-parts is not [[year, month, day]]: {parts!r:.40}")
        numbers = [_part(p) for p in parts[0][:3]]
        year, month, day = (numbers + [None, None])[:3]
        if year is None:
            raise RecordError(f"issued has no year: {parts!r:.40}")
        return (*dated(year, month, day, "issued"), year)
    text = value.get("raw") or value.get("literal")
    if isinstance(text, str) and text.strip():
        parts3 = iso_date_parts(text, "issued")
        return (*dated(*parts3, "issued"), parts3[0])
    return None, None, None


def _part(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    raise RecordError(f"issued date part is not a number: {value!r:.40}")


def _authors(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise RecordError("author is not a list of names")
    names = []
    for person in value:
        if not isinstance(person, dict):
            raise RecordError(f"author is not a name object: {person!r:.40}")
        literal = person.get("literal")
        if isinstance(literal, str) and literal.strip():
            raw = literal
        else:
            parts = [person.get(k) for k in ("given", "dropping-particle", "non-dropping-particle",
                                             "family", "suffix")]
            raw = " ".join(p for p in parts if isinstance(p, str) and p.strip())
        if name := clean_name(raw):
            names.append(name)
    return names

