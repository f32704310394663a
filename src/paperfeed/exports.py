"""Papers out to reference managers and readers: BibTeX, RIS, CSL-JSON and markdown.

Every paper field is untrusted text, and each format gets it inert:
- BibTeX: every value on one line (so no `@` can start a line, where parsers begin an entry),
  LaTeX specials escaped, and braces written as `{\\textbraceleft}`/`{\\textbraceright}`, which
  balance under both readings of `\\{` (BibTeX counts the brace, bibtexparser does not).
- RIS: one line per tag, control characters and line separators removed (no new tag can start).
- CSL-JSON: plain JSON.
- Markdown: markdown and HTML specials backslash-escaped in text; links only where this module
  builds them (arXiv, DOI, and http(s) code/project URLs, percent-encoded).

arXiv papers are written the way arXiv's "Export BibTeX citation" and Zotero write them
(`@misc` with `eprint`, `archivePrefix`, `primaryClass`, `url`, `doi`; `@article` with `journal`
when a journal reference is known). Citation keys (`vaswani2017attention`) depend only on the paper;
collisions within one export get suffixes (`b`, `c`, ...) in input order.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from functools import lru_cache
from typing import Any
from urllib.parse import quote

import bibtexparser
import orjson
import rispy
from bibtexparser import model
from bibtexparser.middlewares.names import parse_single_name_into_parts

from paperfeed.arxiv_taxonomy import category_label
from paperfeed.records import Paper, parse_arxiv_id

__all__ = ["citation_keys", "date_parts", "to_bibtex", "to_csl_json", "to_markdown", "to_ris"]

_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July", "August",
                "September", "October", "November", "December")  # fmt: skip
_SUFFIXES = {"jr", "jr.", "sr", "sr.", "ii", "iii", "iv"}
_STOP_WORDS = set(
    "a an the on of in for to and with from by at as is are via towards toward into over under "
    "do does can what how why when we our your its".split()
)

# ---------------------------------------------------------------------------------------------
# Shared


def _one_line(text: str | None) -> str:
    """Text on one line: control and format characters dropped, every whitespace run (line and
    paragraph separators included) one space."""
    if not text:
        return ""
    if not text.isprintable():
        text = "".join(
            ch if ch.isprintable() or ch.isspace() else " "
            for ch in text
            if unicodedata.category(ch) not in ("Cf",)
        )
    return " ".join(text.split())


def _arxiv(paper: Paper) -> str | None:
    """The arXiv id when the paper's id is one (a checked one: ids go into URLs)."""
    arxiv_id = paper.arxiv_id
    return arxiv_id if arxiv_id and parse_arxiv_id(arxiv_id) else None


def _abs_url(arxiv_id: str) -> str:
    return f"https://arxiv.org/abs/{arxiv_id}"


def _pdf_url(arxiv_id: str) -> str:
    return f"https://arxiv.org/pdf/{arxiv_id}"


def _doi(paper: Paper) -> str | None:
    """The published version's DOI, else arXiv's own (every arXiv paper has one)."""
    doi = _one_line(paper.doi)
    if doi:
        return doi
    arxiv_id = _arxiv(paper)
    return f"10.48550/arXiv.{arxiv_id}" if arxiv_id else None


def _date_parts(paper: Paper) -> tuple[int | None, int | None, int | None]:
    """(year, month, day) as precise as the source knew them: a date imported from `year` +
    `month` has no day; a year without a date comes from `extra`."""
    precision = paper.extra.get("date_precision")
    if paper.published:
        d = paper.published
        if precision == "year":
            return d.year, None, None
        if precision == "month":
            return d.year, d.month, None
        return d.year, d.month, d.day
    year, month = paper.extra.get("year"), paper.extra.get("month")
    if not (isinstance(year, int) and not isinstance(year, bool) and 1000 <= year <= 9999):
        return None, None, None
    if not (isinstance(month, int) and not isinstance(month, bool) and 1 <= month <= 12):
        month = None
    return year, month, None


date_parts = _date_parts  # for other writers of citation data (the paper page's head)


