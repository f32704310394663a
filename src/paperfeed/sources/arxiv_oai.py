"""One arXiv OAI-PMH response page (`ListRecords` or `GetRecord`).

Metadata formats: `arXiv` (the richest: structured authors with affiliations), `arXivRaw`
(versions with dates, authors as one string) and `oai_dc` (Dublin Core). Records whose header
says `status="deleted"` become `Deleted(id)` items.

`parse_oai_page` is what a harvester pages with: it also returns the resumption token and the
list size, and raises `OaiError` for an OAI-PMH error response.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import BinaryIO

from lxml import etree

from paperfeed.records import (
    Author,
    Paper,
    RecordError,
    make_paper,
    parse_arxiv_id,
    parse_iso_date,
)
from paperfeed.sources._common import clean_name, parse_xml, person_name, read_all, xml_text
from paperfeed.sources.arxiv_snapshot import parse_rfc2822_date, split_author_string
from paperfeed.sources.base import DEFAULT_LIMITS, Deleted, Limits, Rejected, SourceError, SourceItem

FORMAT = "arxiv-oai"

OAI = "http://www.openarchives.org/OAI/2.0/"
ARXIV = "http://arxiv.org/OAI/arXiv/"
ARXIV_RAW = "http://arxiv.org/OAI/arXivRaw/"
OAI_DC = "http://www.openarchives.org/OAI/2.0/oai_dc/"
DC = "http://purl.org/dc/elements/1.1/"

_O = {"o": OAI}
_DC = {"dc": DC}

# Optional text fields kept in Paper.extra, by element name (the same in arXiv and arXivRaw).
_EXTRA_FIELDS = {
    "comments": "comments",
    "report-no": "report_no",
    "msc-class": "msc_class",
    "acm-class": "acm_class",
    "proxy": "proxy",
    "submitter": "submitter",
}


class OaiError(SourceError):
    """An OAI-PMH `<error code="...">` response (e.g. `badResumptionToken`, `badArgument`)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"OAI-PMH error {code}: {message}" if message else f"OAI-PMH error {code}")
        self.code = code
        self.message = message


@dataclass
class OaiPage:
    """One response page. `resumption_token` is None on the last page (OAI-PMH sends an empty
    token element there, or none at all)."""

    items: list[SourceItem] = field(default_factory=list)
    resumption_token: str | None = None
    complete_list_size: int | None = None
    cursor: int | None = None


def read_arxiv_oai(
    stream: BinaryIO, name: str, limits: Limits = DEFAULT_LIMITS
) -> Iterator[SourceItem]:
    """Yield the records of one saved OAI-PMH response page (Paper, Deleted or Rejected with
    `where="entry N"`). Raises SourceError (OaiError for an OAI-PMH error response) when the page
    is empty, not XML, or not an OAI-PMH record response."""
    yield from parse_oai_page(read_all(stream, limits)).items


def parse_oai_page(data: bytes) -> OaiPage:
    """Parse one OAI-PMH response. `noRecordsMatch` (nothing changed in the range asked for) is
    the normal end of an incremental harvest, so it is an empty page, not an error."""
    if not data.strip():
        raise SourceError("empty file")
    root = parse_xml(data)
    if root.tag != f"{{{OAI}}}OAI-PMH":
        raise SourceError(f"not an OAI-PMH response: root element <{etree.QName(root).localname}>")
    _raise_oai_errors(root)
    container = root.find("o:ListRecords", _O)
    if container is None:
        container = root.find("o:GetRecord", _O)
    if container is None:
        return OaiPage() if _no_records(root) else _not_records(root)
    records = container.iterfind("o:record", _O)
    page = OaiPage(items=[_record(record, n) for n, record in enumerate(records, 1)])
    token = container.find("o:resumptionToken", _O)
    if token is not None:
        page.resumption_token = (token.text or "").strip() or None
        page.complete_list_size = _int_attr(token, "completeListSize")
        page.cursor = _int_attr(token, "cursor")
    return page


