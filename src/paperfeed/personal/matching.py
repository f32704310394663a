"""Matching reference-manager entries to papers in the store: by arXiv id, then DOI, then
normalised title (`records.title_key`).

The arXiv id may sit in any of the places reference managers put it: `eprint` (the source reader
already takes it), an arxiv.org `url`, Zotero's `note = {arXiv:2106.09685 [cs]}` and
`number = {arXiv:2106.09685}`, or an arXiv DOI (`10.48550/arXiv.2106.09685`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from paperfeed.records import Paper, parse_arxiv_id, title_key
from paperfeed.store.base import Store

ID_FIELDS = ("eprint", "url", "note", "number", "doi")
_ARXIV_IN_TEXT = re.compile(
    r"(?:arxiv\s*:\s*|arxiv\.org/(?:abs|pdf)/|10\.48550/arxiv\.)"
    r"(\d{4}\.\d{4,5}(?:v\d+)?|[a-z][a-z\-]*(?:\.[a-z]{2})?/\d{7}(?:v\d+)?)",
    re.IGNORECASE,
)
_CHUNK = 500


def arxiv_id_in(text: str) -> str | None:
    """The arXiv id (without version) named in free text, or None."""
    found = _ARXIV_IN_TEXT.search(text or "")
    parsed = parse_arxiv_id(found.group(1)) if found else None
    return parsed[0] if parsed else None


def with_arxiv_id(paper: Paper) -> Paper:
    """The paper with its arXiv id as id when an id field names one the reader did not take."""
    if paper.arxiv_id:
        return paper
    texts = [str(paper.extra.get(name, "")) for name in ID_FIELDS] + [paper.doi or ""]
    for text in texts:
        found = arxiv_id_in(text)
        if found:
            return replace(paper, id=found)
    return paper


def match(store: Store, papers: Sequence[Paper]) -> list[tuple[str, str] | None]:
    """For each paper (ids already resolved by `with_arxiv_id`): (store id, how) with how one of
    `arxiv`, `doi`, `title`, or None when the store has no such paper."""
    out: list[tuple[str, str] | None] = [None] * len(papers)
    arxiv = [p.id for p in papers if p.arxiv_id]
    known = set(store.get_many(list(dict.fromkeys(arxiv)))) if arxiv else set()
    for i, p in enumerate(papers):
        if p.arxiv_id and p.id in known:
            out[i] = (p.id, "arxiv")
    dois = {p.doi.strip().lower() for i, p in enumerate(papers) if out[i] is None and p.doi}
    by_doi = _ids_by_doi(store, sorted(dois))
    for i, p in enumerate(papers):
        if out[i] is None and p.doi and p.doi.strip().lower() in by_doi:
            out[i] = (by_doi[p.doi.strip().lower()], "doi")
    for i, p in enumerate(papers):
        if out[i] is None:
            same = store.find_by_title_key(title_key(p.title))
            if same:
                out[i] = (sorted(same, key=lambda q: (q.id.startswith("t-"), q.id))[0].id, "title")
    return out


def _ids_by_doi(store: Store, dois: Sequence[str]) -> dict[str, str]:
    """Papers by lower-cased DOI (the `papers_doi_lower` index of the personal migration)."""
    out: dict[str, str] = {}
    for start in range(0, len(dois), _CHUNK):
        chunk = list(dois[start : start + _CHUNK])
        rows = store.db.query(
            f"SELECT lower(doi), id FROM papers WHERE lower(doi) IN ({','.join('?' * len(chunk))})", chunk
        )
        for doi, pid in rows:
            out.setdefault(doi, pid)
    return out
