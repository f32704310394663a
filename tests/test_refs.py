"""Reference managers in and out: BibTeX, RIS and CSL-JSON imports in the shapes real tools write,
and exports read back by the real libraries (bibtexparser, rispy, citeproc-py, markdown-it) and
by paperfeed's own importers."""

from __future__ import annotations

import io
import json
import time
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import bibtexparser
import pytest
import rispy
from citeproc import Citation, CitationItem, CitationStylesBibliography, CitationStylesStyle, formatter
from citeproc.source.json import CiteProcJSON
from markdown_it import MarkdownIt
from typer.testing import CliRunner

from paperfeed.cli import app
from paperfeed.exports import citation_keys, to_bibtex, to_csl_json, to_markdown, to_ris
from paperfeed.library import Library
from paperfeed.records import Author, Paper, title_id
from paperfeed.sources import FORMATS, detect_format
from paperfeed.sources.base import Rejected, SourceError
from paperfeed.sources.bibtex import read_bibtex
from paperfeed.sources.csl_json import read_csl_json
from paperfeed.sources.ris import read_ris

REFS = Path(__file__).parent / "fixtures" / "refs"
runner = CliRunner()


def read(reader: Any, data: bytes | str) -> list[Any]:
    if isinstance(data, str):
        data = data.encode()
    return list(reader(io.BytesIO(data), "input"))


def papers(items: list[Any]) -> list[Paper]:
    return [i for i in items if isinstance(i, Paper)]


def rejected(items: list[Any]) -> dict[str, str]:
    return {i.where: i.reason for i in items if isinstance(i, Rejected)}


def fixture(name: str) -> list[Paper]:
    items = read(FORMATS[detect_format((REFS / name).read_bytes(), "upload.dat")], (REFS / name).read_bytes())
    assert not rejected(items)
    return papers(items)


# =============================================================================================
# Real-world samples


def test_zotero_bibtex() -> None:
    preprint, article, conference = fixture("zotero.bib")

    # Zotero's preprint: the id from `note`/`number`/`url`, the month and year as the date,
    # its arXiv-category tags as categories; arXiv's own DOI is not a journal DOI.
    assert preprint.id == "1706.03762"
    assert preprint.title == "Attention Is All You Need"
    assert preprint.author_names[:2] == ["Ashish Vaswani", "Noam Shazeer"]
    assert len(preprint.authors) == 8
    assert preprint.published == date(2023, 8, 1) and preprint.extra["date_precision"] == "month"
    assert preprint.categories == ["cs.CL", "cs.LG"]
    assert preprint.doi is None and preprint.journal_ref is None
    assert "28.4 BLEU" in preprint.abstract

    # A journal article found on arXiv: the journal DOI and venue kept.
    assert article.id == "0704.0001"
    assert article.doi == "10.1103/PhysRevD.76.013009"
    assert article.journal_ref == "Physical Review D"
    assert article.author_names[0] == "C. Balázs"
    assert article.categories == ["hep-ph", "hep-ex"]

    # No arXiv id: a title-only record; Zotero's LaTeX escapes decoded; plain tags kept.
    assert conference.id.startswith("t-")
    assert conference.title == "Paths like C:\\Users and 100% of <tags> & ~tildes"
    assert conference.author_names == ["Jane Doe", "Jörg Müller"]
    assert conference.published == date(2021, 11, 1)
    assert conference.journal_ref.startswith("Proceedings of the 2021 Conference on Empirical")
    assert conference.extra["tags"] == ["retrieval", "to read"]