def _raise_oai_errors(root: etree._Element) -> None:
    for error in root.iterfind("o:error", _O):
        code = error.get("code", "unknown")
        if code != "noRecordsMatch":
            raise OaiError(code, (error.text or "").strip())


def _no_records(root: etree._Element) -> bool:
    return any(e.get("code") == "noRecordsMatch" for e in root.iterfind("o:error", _O))


def _not_records(root: etree._Element) -> OaiPage:
    verbs = [etree.QName(child).localname for child in root if isinstance(child.tag, str)]
    raise SourceError(f"not a ListRecords or GetRecord response (found {', '.join(verbs)})")


def _int_attr(element: etree._Element, name: str) -> int | None:
    value = (element.get(name) or "").strip()
    return int(value) if value.isdigit() else None


def _record(record: etree._Element, number: int) -> SourceItem:
    where = f"entry {number}"
    header = record.find("o:header", _O)
    identifier = (header.findtext("o:identifier", "", _O) if header is not None else "").strip()
    try:
        if header is not None and header.get("status") == "deleted":
            return Deleted(_id_from_identifier(identifier))
        body = _first_element(record.find("o:metadata", _O))
        if body is None:
            raise RecordError("record has no metadata")
        return _paper(body, identifier)
    except RecordError as exc:
        return Rejected(where, f"{identifier}: {exc}" if identifier else str(exc))


def _first_element(parent: etree._Element | None) -> etree._Element | None:
    if parent is None:
        return None
    return next((child for child in parent if isinstance(child.tag, str)), None)


def _id_from_identifier(identifier: str) -> str:
    """`oai:arXiv.org:0704.0001` → `0704.0001` (old ids keep their slash: `hep-th/9901001`)."""
    parsed = parse_arxiv_id(identifier.rsplit(":", 1)[-1]) if identifier else None
    if not parsed:
        raise RecordError(f"not an arXiv OAI identifier: {identifier!r:.60}")
    return parsed[0]


def _paper(body: etree._Element, identifier: str) -> Paper:
    if body.tag == f"{{{ARXIV}}}arXiv":
        return paper_from_arxiv(body, identifier)
    if body.tag == f"{{{ARXIV_RAW}}}arXivRaw":
        return paper_from_arxiv_raw(body, identifier)
    if body.tag == f"{{{OAI_DC}}}dc":
        return paper_from_oai_dc(body, identifier)
    raise RecordError(f"unsupported metadata format <{etree.QName(body).localname}>")


def _fields(body: etree._Element, ns: str) -> dict[str, list[etree._Element]]:
    """The child elements of `body` in namespace `ns`, by local name, found in one pass (much
    cheaper than one `find` per field over a page of a thousand records)."""
    prefix = f"{{{ns}}}"
    fields: dict[str, list[etree._Element]] = {}
    for child in body:
        tag = child.tag
        if isinstance(tag, str) and tag.startswith(prefix):
            fields.setdefault(tag[len(prefix) :], []).append(child)
    return fields


def _text(fields: dict[str, list[etree._Element]], name: str) -> str | None:
    elements = fields.get(name)
    return xml_text(elements[0]) if elements else None


def _extra(fields: dict[str, list[etree._Element]]) -> dict[str, str]:
    extra = {}
    for element, key in _EXTRA_FIELDS.items():
        if text := _text(fields, element):
            extra[key] = text
    return extra


def _categories(text: str | None) -> list[str]:
    return text.split() if text else []


