"""Citation exports of papers: BibTeX, RIS, CSL-JSON and Markdown. Untrusted text is made inert
for each format (braces and backslashes out of BibTeX values, line breaks out of RIS lines)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import orjson
import rispy  # type: ignore[import-untyped]

from paperfeed.records import Paper

_KEY_RE = re.compile(r"[^A-Za-z0-9]+")


def _one_line(text: str | None) -> str:
    return " ".join((text or "").split())


def _bib_value(text: str | None) -> str:
    cleaned = _one_line(text).replace("\\", " ").replace("{", "(").replace("}", ")")
    return cleaned.replace("@", " at ")


def _key(paper: Paper) -> str:
    first = paper.authors[0].name.split()[-1] if paper.authors else "paper"
    year = paper.published.year if paper.published else ""
    return f"{_KEY_RE.sub('', first) or 'paper'}{year}_{_KEY_RE.sub('', paper.id)}"


def to_bibtex(papers: Sequence[Paper]) -> str:
    entries = []
    for p in papers:
        fields: list[tuple[str, str]] = [
            ("title", p.title),
            ("author", " and ".join(p.author_names)),
            ("year", str(p.published.year) if p.published else ""),
            ("abstract", p.abstract),
            ("doi", p.doi or ""),
        ]
        if p.arxiv_id:
            fields += [("eprint", p.arxiv_id), ("archiveprefix", "arXiv"),
                       ("url", f"https://arxiv.org/abs/{p.arxiv_id}")]
        body = ",\n".join(f"  {k} = {{{_bib_value(v)}}}" for k, v in fields if v)
        kind = "article" if p.journal_ref else "misc"
        entries.append(f"@{kind}{{{_key(p)},\n{body}\n}}\n")
    return "\n".join(entries)


def to_ris(papers: Sequence[Paper]) -> str:
    records: list[dict[str, Any]] = []
    for p in papers:
        rec: dict[str, Any] = {
            "type_of_reference": "JOUR" if p.journal_ref else "GEN",
            "title": _one_line(p.title),
            "authors": [_one_line(a) for a in p.author_names],
        }
        if p.abstract:
            rec["abstract"] = _one_line(p.abstract)
        if p.published:
            rec["year"] = str(p.published.year)
            rec["date"] = p.published.strftime("%Y/%m/%d")
        if p.doi:
            rec["doi"] = _one_line(p.doi)
        if p.arxiv_id:
            rec["urls"] = [f"https://arxiv.org/abs/{p.arxiv_id}"]
        records.append(rec)
    return rispy.dumps(records)


def csl_item(p: Paper) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": p.id,
        "type": "article-journal" if p.journal_ref else "article",
        "title": p.title,
        "author": [_csl_name(n) for n in p.author_names],
    }
    if p.abstract:
        item["abstract"] = p.abstract
    if p.published:
        item["issued"] = {"date-parts": [[p.published.year, p.published.month, p.published.day]]}
    if p.doi:
        item["DOI"] = p.doi
    if p.arxiv_id:
        item["URL"] = f"https://arxiv.org/abs/{p.arxiv_id}"
    return item


def _csl_name(name: str) -> dict[str, str]:
    parts = name.rsplit(" ", 1)
    return {"given": parts[0], "family": parts[1]} if len(parts) == 2 else {"literal": name}


def to_csl_json(papers: Sequence[Paper]) -> str:
    return orjson.dumps([csl_item(p) for p in papers], option=orjson.OPT_INDENT_2).decode()


def to_markdown(paper: Paper) -> str:
    authors = ", ".join(paper.author_names)
    return f"# {_one_line(paper.title)}\n\n{authors}\n\n{paper.abstract}\n"