def test_better_bibtex_biblatex_and_bibtex() -> None:
    bert, resnet = fixture("betterbibtex.bib")

    # biblatex: eprint + eprinttype, a full `date`, double-braced title words.
    assert bert.id == "1810.04805"
    assert bert.title == "BERT: Pre-training of Deep Bidirectional Transformers for Language Understanding"
    assert bert.published == date(2019, 5, 24)
    assert bert.abstract.startswith("We introduce a new language representation model called BERT")
    # A category name with commas inside a comma-separated keyword list.
    assert bert.categories == ["cs.CL", "cs.DC"]
    assert bert.extra["tags"] == ["pretraining"]

    # BibTeX: `primaryclass = {cs}` is an archive, not a category; the keyword gives it.
    assert resnet.id == "1512.03385"
    assert resnet.categories == ["cs.CV"]
    assert resnet.published == date(2015, 12, 1)


def test_mendeley_bibtex() -> None:
    attention, adam = fixture("mendeley.bib")
    assert attention.id == "1706.03762"
    assert attention.title == "Attention is all you need"
    assert attention.journal_ref == "Advances in Neural Information Processing Systems"
    assert attention.published is None and attention.extra["year"] == 2017  # a year is no date
    # Mendeley's own `arxivId`; `month = {5}` as a number.
    assert adam.id == "1412.6980"
    assert adam.published == date(2015, 5, 1)
    assert adam.author_names == ["Diederik P. Kingma", "Jimmy Lei Ba"]


def test_arxiv_and_google_scholar_bibtex() -> None:
    arxiv, scholar = fixture("arxiv.bib")
    assert arxiv.id == "1706.03762"
    assert arxiv.categories == ["cs.CL"]
    assert arxiv.author_names[5] == "Aidan N. Gomez"
    # Google Scholar: the id only in `journal = {arXiv preprint arXiv:...}`, which is no venue.
    assert scholar.id == "1706.03762"
    assert scholar.journal_ref is None
    assert scholar.author_names[6] == "Łukasz Kaiser"


def test_zotero_ris() -> None:
    preprint, article, workshop = fixture("zotero.ris")
    assert preprint.id == "1706.03762"
    assert preprint.published == date(2023, 8, 2)
    assert preprint.author_names == ["Ashish Vaswani", "Noam Shazeer", "Aidan N. Gomez"]
    assert preprint.categories == ["cs.CL", "cs.LG"]
    assert article.id == "0704.0001"
    assert article.doi == "10.1103/PhysRevD.76.013009"
    assert article.journal_ref == "Physical Review D"
    assert workshop.id.startswith("t-")
    assert workshop.author_names == ["Jane Doe", "Richard Roe Jr."]  # RIS: Last, First, Suffix
    assert workshop.published is None and workshop.extra["year"] == 2021


def test_zotero_csl_json() -> None:
    preprint, article, workshop = fixture("zotero.json")
    assert preprint.id == "1706.03762"
    assert preprint.published == date(2023, 8, 2)  # Zotero writes the year as a string
    assert article.id == "0704.0001"
    assert article.published == date(2007, 7, 1) and article.extra["date_precision"] == "month"
    assert article.journal_ref == "Physical Review D"
    assert article.doi == "10.1103/PhysRevD.76.013009"
    assert workshop.author_names == ["Jane Doe", "The Things Consortium"]


@pytest.mark.parametrize(
    ("name", "expected"),
    [("zotero.bib", "bibtex"), ("mendeley.bib", "bibtex"), ("zotero.ris", "ris"), ("zotero.json", "csl-json")],
)
def test_formats_detected_by_content(name: str, expected: str) -> None:
    assert detect_format((REFS / name).read_bytes()[:65536], "upload.dat") == expected


def test_detection_keeps_hf_json_apart_from_csl_json() -> None:
    hf = b'[{"paper": {"id": "2501.00001", "title": "T"}, "title": "T", "submittedBy": {"type": "user"}}]'
    assert detect_format(hf, "x.json") == "hf-daily"
    assert detect_format(b'[{"id": "k", "type": "article", "title": "T", "URL": "u"}]', "x") == "csl-json"
    assert detect_format(b"\xef\xbb\xbf\r\nTY  - JOUR\r\nTI  - T\r\nER  - \r\n", "x") == "ris"
    assert detect_format(b"TI  - not a record start\n", "refs.ris") == "ris"  # extension fallback


