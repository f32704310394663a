"""A saved Hugging Face papers listing page, as HTML or as the text a browser shows.

The text rendering (see `paperfeed/sample/*.txt`) is a header, then per paper: a title line, a
blank line, the abstract paragraph and, sometimes, a metadata block:

    <title>

    <abstract>

      • 12 authors            (or an organization line: `huawei-noah HUAWEI Noah's Ark Lab`)
    ·
    Feb 8, 2025 2            (publication date, then the upvote count when there is one)

The page's own day (`Jan 6`, no year) is the day of the listing, not of any paper: ignored.
Titles carry no arXiv id, so text papers get title-based ids.

The HTML carries the same papers. Current pages embed the data as JSON in a `data-props`
attribute (`<div data-target="DailyPapers" data-props="{...}">`), which is read like the JSON
API when present; otherwise the paper cards (`<article>` with `<h3><a href="/papers/ID">`) are
read, taking arXiv ids from the links.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any, BinaryIO

import lxml.html
import orjson
from lxml import etree

from paperfeed.records import Paper, RecordError, make_paper, parse_arxiv_id
from paperfeed.sources._common import MONTHS, has_bad_utf8, month_day_year, read_all
from paperfeed.sources.base import DEFAULT_LIMITS, Limits, Rejected, SourceError, SourceItem
from paperfeed.sources.hf_daily import is_hf_item, is_hf_paper, paper_from_hf_item

FORMAT = "hf-page"

HEADER_LINES = frozenset(
    {
        "new",
        "Get trending papers in your email inbox!",
        "Subscribe",
        "Daily Papers",
        "byAK and the research community",
    }
)
# A header line that only a papers page has (used to recognise the text rendering).
MARKERS = ("Get trending papers in your email inbox!", "byAK and the research community")

_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*\.?"
PAGE_DAY_RE = re.compile(rf"^{_MONTH} \d{{1,2}}$")
DATE_RE = re.compile(
    rf"^(?:Published on )?(?P<month>{_MONTH}) (?P<day>\d{{1,2}}), (?P<year>\d{{4}})"
    rf"(?:\s+(?P<upvotes>\d+))?$"
)
AUTHORS_RE = re.compile(r"^[•·]?\s*(?P<count>\d+) authors?$")
_PAPER_LINK_RE = re.compile(r"/papers/(?P<id>[^/?#\s]+)")
_UPVOTES_RE = re.compile(r"^\d+$")


def read_hf_page(
    stream: BinaryIO, name: str, limits: Limits = DEFAULT_LIMITS
) -> Iterator[SourceItem]:
    """Yield the papers of a saved listing page (HTML or text). Rejected items carry
    `where="line N"` (text: the title's line) or `"entry N"` (HTML cards). Raises SourceError
    when the input is empty or is not a papers page."""
    data = read_all(stream, limits)
    text = data.decode("utf-8", "surrogateescape")
    if looks_like_html(text[:4096]):
        yield from _read_html(data)
    else:
        yield from _read_text(text)


def looks_like_html(head: str) -> bool:
    start = head.lstrip().lower()
    return start.startswith(("<!doctype html", "<html", "<head", "<body", "<!--")) or (
        start.startswith("<") and ("<article" in start or "<div" in start)
    )


# ---------------------------------------------------------------------------------------------
# Text rendering


@dataclass
class _Paragraph:
    line: int  # 1-based number of its first line
    lines: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return " ".join(s.strip() for s in self.lines)


def _paragraphs(text: str) -> list[_Paragraph]:
    """Runs of non-blank lines, with where each starts."""
    paragraphs: list[_Paragraph] = []
    current: _Paragraph | None = None
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            current = None
            continue
        if current is None:
            current = _Paragraph(number)
            paragraphs.append(current)
        current.lines.append(line.rstrip())
    return paragraphs


def _is_header(paragraph: _Paragraph) -> bool:
    line = paragraph.text
    return len(paragraph.lines) == 1 and (line in HEADER_LINES or bool(PAGE_DAY_RE.match(line)))


def _is_metadata(paragraph: _Paragraph) -> bool:
    lines = [s.strip() for s in paragraph.lines]
    return (
        "·" in lines
        or bool(AUTHORS_RE.match(lines[0]))
        or (len(lines) <= 3 and bool(DATE_RE.match(lines[-1])))
    )


def _read_text(text: str) -> Iterator[SourceItem]:
    paragraphs = _paragraphs(text)
    start = 0
    while start < len(paragraphs) and _is_header(paragraphs[start]):
        start += 1
    headed = any(p.text in MARKERS for p in paragraphs[:start])
    if not headed and not any(_is_metadata(p) for p in paragraphs):
        raise SourceError("not a Hugging Face papers page (no header, no paper metadata)")
    i = start
    while i < len(paragraphs):
        title = paragraphs[i]
        abstract: _Paragraph | None = None
        meta: _Paragraph | None = None
        i += 1
        if i < len(paragraphs) and not _is_metadata(paragraphs[i]):
            abstract = paragraphs[i]
            i += 1
        if i < len(paragraphs) and _is_metadata(paragraphs[i]):
            meta = paragraphs[i]
            i += 1
        yield _text_entry(title, abstract, meta)


def _text_entry(
    title: _Paragraph, abstract: _Paragraph | None, meta: _Paragraph | None
) -> Paper | Rejected:
    where = f"line {title.line}"
    parts = [title, abstract, meta]
    if any(p is not None and has_bad_utf8(p.lines) for p in parts):
        return Rejected(where, "invalid UTF-8")
    try:
        return make_paper(
            title=title.text,
            abstract=abstract.text if abstract else None,
            source=FORMAT,
            **(parse_metadata(meta.lines) if meta else {}),
        )
    except RecordError as exc:
        return Rejected(where, str(exc))


def parse_metadata(lines: list[str]) -> dict[str, Any]:
    """Paper fields from a metadata block: author count or organization, date, upvotes."""
    fields: dict[str, Any] = {}
    for raw in lines:
        line = raw.strip()
        if not line or line == "·":
            continue
        if m := AUTHORS_RE.match(line):
            fields["author_count"] = int(m["count"])
        elif m := DATE_RE.match(line):
            fields["published"] = parse_month_date(m["month"], m["day"], m["year"])
            if m["upvotes"]:
                fields["upvotes"] = int(m["upvotes"])
        elif _UPVOTES_RE.match(line):
            fields["upvotes"] = int(line)
        else:  # `huawei-noah HUAWEI Noah's Ark Lab`: the slug, then the full name
            slug, _, full_name = line.partition(" ")
            fields["organization"] = slug
            fields["organization_name"] = full_name.strip() or None
    return fields


def parse_month_date(month: str, day: str, year: str) -> date:
    """`Feb`, `8`, `2025` → a checked date."""
    number = MONTHS.get(month.rstrip(".").lower())
    if number is None:
        raise RecordError(f"published is not a date: {month} {day}, {year}")
    return month_day_year(int(year), number, int(day), "published")


# ---------------------------------------------------------------------------------------------
# HTML


def _read_html(data: bytes) -> Iterator[SourceItem]:
    parser = lxml.html.HTMLParser(no_network=True, huge_tree=False, remove_comments=True)
    try:
        root = lxml.html.document_fromstring(data, parser=parser)
    except (etree.ParserError, ValueError) as exc:
        raise SourceError(f"not a readable HTML page: {exc}") from None
    items = _hydration_items(root)
    if items is not None:
        for number, item in enumerate(items, 1):
            yield _hydrated_entry(item, f"entry {number}")
        return
    cards = _cards(root)
    if not cards:
        raise SourceError("no papers found in the HTML page")
    for number, card in enumerate(cards, 1):
        yield _card_entry(card, f"entry {number}")


def _hydration_items(root: etree._Element) -> list[Any] | None:
    """The paper items of the page's embedded JSON (`data-props`), if it has any."""
    for element in root.iterfind(".//*[@data-props]"):
        try:
            props = orjson.loads(element.get("data-props", ""))
        except orjson.JSONDecodeError:
            continue
        if not isinstance(props, dict):
            continue
        for value in props.values():
            if (
                isinstance(value, list)
                and value
                and all(isinstance(v, dict) for v in value)
                and any(is_hf_item(v) for v in value)
            ):
                return value
    return None


def _hydrated_entry(item: dict[str, Any], where: str) -> Paper | Rejected:
    if not (is_hf_item(item) or is_hf_paper(item)):
        return Rejected(where, "item has no paper")
    try:
        return paper_from_hf_item(item, source=FORMAT)
    except RecordError as exc:
        return Rejected(where, str(exc))


def _cards(root: etree._Element) -> list[etree._Element]:
    """Paper cards: `<article>` elements holding a heading link to /papers/ID; without articles,
    the nearest container of each such heading."""
    articles = [a for a in root.iter("article") if _title_link(a) is not None]
    if articles:
        return articles
    return [
        parent for h in root.iter("h2", "h3")
        if _title_link(h) is not None and (parent := h.getparent()) is not None
    ]


def _title_link(element: etree._Element) -> etree._Element | None:
    for link in element.iterfind(".//a[@href]"):
        if _PAPER_LINK_RE.search(link.get("href", "")) and link.xpath("ancestor::h2|ancestor::h3"):
            return link
    return None


def _card_entry(card: etree._Element, where: str) -> Paper | Rejected:
    link = _title_link(card)
    assert link is not None
    match = _PAPER_LINK_RE.search(link.get("href", ""))
    paper_id = match["id"] if match else ""
    try:
        fields = _card_fields(card)
        return make_paper(
            # lxml-stubs type the elements of an HTML tree as _Element, without text_content.
            title=link.text_content(),  # type: ignore[attr-defined]
            abstract=" ".join(p.text_content().strip() for p in card.iter("p")) or None,  # type: ignore[attr-defined]
            arxiv_id=paper_id if parse_arxiv_id(paper_id) else None,
            source=FORMAT,
            **fields,
        )
    except RecordError as exc:
        return Rejected(where, str(exc))


def _card_fields(card: etree._Element) -> dict[str, Any]:
    """Metadata from a card's short texts outside the title and abstract: the upvote count
    (an element marked as upvotes, else a bare number), author count, organization, date."""
    fields: dict[str, Any] = {}
    for element in card.iter():
        if not isinstance(element.tag, str) or element.tag in ("p", "h2", "h3"):
            continue
        # lxml-stubs: attribute names are str | bytes; an HTML tree's are str.
        cls = (element.get("class") or "") + " " + " ".join(element.keys())  # type: ignore[arg-type]
        own = (element.text or "").strip()
        if "upvote" in cls.lower() and own.isdigit():
            fields["upvotes"] = int(own)
        elif m := AUTHORS_RE.match(own):
            fields["author_count"] = int(m["count"])
        elif m := DATE_RE.match(own):
            fields["published"] = parse_month_date(m["month"], m["day"], m["year"])
        elif own.isdigit() and "upvotes" not in fields and not _in_link(element):
            fields["upvotes"] = int(own)
        elif element.tag == "a" and element.get("href", "").startswith("/") and own:
            slug = element.get("href", "").strip("/")
            if slug and "/" not in slug and not slug.startswith("papers"):
                fields["organization"] = slug
                fields["organization_name"] = own
    return fields


def _in_link(element: etree._Element) -> bool:
    return element.tag == "a" or bool(element.xpath("ancestor::a"))