@lru_cache(maxsize=65_536)  # pure, and authors recur: a paper page would split each name anew
def _name_parts(name: str) -> tuple[str, str, str]:
    """(given, family, suffix) of a display name (`First von Last Jr`), BibTeX's rules; a name
    that cannot be split so (a corporate one: `and`, a comma, braces) is all family."""
    name = _one_line(name)
    if re.search(r"[,{}]|\band\b", name, re.IGNORECASE):
        return "", name, ""
    words = name.split()
    suffix = ""
    if len(words) > 2 and words[-1].lower() in _SUFFIXES:
        suffix, name = words[-1], " ".join(words[:-1])
    parts = parse_single_name_into_parts(name)
    return " ".join(parts.first), " ".join(parts.von + parts.last), suffix


def _ascii_word(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text)
    return re.sub(r"[^a-z0-9]", "", folded.encode("ascii", "ignore").decode().lower())


def _base_key(paper: Paper) -> str:
    family = ""
    if paper.authors:
        _, family, _ = _name_parts(paper.authors[0].name)
        family = _ascii_word(family.split()[-1]) if family.split() else ""
    year, _, _ = _date_parts(paper)
    words = [_ascii_word(w) for w in _one_line(paper.title).split()]
    word = next((w for w in words if w and w not in _STOP_WORDS), next((w for w in words if w), ""))
    return f"{family}{year or ''}{word}" or "paper"


def citation_keys(papers: Sequence[Paper]) -> list[str]:
    """One key per paper (`vaswani2017attention`), unique within the list: the second paper with
    a key gets `b`, the third `c`, ... (then numbers)."""
    used: set[str] = set()
    keys = []
    for paper in papers:
        base = _base_key(paper)
        key, n = base, 1
        while key in used:
            n += 1
            key = base + (chr(ord("a") + n - 1) if n <= 26 else f"-{n}")
        used.add(key)
        keys.append(key)
    return keys


# ---------------------------------------------------------------------------------------------
# BibTeX

_BIBTEX_ESCAPES = {
    "\\": r"{\textbackslash}",
    "{": r"{\textbraceleft}",
    "}": r"{\textbraceright}",
    "#": r"\#",
    "$": r"\$",
    "%": r"\%",
    "&": r"\&",
    "_": r"\_",
    "~": r"{\textasciitilde}",
    "^": r"{\textasciicircum}",
    "<": r"{\textless}",
    ">": r"{\textgreater}",
}
_BIBTEX_SPECIAL_RE = re.compile(r"[\\{}#$%&_~^<>]")
# TeX makes ligatures of `--` and of two quotes: broken with `{}` to keep the characters.
_TEX_LIGATURES = re.compile(r"(?<=-)(?=-)|(?<=`)(?=`)|(?<=')(?=')")


def _bib(text: str | None) -> str:
    """A BibTeX value's text: one line, LaTeX specials escaped, TeX ligatures broken."""
    text = _BIBTEX_SPECIAL_RE.sub(lambda m: _BIBTEX_ESCAPES[m.group()], _one_line(text))
    return _TEX_LIGATURES.sub("{}", text) if ("--" in text or "``" in text or "''" in text) else text


def _bib_title(text: str) -> str:
    """Words with capitals after their first letter (`BERT`, `GPT-4`, `LaTeX`) are braced, so
    that bibliography styles that lowercase titles keep them."""
    out = []
    for word in _one_line(text).split(" "):
        escaped = _bib(word)
        out.append(f"{{{escaped}}}" if any(ch.isupper() for ch in word[1:]) else escaped)
    return " ".join(out)


def _bib_name(name: str) -> str:
    """One author for BibTeX's `and` list. A name that would split or reorder (`and`, a comma,
    `others`) is braced whole, as BibTeX writes corporate authors."""
    given, family, suffix = _name_parts(name)
    if suffix and given:
        return f"{_bib(family)}, {_bib(suffix)}, {_bib(given)}"
    text = _bib(name)
    if re.search(r"\band\b|,", text, re.IGNORECASE) or text.lower() == "others":
        return f"{{{text}}}"
    return text