def test_cli_imports_each_format_by_detection(tmp_path: Path) -> None:
    home = tmp_path / "home"
    for name in ("zotero.bib", "zotero.json", "zotero.ris"):
        result = runner.invoke(app, ["--home", str(home), "import", "--no-index", str(REFS / name)])
        assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["--home", str(home), "import", "--no-index", "--format", "ris",
                                 str(REFS / "zotero.ris")])
    assert result.exit_code == 0 and "unchanged 3" in result.output


# =============================================================================================
# Exports: read back by the real libraries and by our importers


NO_AUTHORS = "A Paper With No Authors and No Date"
SPECIALS = "Paths like C:\\Users, {braces}, ~tilde, ^caret, #hash, $5, and_under"


def sample_papers() -> list[Paper]:
    return [
        Paper(
            id="1706.03762",
            title="Attention Is All You Need",
            abstract="The dominant $O(n^2)$ models use 100% attention & more_things.",
            authors=[Author("Ashish Vaswani"), Author("Noam Shazeer"), Author("Ludwig van Beethoven")],
            categories=["cs.CL", "cs.LG"],
            published=date(2017, 6, 12),
        ),
        Paper(
            id="0704.0001",
            title="Calculation of Prompt Diphoton Production at the LHC",
            authors=[Author("C. Balázs"), Author("John Doe Jr")],
            categories=["hep-ph"],
            published=date(2007, 4, 1),
            doi="10.1103/PhysRevD.76.013009",
            journal_ref="Phys. Rev. D 76, 013009 (2007)",
            extra={"date_precision": "month"},
        ),
        Paper(id=title_id(NO_AUTHORS), title=NO_AUTHORS),
        Paper(
            id=title_id(SPECIALS),
            title=SPECIALS,
            authors=[Author("Barnes and Noble Research"), Author("Jörg Müller")],
            extra={"year": 2021},
        ),
    ]


HOSTILE_TITLE = "Evil } @misc{x, title={pwn}} TY  - JOUR <script>alert(1)</script> [a](javascript:alert(1))"
HOSTILE_ABSTRACT = "one\nER  - \nTY  - GEN\n@misc{y,\n# Heading\n<img src=x onerror=alert(1)>\r\nend"


def hostile_paper() -> Paper:
    return Paper(
        id=title_id(HOSTILE_TITLE),
        title=HOSTILE_TITLE,
        abstract=HOSTILE_ABSTRACT,
        authors=[Author("Robert'); DROP TABLE papers;-- and }"), Author("<b>Bold</b>")],
        github_repo="javascript:alert(1)",
        project_page="https://example.org/a (b) [c] <d>",
    )


def same_paper(original: Paper, back: Paper) -> None:
    assert back.id == original.id if original.arxiv_id else back.arxiv_id is None
    assert back.title == " ".join(original.title.split())
    assert back.abstract == " ".join(original.abstract.split())
    assert back.author_names == [" ".join(n.split()) for n in original.author_names]
    assert back.doi == original.doi
    assert back.journal_ref == original.journal_ref
    assert back.categories == original.categories
    assert back.published == original.published
    if original.published:
        assert back.extra["date_precision"] == original.extra.get("date_precision", "day")
    else:
        assert back.extra.get("year") == original.extra.get("year")