def paper_from_arxiv(body: etree._Element, identifier: str) -> Paper:
    """The `arXiv` metadata format (namespace http://arxiv.org/OAI/arXiv/)."""
    fields = _fields(body, ARXIV)
    authors = [
        author
        for container in fields.get("authors", [])
        for element in container
        if (author := _arxiv_author(element))
    ]
    return make_paper(
        title=_text(fields, "title"),
        abstract=_text(fields, "abstract"),
        arxiv_id=_text(fields, "id") or _id_from_identifier(identifier),
        source=FORMAT,
        authors=authors,
        categories=_categories(_text(fields, "categories")),
        published=parse_iso_date(_text(fields, "created"), "created"),
        updated=parse_iso_date(_text(fields, "updated"), "updated"),
        doi=_text(fields, "doi"),
        journal_ref=_text(fields, "journal-ref"),
        license=_text(fields, "license"),
        extra=_extra(fields),
    )


def _arxiv_author(element: etree._Element) -> Author | None:
    """`<author><keyname/><forenames/><suffix/><affiliation/>*</author>`."""
    if element.tag != f"{{{ARXIV}}}author":
        return None
    parts = _fields(element, ARXIV)
    name = person_name(_text(parts, "forenames"), _text(parts, "keyname"), _text(parts, "suffix"))
    affiliations = [t for a in parts.get("affiliation", []) if (t := xml_text(a))]
    return Author(name, "; ".join(affiliations) or None) if name else None


def paper_from_arxiv_raw(body: etree._Element, identifier: str) -> Paper:
    """The `arXivRaw` metadata format: versions with RFC 2822 dates, authors as one string."""
    fields = _fields(body, ARXIV_RAW)
    versions = fields.get("version", [])
    published = _version_date(versions[0]) if versions else None
    updated = _version_date(versions[-1]) if len(versions) > 1 else None
    label = (versions[-1].get("version") or "").lstrip("vV") if versions else ""
    return make_paper(
        title=_text(fields, "title"),
        abstract=_text(fields, "abstract"),
        arxiv_id=_text(fields, "id") or _id_from_identifier(identifier),
        source=FORMAT,
        authors=[Author(n) for n in split_author_string(_text(fields, "authors") or "")],
        categories=_categories(_text(fields, "categories")),
        published=published,
        updated=updated,
        version=int(label) if label.isdigit() else None,
        doi=_text(fields, "doi"),
        journal_ref=_text(fields, "journal-ref"),
        license=_text(fields, "license"),
        extra=_extra(fields),
    )


def _version_date(version: etree._Element) -> date | None:
    text = xml_text(version.find(f"{{{ARXIV_RAW}}}date"))
    return parse_rfc2822_date(text, "version date") if text else None


def paper_from_oai_dc(body: etree._Element, identifier: str) -> Paper:
    """Dublin Core: creators as `Last, First`, dates of every version, subjects as words
    (`Computer Science - Learning`), not category codes, so those go to `extra`."""

    def texts(tag: str) -> list[str]:
        return [t for e in body.iterfind(f"dc:{tag}", _DC) if (t := xml_text(e))]

    arxiv_id, doi, journal_ref = None, None, None
    for ident in texts("identifier"):
        if arxiv_id is None and (parsed := parse_arxiv_id(ident)):
            arxiv_id = parsed[0]
        elif ident.lower().startswith("doi:"):
            doi = doi or ident[4:].strip()
        elif "://" not in ident and journal_ref is None:
            journal_ref = ident
    dates = sorted(d for d in (parse_iso_date(t, "date") for t in texts("date")) if d)
    descriptions = texts("description")
    subjects = texts("subject")
    titles = texts("title")
    return make_paper(
        title=titles[0] if titles else None,
        abstract=descriptions[0] if descriptions else None,
        arxiv_id=arxiv_id or _id_from_identifier(identifier),
        source=FORMAT,
        authors=[Author(_dc_name(c)) for c in texts("creator")],
        published=dates[0] if dates else None,
        updated=dates[-1] if len(dates) > 1 else None,
        doi=doi,
        journal_ref=journal_ref,
        extra={"subjects": subjects} if subjects else {},
    )


def _dc_name(creator: str) -> str:
    last, sep, first = creator.partition(",")
    return clean_name(f"{first} {last}" if sep else creator)
