"""Small helpers the source readers share: reading a whole input, checked dates, month names,
author names, typed field access, JSON with broken UTF-8, and a safe XML parser."""

from __future__ import annotations

import gzip
import json
import re
import zlib
from datetime import UTC, date, datetime
from typing import Any, BinaryIO

import orjson
from lxml import etree

from paperfeed.records import RecordError, check_date, clean_text
from paperfeed.sources.base import DEFAULT_LIMITS, Limits, SourceError, TooLarge

MONTHS: dict[str, int] = {
    name: number
    for number, names in enumerate(
        [
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ],
        start=1,
    )
    for name in names
}

_BOM = b"\xef\xbb\xbf"

# What reading a damaged .gz raises part-way through (the caller wraps .gz inputs in GzipFile).
GZIP_ERRORS = (EOFError, gzip.BadGzipFile, zlib.error)


_CHUNK = 1 << 20


def read_all(stream: BinaryIO, limits: Limits = DEFAULT_LIMITS) -> bytes:
    """The whole input (for document formats, which are small), without a UTF-8 BOM.
    An input with nothing but whitespace, or a damaged .gz (half a document), is unusable; one
    over `limits.document_bytes` is refused as soon as it is read that far (TooLarge)."""
    limit = limits.document_bytes
    chunks: list[bytes] = []
    size = 0
    try:
        while chunk := stream.read(min(_CHUNK, limit + 1 - size)):
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                chunks.clear()
                raise TooLarge(document_too_large(limit))
    except GZIP_ERRORS:
        raise SourceError("truncated or corrupt gzip data") from None
    data = b"".join(chunks)
    del chunks
    if data.startswith(_BOM):
        data = data[len(_BOM) :]
    if not data.strip():
        raise SourceError("empty file")
    return data


def document_too_large(limit: int) -> str:
    return (
        f"a document over {limit:,} bytes (decompressed) is refused; "
        "raise PAPERFEED_MAX_DOCUMENT_BYTES to import it"
    )


def record_too_large(limit: int) -> str:
    return (
        f"a record (line) over {limit:,} bytes is refused; "
        "raise PAPERFEED_MAX_RECORD_BYTES to import it"
    )


def utc_today() -> date:
    return datetime.now(UTC).date()


def month_day_year(
    year: int, month: int, day: int, field_name: str, *, today: date | None = None
) -> date:
    """A calendar date from parts, checked like every other date (not before 1990, not future)."""
    try:
        value = date(year, month, day)
    except ValueError as exc:
        raise RecordError(f"{field_name} is not a date: {year}-{month}-{day}") from exc
    checked = check_date(value, field_name, today=today)
    assert checked is not None
    return checked


def person_name(first: str | None, last: str | None, suffix: str | None = None) -> str:
    """`first last suffix` from the parts, skipping empty ones; TeX accents rendered."""
    return clean_name(" ".join(p for p in (first, last, suffix) if p and p.strip()))


def clean_name(name: str) -> str:
    """An author name for display. Names are short and mostly plain, so the common case skips
    the full `clean_text` (which renders TeX) to keep bulk imports fast."""
    if "\\" in name or "$" in name or "{" in name:
        return clean_text(name)  # renders TeX and drops grouping braces (not escaped ones)
    return " ".join(name.split())


def as_str(value: Any, field_name: str) -> str | None:
    """A text field that may be missing; anything but text or null rejects the record."""
    if value is None or isinstance(value, str):
        return value or None
    raise RecordError(f"{field_name} is not text: {value!r:.40}")


def as_int(value: Any, field_name: str) -> int | None:
    """A count that may be missing; a bool or text is not a count."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise RecordError(f"{field_name} is not a whole number: {value!r:.40}")


# ---------------------------------------------------------------------------------------------
# JSON documents


def load_json_document(data: bytes) -> tuple[Any, bool]:
    """Parse one JSON document. Returns (value, lossy): when the bytes are not valid UTF-8 the
    document is still read (the bad bytes become lone surrogates, see `has_bad_utf8`) so that
    only the items holding them are rejected, not the whole file."""
    try:
        return orjson.loads(data), False
    except orjson.JSONDecodeError as exc:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            raise SourceError(f"not JSON: {exc}") from None
    try:
        return json.loads(data.decode("utf-8", "surrogateescape")), True
    except ValueError as exc:
        raise SourceError(f"not JSON: {exc}") from None


_LONE_SURROGATE = re.compile("[\udc80-\udcff]")


def has_bad_utf8(value: Any) -> bool:
    """Whether a value decoded with `surrogateescape` holds bytes that were not UTF-8."""
    if isinstance(value, str):
        return _LONE_SURROGATE.search(value) is not None
    if isinstance(value, dict):
        return any(has_bad_utf8(k) or has_bad_utf8(v) for k, v in value.items())
    if isinstance(value, list):
        return any(has_bad_utf8(v) for v in value)
    return False


# ---------------------------------------------------------------------------------------------
# XML

_HUGE_TEXT = re.compile(r"text node too long|huge text", re.IGNORECASE)


def _xml_parser(*, huge: bool) -> etree.XMLParser:
    # No entity expansion, no DTD or network fetches: the input is untrusted.
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=huge,
        remove_comments=True,
        remove_pis=True,
    )


def parse_xml(data: bytes) -> etree._Element:
    """Parse an untrusted XML document safely, or raise SourceError("not well-formed XML: ...").

    libxml2's default limits refuse a text node over 10 MB and so the whole document. Such a
    node (a runaway abstract) belongs to one record, which `make_paper` rejects by itself, so in
    that one case the document is parsed again with the size limit lifted: the text is bounded
    by the bytes already in memory, and entity expansion and network access stay off."""
    try:
        return etree.fromstring(data, _xml_parser(huge=False))
    except etree.XMLSyntaxError as exc:
        if not _HUGE_TEXT.search(str(exc)):
            raise SourceError(f"not well-formed XML: {exc}") from None
    try:
        return etree.fromstring(data, _xml_parser(huge=True))
    except etree.XMLSyntaxError as exc:
        raise SourceError(f"not well-formed XML: {exc}") from None


def xml_text(element: etree._Element | None) -> str | None:
    """All text inside an element (None when the element is missing or empty)."""
    if element is None:
        return None
    if len(element) == 0:  # the common case: no child elements
        return (element.text or "").strip() or None
    # lxml-stubs: itertext yields str | bytes; a parsed tree's text is str.
    text = "".join(element.itertext()).strip()  # type: ignore[arg-type]
    return text or None