def test_bibtex_export_is_read_by_bibtexparser_and_reimported() -> None:
    originals = [*sample_papers(), hostile_paper()]
    text = to_bibtex(originals)
    library = bibtexparser.parse_string(text)
    assert library.failed_blocks == []
    assert [e.key for e in library.entries] == citation_keys(originals)
    first, journal = library.entries[0], library.entries[1]
    assert first.entry_type == "misc"
    arxiv_fields = ("eprint", "archivePrefix", "primaryClass", "url", "doi")
    assert {k: first.fields_dict[k].value for k in arxiv_fields} == {
        "eprint": "1706.03762",
        "archivePrefix": "arXiv",
        "primaryClass": "cs.CL",
        "url": "https://arxiv.org/abs/1706.03762",
        "doi": "10.48550/arXiv.1706.03762",
    }
    assert first.fields_dict["author"].value == "Ashish Vaswani and Noam Shazeer and Ludwig van Beethoven"
    assert first.fields_dict["month"].value == "jun" and first.fields_dict["year"].value == "2017"
    assert journal.entry_type == "article"
    assert journal.fields_dict["journal"].value == "Phys. Rev. D 76, 013009 (2007)"
    assert journal.fields_dict["doi"].value == "10.1103/PhysRevD.76.013009"
    assert "date" not in journal.fields_dict  # month precision: no invented day
    # No authors, no date: still an entry, with a title only.
    assert set(library.entries[2].fields_dict) == {"title"}

    back = papers(read(read_bibtex, text))
    assert len(back) == len(originals)
    for original, again in zip(originals, back, strict=True):
        same_paper(original, again)


def test_ris_export_is_read_by_rispy_and_reimported() -> None:
    originals = [*sample_papers(), hostile_paper()]
    text = to_ris(originals)
    records = rispy.loads(text)
    assert len(records) == len(originals)
    assert [r["type_of_reference"] for r in records] == ["GEN", "JOUR", "GEN", "GEN", "GEN"]
    assert records[0]["authors"] == ["Vaswani, Ashish", "Shazeer, Noam", "van Beethoven, Ludwig"]
    assert records[0]["urls"] == ["https://arxiv.org/abs/1706.03762"]
    assert records[1]["doi"] == "10.1103/PhysRevD.76.013009"
    assert records[4]["title"] == " ".join(HOSTILE_TITLE.split())

    back = papers(read(read_ris, text))
    assert len(back) == len(originals)
    for original, again in zip(originals, back, strict=True):
        same_paper(original, again)


def test_csl_json_export_is_formatted_by_citeproc_and_reimported() -> None:
    originals = [*sample_papers(), hostile_paper()]
    text = to_csl_json(originals)
    items = json.loads(text)
    assert [i["id"] for i in items] == citation_keys(originals)
    assert items[0]["author"][0] == {"family": "Vaswani", "given": "Ashish"}
    assert items[0]["issued"] == {"date-parts": [[2017, 6, 12]]}
    assert items[1]["issued"] == {"date-parts": [[2007, 4]]}
    assert "issued" not in items[2] and "author" not in items[2]

    source = CiteProcJSON(items)
    style = CitationStylesStyle("harvard-cite-them-right", validate=False)  # bundled
    bibliography = CitationStylesBibliography(style, source, formatter.plain)
    for item in items:
        bibliography.register(Citation([CitationItem(item["id"])]))
    rendered = [str(entry) for entry in bibliography.bibliography()]
    assert len(rendered) == len(items)
    vaswani = next(r for r in rendered if "Attention Is All You Need" in r)
    assert "Vaswani" in vaswani and "2017" in vaswani

    back = papers(read(read_csl_json, text))
    assert len(back) == len(originals)
    for original, again in zip(originals, back, strict=True):
        same_paper(original, again)


def test_markdown_export_renders_with_only_the_links_it_builds() -> None:
    text = to_markdown(sample_papers()[0])
    assert text.startswith("# Attention Is All You Need\n")
    assert "Ashish Vaswani, Noam Shazeer, Ludwig van Beethoven" in text
    assert "2017-06-12" in text
    html = MarkdownIt("commonmark").render(text)
    assert 'href="https://arxiv.org/abs/1706.03762"' in html
    assert 'href="https://arxiv.org/pdf/1706.03762"' in html
    assert 'href="https://doi.org/10.48550/arXiv.1706.03762"' in html
    assert "<h2>Abstract</h2>" in html
    assert "100% attention &amp; more_things" in html

    undated = to_markdown(sample_papers()[2])
    assert "unknown" in undated and "arxiv.org" not in undated


