"""An arXiv API response (`export.arxiv.org/api/query`): an Atom feed, one `<entry>` a paper."""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

from lxml import etree

from paperfeed.records import Author, Paper, RecordError, make_paper, parse_iso_date
from paperfeed.sources._common import clean_name, parse_xml, read_all, xml_text
from paperfeed.sources.base import DEFAULT_LIMITS, Limits, Rejected, SourceError, SourceItem

FORMAT = "arxiv-atom"

ATOM = "http://www.w3.org/2005/Atom"
ARXIV = "http://arxiv.org/schemas/atom"
OPENSEARCH = "http://a9.com/-/spec/opensearch/1.1/"
NS = {"atom": ATOM, "arxiv": ARXIV, "opensearch": OPENSEARCH}

# The API reports a bad query as a feed holding one entry with an id under this prefix.
_ERROR_ID_PREFIX = "http://arxiv.org/api/errors"


def read_arxiv_atom(
    stream: BinaryIO, name: str, limits: Limits = DEFAULT_LIMITS
) -> Iterator[SourceItem]:
    """Yield a Paper per feed entry, or Rejected("entry N", ...) for an entry that cannot be
    imported. Raises SourceError for an empty or malformed document, a document that is not an
    Atom feed, or an arXiv API error response (with the API's message)."""
    root = parse_xml(read_all(stream, limits))
    if root.tag == f"{{{ATOM}}}entry":
        entries = [root]
    elif root.tag == f"{{{ATOM}}}feed":
        entries = root.findall("atom:entry", NS)
    else:
        raise SourceError(f"not an Atom feed: the root element is <{etree.QName(root).localname}>")
    _raise_api_error(entries)
    for number, entry in enumerate(entries, 1):
        try:
            yield paper_from_entry(entry)
        except RecordError as exc:
            yield Rejected(f"entry {number}", str(exc))


def _raise_api_error(entries: list[etree._Element]) -> None:
    for entry in entries:
        entry_id = entry.findtext("atom:id", "", NS).strip()
        if entry_id.startswith(_ERROR_ID_PREFIX):
            message = xml_text(entry.find("atom:summary", NS)) or entry_id
            raise SourceError(f"arXiv API error: {message}")


def paper_from_entry(entry: etree._Element) -> Paper:
    """Map one Atom `<entry>` to a Paper; raises RecordError when it cannot be imported."""
    entry_id = xml_text(entry.find("atom:id", NS))
    if not entry_id:
        raise RecordError("entry has no id")
    comment = xml_text(entry.find("arxiv:comment", NS))
    return make_paper(
        title=xml_text(entry.find("atom:title", NS)),
        abstract=xml_text(entry.find("atom:summary", NS)),
        arxiv_id=entry_id,
        source=FORMAT,
        authors=_authors(entry),
        categories=_categories(entry),
        published=parse_iso_date(xml_text(entry.find("atom:published", NS)), "published"),
        updated=parse_iso_date(xml_text(entry.find("atom:updated", NS)), "updated"),
        doi=xml_text(entry.find("arxiv:doi", NS)),
        journal_ref=xml_text(entry.find("arxiv:journal_ref", NS)),
        extra={"comments": comment} if comment else {},
    )


def _authors(entry: etree._Element) -> list[Author]:
    authors = []
    for author in entry.iterfind("atom:author", NS):
        name = clean_name(xml_text(author.find("atom:name", NS)) or "")
        if not name:
            continue
        affiliations = [
            text for a in author.iterfind("arxiv:affiliation", NS) if (text := xml_text(a))
        ]
        authors.append(Author(name, "; ".join(affiliations) or None))
    return authors


def _categories(entry: etree._Element) -> list[str]:
    """Category terms, the primary one first, without repeats."""
    terms: list[str] = []
    primary = entry.find("arxiv:primary_category", NS)
    if primary is not None and primary.get("term"):
        terms.append(primary.get("term", "").strip())
    for category in entry.iterfind("atom:category", NS):
        term = (category.get("term") or "").strip()
        if term and term not in terms:
            terms.append(term)
    return terms
