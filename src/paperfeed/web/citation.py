"""What reference managers and search engines read from a paper page's head: Highwire Press /
Google Scholar `citation_*` meta tags (Zotero's connector reads them), schema.org
`ScholarlyArticle` JSON-LD and OpenGraph.

The values are plain text; the template escapes the meta tags' attributes. The JSON-LD goes into
a `<script>` element, where HTML escaping does not apply, so `json_ld` writes `<`, `>` and `&`
as JSON `\\u` escapes: no paper text can close the element (`</script>`) or open a comment."""

from __future__ import annotations

import re
from typing import Any

import orjson
from markupsafe import Markup, escape

from paperfeed import exports
from paperfeed.records import Paper, parse_arxiv_id
from paperfeed.web.common import held

DESCRIPTION_CHARS = 300


def _arxiv(paper: Paper) -> str | None:
    arxiv_id = paper.arxiv_id
    return arxiv_id if arxiv_id and parse_arxiv_id(arxiv_id) else None


def journal_title(journal_ref: str | None) -> str | None:
    """The journal's name from a journal reference (`Journal of Decoding 12 (2025) 1-20`): the
    text before the first volume number, year or parenthesis; None when nothing is left."""
    if not journal_ref:
        return None
    name = re.split(r"\s(?=[\d(])|,", " ".join(journal_ref.split()), maxsplit=1)[0].strip(" .;:")
    return name if len(name) >= 3 and not name[0].isdigit() else None


def _date(paper: Paper, sep: str) -> str | None:
    year, month, day = exports.date_parts(paper)
    if not year:
        return None
    return sep.join(f"{x:02d}" if i else f"{x:04d}" for i, x in enumerate((year, month, day)) if x)


def meta_html(paper: Paper, page_url: str) -> Markup:
    """The meta tags as HTML, each content escaped. Written here rather than by a template loop:
    a paper with many authors has hundreds of tags, and the loop was a third of the page's time."""
    tags = meta_tags(paper, page_url)
    return Markup("\n".join(f'<meta {a}="{n}" content="{escape(c)}">' for a, n, c in tags))


def meta_tags(paper: Paper, page_url: str) -> list[tuple[str, str, str]]:
    """(attribute, name, content) of each meta tag: `name=` for Highwire, `property=` for
    OpenGraph. One `citation_author` per author, in order."""
    tags: list[tuple[str, str, str]] = [("name", "citation_title", paper.title)]
    tags += [("name", "citation_author", a.name) for a in paper.authors if a.name.strip()]
    if published := _date(paper, "/"):
        tags.append(("name", "citation_publication_date", published))
    if arxiv_id := _arxiv(paper):
        tags.append(("name", "citation_arxiv_id", arxiv_id))
        tags.append(("name", "citation_pdf_url", f"https://arxiv.org/pdf/{arxiv_id}"))
        tags.append(("name", "citation_abstract_html_url", f"https://arxiv.org/abs/{arxiv_id}"))
    if paper.doi:
        tags.append(("name", "citation_doi", paper.doi))
    if journal := journal_title(paper.journal_ref):
        tags.append(("name", "citation_journal_title", journal))
    tags += [
        ("property", "og:type", "article"),
        ("property", "og:site_name", "paperfeed"),
        ("property", "og:title", paper.title),
        ("property", "og:url", page_url),
    ]
    if paper.abstract:
        tags.append(("property", "og:description", _shorten(paper.abstract)))
    if image := held(paper)["thumbnail"]:
        tags.append(("property", "og:image", image))
    if published := _date(paper, "-"):
        tags.append(("property", "article:published_time", published))
    tags += [("property", "article:author", a.name) for a in paper.authors if a.name.strip()]
    return tags


def _shorten(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= DESCRIPTION_CHARS else text[: DESCRIPTION_CHARS - 1].rstrip() + "…"


def scholarly_article(paper: Paper, page_url: str) -> dict[str, Any]:
    """The paper as a schema.org `ScholarlyArticle`."""
    item: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "ScholarlyArticle",
        "headline": paper.title,
        "name": paper.title,
        "url": page_url,
    }
    if paper.authors:
        item["author"] = [{"@type": "Person", "name": a.name} for a in paper.authors if a.name.strip()]
    if published := _date(paper, "-"):
        item["datePublished"] = published
    if paper.abstract:
        item["abstract"] = paper.abstract
    identifiers = []
    if arxiv_id := _arxiv(paper):
        item["sameAs"] = f"https://arxiv.org/abs/{arxiv_id}"
        identifiers.append({"@type": "PropertyValue", "propertyID": "arXiv", "value": arxiv_id})
    if paper.doi:
        identifiers.append({"@type": "PropertyValue", "propertyID": "DOI", "value": paper.doi})
    if identifiers:
        item["identifier"] = identifiers
    if journal := journal_title(paper.journal_ref):
        item["isPartOf"] = {"@type": "Periodical", "name": journal}
    if paper.categories:
        item["keywords"] = list(paper.categories)
    return item


def json_ld(paper: Paper, page_url: str) -> Markup:
    """The JSON-LD text for a `<script type="application/ld+json">` element, inert there."""
    text = orjson.dumps(scholarly_article(paper, page_url)).decode()
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))