@pytest.mark.parametrize("preset", ["commonmark", "gfm-like"])
def test_markdown_export_keeps_hostile_text_inert(preset: str) -> None:
    text = to_markdown(hostile_paper())
    html = MarkdownIt(preset).render(text)  # gfm-like: tables, strikethrough, bare URLs linked
    assert "<script" not in html and "<img" not in html and "<b>" not in html
    hrefs = [part.split('"')[1] for part in html.split("href=")[1:]]
    assert hrefs == ["https://example.org/a%20%28b%29%20%5Bc%5D%20%3Cd%3E"]
    # The title is one heading with the hostile text shown literally.
    # One heading for the title; "# Heading" in the abstract is text (Abstract and Links are h2).
    assert html.count("<h1>") == 1 and html.count("<h2>") == 2
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "[a](javascript:alert(1))" in html


def test_hostile_text_cannot_break_out_of_bibtex_or_ris() -> None:
    hostile = hostile_paper()
    bib = to_bibtex([hostile, sample_papers()[0]])
    library = bibtexparser.parse_string(bib)
    assert library.failed_blocks == [] and len(library.entries) == 2
    assert [e.key for e in library.entries] == citation_keys([hostile, sample_papers()[0]])
    # No value line starts an entry; braces in the values balance (BibTeX counts every brace).
    for line in bib.splitlines():
        assert not line.lstrip().startswith("@") or line.startswith(("@misc{", "@article{"))
    depth = 0
    for ch in bib:
        depth += {"{": 1, "}": -1}.get(ch, 0)
        assert depth >= 0
    assert depth == 0

    ris = to_ris([hostile, sample_papers()[0]])
    records = rispy.loads(ris)
    assert len(records) == 2 and records[0]["type_of_reference"] == "GEN"
    assert sum(line.startswith("TY  - ") for line in ris.splitlines()) == 2
    assert sum(line.startswith("ER  - ") for line in ris.splitlines()) == 2
    assert "\r" not in ris

    csl = json.loads(to_csl_json([hostile]))
    assert csl[0]["title"] == " ".join(HOSTILE_TITLE.split())


def test_citation_keys_are_stable_and_unique() -> None:
    a = sample_papers()[0]
    same = replace(a, id="2001.00001")
    keys = citation_keys([a, same, a])
    assert keys == ["vaswani2017attention", "vaswani2017attentionb", "vaswani2017attentionc"]
    assert citation_keys([a]) == ["vaswani2017attention"]
    assert citation_keys([sample_papers()[2]]) == ["paper"]
    assert citation_keys([Paper(id="t-1", title="Über Größe"), Paper(id="t-2", title="!!!")]) == [
        "uber",
        "paper",
    ]


def test_exports_of_nothing_are_valid() -> None:
    assert to_bibtex([]) == "" and to_ris([]) == "" and json.loads(to_csl_json([])) == []


# =============================================================================================
# Bad input


BROKEN_BIBTEX = """@misc{good1, title = {Good One}, eprint = {2401.00001}, archivePrefix = {arXiv}}

@article{broken,
  title = {Never closed,

@misc{notitle, author = {Doe, Jane}, year = {2020}}
@misc{good2, title = {Good Two}, year = {2020}, month = {13}}
"""

BROKEN_RIS = """TY  - JOUR
TI  - Good One
UR  - https://arxiv.org/abs/2401.00001
ER  -

TY  - JOUR
TI  - Never closed
AU  - Doe, Jane

TY  - JOUR
AU  - Doe, Jane
ER  -

TY  - JOUR
TI  - Bad Date
DA  - 2020/02/30/
ER  -

TY  - GEN
TI  - Good Two
ER  -
"""