def _bibtex_fields(paper: Paper) -> list[tuple[str, str]]:
    arxiv_id = _arxiv(paper)
    fields: list[tuple[str, str]] = [("title", f"{{{_bib_title(paper.title)}}}")]
    names = [n for n in (_bib_name(a.name) for a in paper.authors) if n]
    if names:
        fields.append(("author", "{" + " and ".join(names) + "}"))
    if paper.journal_ref:
        fields.append(("journal", f"{{{_bib(paper.journal_ref)}}}"))
    year, month, day = _date_parts(paper)
    if year:
        fields.append(("year", f"{{{year}}}"))
    if month:
        fields.append(("month", _MONTHS[month - 1]))
    if year and month and day:
        fields.append(("date", f"{{{year:04d}-{month:02d}-{day:02d}}}"))
    if arxiv_id:
        fields += [("eprint", f"{{{arxiv_id}}}"), ("archivePrefix", "{arXiv}")]
        if paper.categories:
            fields.append(("primaryClass", f"{{{_bib(paper.categories[0])}}}"))
        fields.append(("url", f"{{{_abs_url(arxiv_id)}}}"))
    if doi := _doi(paper):
        fields.append(("doi", f"{{{_bib(doi)}}}"))
    if paper.abstract:
        fields.append(("abstract", f"{{{_bib(paper.abstract)}}}"))
    labels = [label for c in paper.categories if (label := category_label(c))]
    if labels:
        fields.append(("keywords", f"{{{_bib(', '.join(labels))}}}"))
    return fields


def to_bibtex(papers: Sequence[Paper]) -> str:
    """BibTeX entries for the papers (UTF-8 text; an empty string for no papers)."""
    library = bibtexparser.Library()
    for paper, key in zip(papers, citation_keys(papers), strict=True):
        entry_type = "article" if paper.journal_ref else "misc"
        fields = [model.Field(k, v) for k, v in _bibtex_fields(paper)]
        library.add(model.Entry(entry_type, key, fields))
    if not papers:
        return ""
    style = bibtexparser.BibtexFormat()
    style.indent = "  "
    style.trailing_comma = True
    style.block_separator = "\n"
    return bibtexparser.write_string(library, unparse_stack=[], bibtex_format=style)


# ---------------------------------------------------------------------------------------------
# RIS


class _RisWriter(rispy.RisWriter):
    """rispy's writer without its `1.` line before each record (not part of RIS)."""

    def set_header(self, count: int) -> str:
        return ""


def _ris_name(name: str) -> str:
    given, family, suffix = _name_parts(name)
    if not family:
        return _one_line(name)
    return ", ".join(p for p in (family, given, suffix) if p)


def _ris_record(paper: Paper) -> dict[str, Any]:
    arxiv_id = _arxiv(paper)
    record: dict[str, Any] = {"type_of_reference": "JOUR" if paper.journal_ref else "GEN"}
    record["title"] = _one_line(paper.title)
    if authors := [n for n in (_ris_name(a.name) for a in paper.authors) if n]:
        record["authors"] = authors
    if paper.abstract:
        record["abstract"] = _one_line(paper.abstract)
    year, month, day = _date_parts(paper)
    if year:
        record["year"] = str(year)
        record["date"] = f"{year:04d}/" + (f"{month:02d}" if month else "") + "/" + (
            f"{day:02d}" if day else ""
        ) + "/"
    if paper.journal_ref:
        record["secondary_title"] = _one_line(paper.journal_ref)
    if doi := _doi(paper):
        record["doi"] = doi
    if arxiv_id:
        record["urls"] = [_abs_url(arxiv_id)]
        record["publisher"] = "arXiv"
        record["type_of_work"] = f"arXiv:{arxiv_id}"
    if labels := [label for c in paper.categories if (label := category_label(c))]:
        record["keywords"] = labels
    return record


def to_ris(papers: Sequence[Paper]) -> str:
    """RIS records for the papers (`TY` ... `ER`, one tag a line)."""
    if not papers:
        return ""
    return rispy.dumps([_ris_record(p) for p in papers], implementation=_RisWriter)


# ---------------------------------------------------------------------------------------------
# CSL-JSON


def _csl_name(name: str) -> dict[str, str]:
    given, family, suffix = _name_parts(name)
    if not given or not family:
        return {"literal": _one_line(name)}
    person = {"family": family, "given": given}
    if suffix:
        person["suffix"] = suffix
    return person


