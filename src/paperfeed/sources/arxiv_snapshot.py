"""The arXiv bulk metadata snapshot (`arxiv-metadata-oai-snapshot.json`): JSON lines, one paper
a line, about 3 million lines for all of arXiv.

Read line by line in constant memory; this is the bulk path, so the per-line work is kept small
(orjson, a hand-written date parse, no regular expressions beyond what `make_paper` does).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from typing import Any, BinaryIO

import orjson

from paperfeed.records import (
    Author,
    Paper,
    RecordError,
    check_date,
    make_paper,
    parse_iso_date,
)
from paperfeed.sources._common import (
    GZIP_ERRORS,
    MONTHS,
    as_str,
    clean_name,
    month_day_year,
    record_too_large,
    utc_today,
)
from paperfeed.sources.base import (
    DEFAULT_LIMITS,
    Limits,
    Rejected,
    SourceError,
    SourceItem,
    TooLarge,
)

FORMAT = "arxiv-snapshot"


def read_arxiv_snapshot(
    stream: BinaryIO, name: str, limits: Limits = DEFAULT_LIMITS
) -> Iterator[SourceItem]:
    """Yield a Paper (or a Rejected, `where="line N"`) for every non-blank line of a snapshot.

    Raises SourceError when the input is empty or its first line is not a JSON object at all
    (not a snapshot). A truncated or corrupt gzip stream ends the file with one
    `Rejected("byte N", ...)`, N being the decompressed offset where reading stopped.

    No line is held whole beyond `limits.record_bytes`: a longer one is rejected and skipped in
    bounded chunks (TooLarge when it is the first line: then it is no snapshot worth reading)."""
    today = utc_today()
    limit = limits.record_bytes
    readline = stream.readline
    lineno = 0
    offset = 0
    started = False
    while True:
        try:
            line = readline(limit + 1)
            if not line:
                break
            if len(line) > limit and not line.endswith(b"\n"):
                del line
                offset += limit + 1 + _skip_line(readline)
                lineno += 1
                if not started:
                    raise TooLarge(record_too_large(limit))
                yield Rejected(f"line {lineno}", record_too_large(limit))
                continue
        except GZIP_ERRORS:  # everything read before the damage is kept
            if not started:
                raise SourceError("truncated or corrupt gzip data") from None
            yield Rejected(f"byte {offset}", "truncated or corrupt gzip data")
            return
        lineno += 1
        offset += len(line)
        if not started:
            if line.startswith(b"\xef\xbb\xbf"):
                line = line[3:]
            if not line.strip():
                continue
            if not line.lstrip().startswith(b"{"):
                raise SourceError("not JSON lines: the first line is not a JSON object")
            started = True
        elif line.isspace():
            continue
        yield _read_line(line, lineno, today)
    if not started:
        raise SourceError("empty file")


def _skip_line(readline: Callable[[int], bytes]) -> int:
    """Read past the rest of an oversized line, a MiB at a time; the bytes skipped."""
    skipped = 0
    while chunk := readline(1 << 20):
        skipped += len(chunk)
        if chunk.endswith(b"\n"):
            break
    return skipped


def _read_line(line: bytes, lineno: int, today: date) -> Paper | Rejected:
    where = f"line {lineno}"
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        return Rejected(where, _json_problem(line, exc))
    if not isinstance(obj, dict):
        return Rejected(where, "line is not a JSON object")
    try:
        return paper_from_snapshot(obj, today=today)
    except RecordError as exc:
        return Rejected(where, str(exc))


def _json_problem(line: bytes, exc: orjson.JSONDecodeError) -> str:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError as bad:
        return f"invalid UTF-8 at byte {bad.start} of the line"
    return f"not valid JSON (cut short?): {exc}"


def paper_from_snapshot(obj: dict[str, Any], *, today: date | None = None) -> Paper:
    """Map one snapshot object to a Paper; raises RecordError when it cannot be imported.
    `today` (for the future-date check) is passed in by bulk readers to save a clock call."""
    today = today or utc_today()
    arxiv_id = as_str(obj.get("id"), "id")
    if not arxiv_id:
        raise RecordError("record has no id")
    versions = obj.get("versions") or []
    if not isinstance(versions, list):
        raise RecordError("versions is not a list")
    published, version = _versions(versions, today)
    categories = as_str(obj.get("categories"), "categories")
    extra = {}
    if comments := as_str(obj.get("comments"), "comments"):
        extra["comments"] = comments
    if report_no := as_str(obj.get("report-no"), "report-no"):
        extra["report_no"] = report_no
    if submitter := as_str(obj.get("submitter"), "submitter"):
        extra["submitter"] = submitter
    return make_paper(
        title=obj.get("title"),
        abstract=obj.get("abstract"),
        arxiv_id=arxiv_id,
        source=FORMAT,
        authors=_authors(obj),
        categories=categories.split() if categories else [],
        published=published,
        updated=_iso_day(obj.get("update_date"), "update_date", today),
        version=version,
        doi=as_str(obj.get("doi"), "doi"),
        journal_ref=as_str(obj.get("journal-ref"), "journal-ref"),
        license=as_str(obj.get("license"), "license"),
        extra=extra,
    )


def _versions(versions: list[Any], today: date) -> tuple[date | None, int | None]:
    """(date of v1, number of the last version)."""
    if not versions:
        return None, None
    first, last = versions[0], versions[-1]
    if not isinstance(first, dict) or not isinstance(last, dict):
        raise RecordError("versions holds something other than objects")
    created = as_str(first.get("created"), "versions[0].created")
    published = parse_rfc2822_date(created, "published", today=today) if created else None
    label = as_str(last.get("version"), "version") or ""
    number = label[1:] if label[:1] in ("v", "V") else label
    return published, int(number) if number.isdigit() else None


def parse_rfc2822_date(text: str, field_name: str, *, today: date | None = None) -> date:
    """The date of an RFC 2822 timestamp like `Mon, 2 Apr 2007 19:18:42 GMT` (the day, month
    and year are enough; a hand parse is several times faster than `email.utils`)."""
    parts = text.split()
    if parts and parts[0].endswith(","):
        parts = parts[1:]
    if len(parts) < 3:
        raise RecordError(f"{field_name} is not a date: {text!r:.40}")
    day, month, year = parts[0], MONTHS.get(parts[1].lower()), parts[2]
    if month is None or not day.isdigit() or not year.isdigit():
        raise RecordError(f"{field_name} is not a date: {text!r:.40}")
    return month_day_year(int(year), month, int(day), field_name, today=today)


def _iso_day(text: Any, field_name: str, today: date) -> date | None:
    """`YYYY-MM-DD` quickly (the snapshot's only form); anything else the general way."""
    if isinstance(text, str) and len(text) == 10:
        try:
            value = date.fromisoformat(text)
        except ValueError:
            raise RecordError(f"{field_name} is not a date: {text!r:.40}") from None
        return check_date(value, field_name, today=today)
    return parse_iso_date(text, field_name)


def _authors(obj: dict[str, Any]) -> list[Author]:
    parsed = obj.get("authors_parsed")
    if isinstance(parsed, list) and parsed:
        return [a for parts in parsed if (a := _parsed_author(parts))]
    return [Author(n) for n in split_author_string(as_str(obj.get("authors"), "authors") or "")]


def _parsed_author(parts: Any) -> Author | None:
    """`[last, first, suffix]` → `first last suffix` (the hot path of a bulk import)."""
    if type(parts) is not list:
        raise RecordError("authors_parsed holds something other than lists")
    if len(parts) == 3:
        last, first, suffix = parts
    else:  # seen in the wild: [last, first] or [last, first, suffix, extra]
        last, first, suffix = (parts + ["", "", ""])[:3]
    if type(last) is not str or type(first) is not str or type(suffix) is not str:
        raise RecordError("authors_parsed holds something other than text")
    name = f"{first} {last}" if first else last
    if suffix:
        name = f"{name} {suffix}"
    name = clean_name(name) if "\\" in name or "{" in name or "$" in name or "  " in name else name.strip()
    return Author(name) if name else None


def split_author_string(text: str) -> list[str]:
    """`A. One, B. Two and C. Three` → names (the snapshot's `authors` string)."""
    names = []
    for chunk in text.replace("\n", " ").split(","):
        for part in chunk.split(" and "):
            name = clean_name(part)
            if name:
                names.append(name)
    return names