BROKEN_CSL = json.dumps(
    [
        {"id": "a", "type": "article", "title": "Good One", "URL": "https://arxiv.org/abs/2401.00001"},
        "not an item",
        {"id": "c", "type": "article", "author": [{"family": "Doe"}]},
        {"id": "d", "type": "article", "title": "Bad Date", "issued": {"date-parts": [["20x0"]]}},
        {"id": "e", "type": "article", "title": "Bad Author", "author": "Jane Doe"},
        {"id": "f", "type": "article", "title": "Good Two"},
    ]
)


def test_bibtex_broken_entry_reported_by_line_rest_imported() -> None:
    items = read(read_bibtex, BROKEN_BIBTEX)
    assert [p.title for p in papers(items)] == ["Good One", "Good Two"]
    assert papers(items)[1].published is None  # month 13 is no month: the year stays
    reasons = rejected(items)
    assert reasons["line 3"].startswith("BibTeX syntax error")
    assert reasons["line 6"] == "record has no title"
    assert len(reasons) == 2


def test_ris_broken_record_reported_by_line_rest_imported() -> None:
    items = read(read_ris, BROKEN_RIS)
    assert [p.title for p in papers(items)] == ["Good One", "Good Two"]
    assert rejected(items) == {
        "line 6": "RIS record not closed by ER before the next TY",
        "line 10": "record has no title",
        "line 14": "date is not a date: 2020-2-30",
    }


def test_csl_json_broken_item_reported_by_index_rest_imported() -> None:
    items = read(read_csl_json, BROKEN_CSL)
    assert [p.title for p in papers(items)] == ["Good One", "Good Two"]
    reasons = rejected(items)
    assert set(reasons) == {"item 1", "item 2", "item 3", "item 4"}
    assert reasons["item 2"] == "record has no title"
    assert reasons["item 3"].startswith("issued date part is not a number")


@pytest.mark.parametrize(("reader", "data"), [(read_ris, "TY  - JOUR\nTI  - Cut off"),
                                              (read_ris, b"TY  - JOUR\nTI  - Caf\xe9\nER  - \n")])
def test_ris_truncated_or_undecodable_record_is_rejected(reader: Any, data: Any) -> None:
    items = read(reader, data)
    assert list(rejected(items)) == ["line 1"] and not papers(items)


@pytest.mark.parametrize("name", ["empty.bib", "empty.ris", "empty.json"])
def test_an_empty_file_is_a_clear_error_not_zero_imported(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"")
    result = runner.invoke(app, ["--home", str(tmp_path / "home"), "import", "--no-index", str(path)])
    assert result.exit_code == 2
    assert "empty file" in " ".join(result.output.split())  # the console wraps long paths


