"""The source readers, by format name, and format detection from a file's first bytes.

Every reader has the signature `read(stream: BinaryIO, name: str) -> Iterator[SourceItem]`
(see `base.py`). The caller opens files and undoes gzip before detection and reading.
"""

from __future__ import annotations

import re

import orjson

from paperfeed.sources.arxiv_atom import read_arxiv_atom
from paperfeed.sources.arxiv_oai import OaiError, OaiPage, parse_oai_page, read_arxiv_oai
from paperfeed.sources.arxiv_snapshot import read_arxiv_snapshot
from paperfeed.sources.base import Deleted, Reader, Rejected, SourceError, SourceItem
from paperfeed.sources.bibtex import read_bibtex
from paperfeed.sources.csl_json import read_csl_json
from paperfeed.sources.hf_daily import read_hf_daily
from paperfeed.sources.hf_page import MARKERS, looks_like_html, read_hf_page
from paperfeed.sources.ris import read_ris

FORMATS: dict[str, Reader] = {
    "arxiv-snapshot": read_arxiv_snapshot,
    "arxiv-atom": read_arxiv_atom,
    "arxiv-oai": read_arxiv_oai,
    "hf-daily": read_hf_daily,
    "hf-page": read_hf_page,
    "bibtex": read_bibtex,
    "ris": read_ris,
    "csl-json": read_csl_json,
}

SNIFF_BYTES = 64 * 1024

_BIBTEX_RE = re.compile(rb"(?m)^[ \t]*@[ \t]*[A-Za-z]+[ \t]*[{(]")
_HF_JSON_KEYS = (b'"paper"', b'"upvotes"', b'"submittedOnDailyAt"', b'"discussionId"')
# Keys only CSL-JSON items carry (HF items have `title` and `type`, never these).
_CSL_JSON_KEYS = (b'"issued"', b'"date-parts"', b'"container-title"', b'"citation-key"', b'"DOI"',
                  b'"URL"', b'"family"', b'"literal"', b'"csl')
_RIS_RE = re.compile(rb"\ATY  - ")
_ATOM_NS = b"http://www.w3.org/2005/Atom"
_EXTENSIONS = {
    ".bib": "bibtex",
    ".bibtex": "bibtex",
    ".ris": "ris",
    ".csl.json": "csl-json",
    ".html": "hf-page",
    ".htm": "hf-page",
}

__all__ = [
    "FORMATS",
    "Deleted",
    "OaiError",
    "OaiPage",
    "Reader",
    "Rejected",
    "SourceError",
    "SourceItem",
    "detect_format",
    "parse_oai_page",
]


def detect_format(head: bytes, name: str) -> str:
    """The format of an input from its first bytes (about 64 KB, already decompressed; for JSON
    lines, the caller passes the whole first line, however long, so it can be parsed).

    Content decides; the file name's extension is only a fallback (`.bib`, `.html`). Raises
    SourceError when neither tells."""
    whole = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    head = whole[:SNIFF_BYTES]
    found = _sniff_json_object(whole) if head.startswith(b"{") else _sniff(head)
    if found:
        return found
    for extension, fmt in _EXTENSIONS.items():
        if name.lower().removesuffix(".gz").endswith(extension):
            return fmt
    raise SourceError(f"cannot tell the format of {name}; pass --format")


def _sniff(head: bytes) -> str | None:
    if head.startswith(b"{"):
        return _sniff_json_object(head)
    if head.startswith(b"["):
        rest = head[1:].lstrip()
        if rest.startswith(b"]") or _has_hf_keys(head):
            return "hf-daily"
        return "csl-json" if _has_csl_keys(head) else None
    if head.startswith(b"<"):
        return _sniff_markup(head)
    text_head = head[:4096].decode("utf-8", "replace")
    if any(marker in text_head for marker in MARKERS):
        return "hf-page"
    if _RIS_RE.match(head):
        return "ris"
    if _BIBTEX_RE.search(head):
        return "bibtex"
    return None


def _sniff_json_object(head: bytes) -> str | None:
    """JSON lines of snapshot records, or one HF API object (pretty-printed or not)."""
    first_line = head.split(b"\n", 1)[0]
    try:
        first = orjson.loads(first_line)
    except orjson.JSONDecodeError:
        first = None
    if isinstance(first, dict):
        if "id" in first and ("versions" in first or "authors_parsed" in first):
            return "arxiv-snapshot"
        if "paper" in first or "upvotes" in first or "submittedOnDailyAt" in first:
            return "hf-daily"
        return None
    if b'"versions"' in head and b'"authors_parsed"' in head:
        return "arxiv-snapshot"  # a first line too long for the sniffed head
    return "hf-daily" if _has_hf_keys(head) else None


def _has_hf_keys(head: bytes) -> bool:
    return any(key in head for key in _HF_JSON_KEYS)


def _has_csl_keys(head: bytes) -> bool:
    return any(key in head for key in _CSL_JSON_KEYS)


def _sniff_markup(head: bytes) -> str | None:
    if b"<OAI-PMH" in head:
        return "arxiv-oai"
    if re.search(rb"<(?:\w+:)?feed[\s>]", head) and _ATOM_NS in head:
        return "arxiv-atom"
    if looks_like_html(head[:4096].decode("utf-8", "replace")):
        return "hf-page"
    return None