def _csl_item(paper: Paper, key: str) -> dict[str, Any]:
    arxiv_id = _arxiv(paper)
    item: dict[str, Any] = {
        "id": key,
        "type": "article-journal" if paper.journal_ref else "article",
        "title": _one_line(paper.title),
    }
    if paper.authors:
        item["author"] = [_csl_name(a.name) for a in paper.authors if _one_line(a.name)]
    year, month, day = _date_parts(paper)
    if year:
        item["issued"] = {"date-parts": [[p for p in (year, month, day) if p]]}
    if paper.abstract:
        item["abstract"] = _one_line(paper.abstract)
    if paper.journal_ref:
        item["container-title"] = _one_line(paper.journal_ref)
    if doi := _doi(paper):
        item["DOI"] = doi
    if arxiv_id:
        item["URL"] = _abs_url(arxiv_id)
        item["number"] = f"arXiv:{arxiv_id}"
        item["publisher"] = "arXiv"
    if labels := [label for c in paper.categories if (label := category_label(c))]:
        item["keyword"] = ", ".join(labels)
    return item


def to_csl_json(papers: Sequence[Paper]) -> str:
    """A CSL-JSON array (JSON text) of the papers, as citeproc processors read it."""
    items = [_csl_item(p, k) for p, k in zip(papers, citation_keys(papers), strict=True)]
    return orjson.dumps(items, option=orjson.OPT_INDENT_2).decode()


# ---------------------------------------------------------------------------------------------
# Markdown

_MD_SPECIALS = re.compile(r"([\\`*_\[\]{}<>&|~!])")
_MD_BLOCK_START = re.compile(r"^([#>+=-])")
_MD_LIST_NUMBER = re.compile(r"^(\d+)([.)])")


def _md(text: str | None, *, block: bool = False) -> str:
    """Untrusted text for markdown: one line, markdown and HTML specials backslash-escaped
    (CommonMark renders `\\<` as `<`: no tag, no entity, no link can form). Text that starts a
    line (`block`) also gets a leading heading, quote or list marker escaped."""
    escaped = _MD_SPECIALS.sub(r"\\\1", _one_line(text))
    if block:
        escaped = _MD_LIST_NUMBER.sub(r"\1\\\2", _MD_BLOCK_START.sub(r"\\\1", escaped))
    return escaped


def _md_url(url: str | None) -> str | None:
    """An http(s) URL, percent-encoded so that it cannot end a markdown link early; anything
    else (javascript:, data:, relative) is no link."""
    url = _one_line(url)
    if not re.match(r"^https?://[^\s/]", url, re.IGNORECASE):
        return None
    return quote(url, safe=":/?#@!$&'*+,;=%-._~")


def _md_link(text: str, url: str | None) -> str | None:
    return f"[{_md(text)}]({url})" if url else None


def _md_date(paper: Paper) -> str:
    year, month, day = _date_parts(paper)
    if year and month and day:
        return f"{year:04d}-{month:02d}-{day:02d}"
    if year and month:
        return f"{_MONTH_NAMES[month - 1]} {year}"
    return str(year) if year else "unknown"


def to_markdown(paper: Paper) -> str:
    """A paper as markdown for readers and agents (what `huggingface_hub`'s `read_paper` and
    `hf papers read` print): a title heading, authors, published date, arXiv and DOI links,
    the abstract, then the links."""
    arxiv_id = _arxiv(paper)
    lines = [f"# {_md(paper.title)}", ""]
    authors = ", ".join(_md(a.name) for a in paper.authors if _one_line(a.name))
    if not authors and paper.author_count:
        authors = f"{paper.author_count} authors"
    lines.append(f"- **Authors:** {authors or 'unknown'}")
    lines.append(f"- **Published:** {_md_date(paper)}")
    if arxiv_id:
        lines.append(f"- **arXiv:** {_md_link(arxiv_id, _abs_url(arxiv_id))}")
    doi = _doi(paper)
    if doi:
        lines.append(f"- **DOI:** {_md_link(doi, 'https://doi.org/' + quote(doi, safe='/:;.-_'))}")
    if paper.journal_ref:
        lines.append(f"- **Journal:** {_md(paper.journal_ref)}")
    if paper.categories:
        lines.append(f"- **Categories:** {', '.join(_md(c) for c in paper.categories)}")
    lines += ["", "## Abstract", "", _md(paper.abstract, block=True) or "No abstract.", ""]
    links = [
        _md_link("arXiv", _abs_url(arxiv_id)) if arxiv_id else None,
        _md_link("PDF", _pdf_url(arxiv_id)) if arxiv_id else None,
        _md_link("Code", _md_url(paper.github_repo)),
        _md_link("Project page", _md_url(paper.project_page)),
    ]
    if links := [link for link in links if link]:
        lines += ["## Links", "", *(f"- {link}" for link in links), ""]
    return "\n".join(lines)