@pytest.mark.parametrize(
    ("reader", "data", "message"),
    [
        (read_ris, "\n\n  \n", "empty file"),
        (read_ris, "just prose\n", "no RIS records found (line 1 is not RIS)"),
        (read_csl_json, "[]", "no CSL-JSON items"),
        (read_csl_json, '{"a": 1}', "not CSL-JSON"),
        (read_csl_json, "[{", "not JSON"),
    ],
)
def test_unusable_inputs(reader: Any, data: str, message: str) -> None:
    with pytest.raises(SourceError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read(reader, data)


ZOTERO_ABSTRACT = "We study a model with 100\\% recall and a {\\textbackslash}method. " * 12
ZOTERO_AUTHORS = 'Doe, Jane and M{\\"u}ller, J{\\"o}rg and Roe, Richard'


def zotero_bibtex_entry(i: int) -> str:
    """One entry as Zotero writes an arXiv preprint (tabs, `month = aug`, `note`, tags)."""
    return (
        f"@misc{{author{i}_title_2023,\n"
        f"\ttitle = {{Generated Paper Number {i} on {{Transformers}}}},\n"
        f"\turl = {{http://arxiv.org/abs/2301.{i:05d}}},\n"
        f"\tdoi = {{10.48550/arXiv.2301.{i:05d}}},\n"
        f"\tabstract = {{{ZOTERO_ABSTRACT}}},\n"
        f"\tpublisher = {{arXiv}},\n"
        f"\tauthor = {{{ZOTERO_AUTHORS}}},\n"
        f"\tmonth = aug,\n\tyear = {{2023}},\n"
        f"\tnote = {{arXiv:2301.{i:05d} [cs]}},\n"
        f"\tkeywords = {{Computer Science - Machine Learning, Statistics - Machine Learning}},\n"
        "}\n\n"
    )


def test_a_20_mb_bibtex_file_imports(tmp_path: Path, lib: Library) -> None:
    path = tmp_path / "big.bib"
    with path.open("w") as f:
        i, size = 0, 0
        while size < 20 * 1024 * 1024:
            entry = zotero_bibtex_entry(i)
            f.write(entry)
            size += len(entry)
            i += 1
    started = time.perf_counter()
    report = lib.import_files([path], index=False)
    elapsed = time.perf_counter() - started
    print(f"20 MB BibTeX ({i:,} entries): imported in {elapsed:.1f} s")
    assert report.summary()["imported"] == i and report.rejected == 0
    paper = lib.get("2301.00007")
    assert paper is not None and paper.categories == ["cs.LG", "stat.ML"]
    assert paper.author_names == ["Jane Doe", "Jörg Müller", "Richard Roe"]
    assert "100% recall and a \\method." in paper.abstract


def test_a_20_mb_ris_file_streams() -> None:
    record = "TY  - GEN\nTI  - Title {n}\nAU  - Doe, Jane\nAB  - " + "word " * 400 + "\nER  - \n\n"
    n = 20 * 1024 * 1024 // len(record) + 1
    data = "".join(record.replace("{n}", str(i)) for i in range(n)).encode()
    started = time.perf_counter()
    count = sum(1 for item in read_ris(io.BytesIO(data), "big.ris") if isinstance(item, Paper))
    print(f"20 MB RIS ({n:,} records): read in {time.perf_counter() - started:.1f} s")
    assert count == n


def test_a_20_mb_csl_json_file_reads() -> None:
    item = {"type": "article", "author": [{"family": "Doe", "given": "J"}], "abstract": "w " * 1000}
    n = 20 * 1024 * 1024 // len(json.dumps(item)) + 1
    data = json.dumps([{**item, "id": str(i), "title": f"Title {i}"} for i in range(n)]).encode()
    started = time.perf_counter()
    count = sum(1 for item in read_csl_json(io.BytesIO(data), "big.json") if isinstance(item, Paper))
    print(f"20 MB CSL-JSON ({n:,} items): read in {time.perf_counter() - started:.1f} s")
    assert count == n


def test_duplicate_entries_become_one_paper(tmp_path: Path, lib: Library) -> None:
    entry = (REFS / "arxiv.bib").read_text()
    path = tmp_path / "dupes.bib"
    path.write_text(entry + "\n" + entry)  # the same two entries (one arXiv paper) twice
    report = lib.import_files([path], index=False)
    assert report.summary()["imported"] == 1 and report.rejected == 0
    assert lib.stats()["papers"] == 1
    titled = tmp_path / "titled.ris"
    titled.write_text("TY  - GEN\nTI  - Only a Title\nER  - \n\nTY  - GEN\nTI  - only a title.\nER  - \n")
    lib.import_files([titled], index=False)
    assert lib.stats()["papers"] == 2


def test_entry_without_a_title_is_rejected_in_every_format() -> None:
    no_title = "record has no title"
    assert rejected(read(read_bibtex, "@misc{k, author = {Doe, Jane}}\n")) == {"line 1": no_title}
    assert rejected(read(read_ris, "\nTY  - GEN\nAU  - Doe, Jane\nER  -\n")) == {"line 2": no_title}
    assert rejected(read(read_csl_json, '[{"id": "k", "type": "article"}]')) == {"item 0": no_title}
