"""The source readers: what each outside format becomes, and what happens to bad input.

Every reader takes a binary stream and yields `Paper` records, `Rejected(where, reason)` for a
record it skips (with its line, entry or byte), and `Deleted(id)` for an OAI-PMH deletion. Only
an input that is unusable as a whole (empty, not the format at all) raises `SourceError`.
"""

from __future__ import annotations

import gzip
import io
import random
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import pytest

import paperfeed
from paperfeed.records import Paper
from paperfeed.sources import FORMATS, detect_format
from paperfeed.sources.arxiv_atom import read_arxiv_atom
from paperfeed.sources.arxiv_oai import OaiError, parse_oai_page, read_arxiv_oai
from paperfeed.sources.arxiv_snapshot import read_arxiv_snapshot
from paperfeed.sources.base import Deleted, Rejected, SourceError
from paperfeed.sources.bibtex import read_bibtex
from paperfeed.sources.hf_daily import read_hf_daily
from paperfeed.sources.hf_page import read_hf_page

FIXTURES = Path(__file__).parent / "fixtures"
SAMPLE_PAGES = sorted((Path(paperfeed.__file__).parent / "sample").glob("*.txt"))
TEN_MB = 10 * 1024 * 1024


def read(reader: Any, data: bytes, name: str = "input") -> list[Any]:
    return list(reader(io.BytesIO(data), name))


def read_fixture(reader: Any, filename: str) -> list[Any]:
    return read(reader, (FIXTURES / filename).read_bytes(), filename)


def papers(items: list[Any]) -> list[Paper]:
    return [i for i in items if isinstance(i, Paper)]


def rejected(items: list[Any]) -> list[Rejected]:
    return [i for i in items if isinstance(i, Rejected)]


def by_title(items: list[Any]) -> dict[str, Paper]:
    return {p.title: p for p in papers(items)}


# =============================================================================================
# Every reader


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@pytest.mark.parametrize("data", [b"", b"   \n\n  \n"], ids=["empty", "blank"])
def test_an_empty_file_is_unusable_as_a_whole(fmt: str, data: bytes) -> None:
    with pytest.raises(SourceError, match="empty file"):
        read(FORMATS[fmt], data)


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@pytest.mark.parametrize("seed", range(5))
def test_random_bytes_never_raise_anything_but_source_error(fmt: str, seed: int) -> None:
    data = random.Random(seed).randbytes(8192)
    try:
        items = read(FORMATS[fmt], data)
    except SourceError:
        return
    assert all(isinstance(i, Rejected) for i in items)


@pytest.mark.parametrize("fmt", sorted(set(FORMATS) - {"arxiv-snapshot"}))
def test_document_formats_refuse_a_truncated_gzip(fmt: str) -> None:
    # Half a JSON or XML document is not a document; the snapshot (lines) keeps what it read.
    gz = gzip.compress((FIXTURES / "hf_daily.json").read_bytes())
    stream = gzip.GzipFile(fileobj=io.BytesIO(gz[: len(gz) // 2]))
    with pytest.raises(SourceError, match="truncated or corrupt gzip data"):
        list(FORMATS[fmt](stream, "input.gz"))


# =============================================================================================
# arXiv bulk snapshot (JSON lines)


def snapshot_record(**fields: Any) -> dict[str, Any]:
    record = {
        "id": "2101.00001",
        "submitter": "Jane Doe",
        "authors": "Jane Doe and John Roe",
        "title": "A Title",
        "comments": None,
        "journal-ref": None,
        "doi": None,
        "report-no": None,
        "categories": "cs.LG",
        "license": None,
        "abstract": "An abstract.",
        "versions": [{"version": "v1", "created": "Fri, 1 Jan 2021 10:00:00 GMT"}],
        "update_date": "2021-01-02",
        "authors_parsed": [["Doe", "Jane", ""], ["Roe", "John", ""]],
    }
    record.update(fields)
    return record


def jsonl(*lines: dict[str, Any] | bytes) -> bytes:
    return b"".join(
        (line if isinstance(line, bytes) else orjson.dumps(line)) + b"\n" for line in lines
    )


def test_snapshot_record_becomes_a_paper_with_every_field() -> None:
    first, second, old = read_fixture(read_arxiv_snapshot, "arxiv_snapshot.jsonl")

    assert first.id == "0704.0001"
    assert first.title == (
        "Calculation of prompt diphoton production cross sections at Tevatron and LHC energies"
    )
    assert first.abstract.startswith("A fully differential calculation")
    assert "\n" not in first.abstract  # hard line breaks are collapsed; the raw text is kept
    assert first.abstract_raw is not None and "\n" in first.abstract_raw
    assert first.author_names == ["C. Balázs", "E. L. Berger", "P. M. Nadolsky", "C. -P. Yuan"]
    assert first.published == date(2007, 4, 2)  # versions[0].created
    assert first.updated == date(2008, 11, 13)  # update_date
    assert first.version == 2  # the last version
    assert first.categories == ["hep-ph"]
    assert first.doi == "10.1103/PhysRevD.76.013009"
    assert first.journal_ref == "Phys.Rev.D76:013009,2007"
    assert first.license is None
    assert first.sources == ["arxiv-snapshot"]
    assert first.extra == {
        "comments": "37 pages, 15 figures; published version",
        "report_no": "ANL-HEP-PR-07-12",
        "submitter": "Pavel Nadolsky",
    }

    assert second.categories == ["math.CO", "cs.CG"]  # primary first
    assert second.license == "http://arxiv.org/licenses/nonexclusive-distrib/1.0/"

    assert old.id == "hep-ph/0701001"
    assert old.author_names == ["A. Physicist", "B. Theorist Jr"]  # [last, first, suffix]


def test_snapshot_authors_fall_back_to_the_author_string() -> None:
    line = snapshot_record(authors="A. One, B. Two and C. Bal\\'azs", authors_parsed=None)
    (paper,) = read(read_arxiv_snapshot, jsonl(line))
    assert paper.author_names == ["A. One", "B. Two", "C. Balázs"]


def test_snapshot_bad_lines_are_rejected_with_their_line_number() -> None:
    good = snapshot_record()
    data = jsonl(
        good,  # line 1
        orjson.dumps(snapshot_record(id="2101.00002"))[:60],  # line 2: cut in half
        snapshot_record(id="2101.00003", title=None),  # line 3: no title
        b'{"id": "2101.00004", "title": "Bad \xff\xfe bytes"}',  # line 4: invalid UTF-8
        snapshot_record(  # line 5: published in the future
            id="2101.00005", versions=[{"version": "v1", "created": "Mon, 2 Apr 2999 1:00:00 GMT"}]
        ),
        snapshot_record(id="2101.00006", abstract="x" * TEN_MB),  # line 6: 10 MB abstract
        b"",  # line 7: blank, skipped
        snapshot_record(id="2101.00008", update_date="2021-13-45"),  # line 8: nonsense date
        snapshot_record(  # line 9: before arXiv existed
            id="2101.00009", versions=[{"version": "v1", "created": "Tue, 1 Jan 1980 1:00:00 GMT"}]
        ),
        b"[1, 2, 3]",  # line 10: JSON, but not an object
        snapshot_record(id="not an id"),  # line 11
        snapshot_record(id="2101.00012"),  # line 12: fine again
    )
    items = read(read_arxiv_snapshot, data)

    assert [p.id for p in papers(items)] == ["2101.00001", "2101.00012"]
    reasons = {r.where: r.reason for r in rejected(items)}
    assert sorted(reasons, key=lambda w: int(w.split()[1])) == [
        f"line {n}" for n in (2, 3, 4, 5, 6, 8, 9, 10, 11)
    ]
    assert "not valid JSON" in reasons["line 2"]
    assert reasons["line 3"] == "record has no title"
    assert "invalid UTF-8" in reasons["line 4"]
    assert reasons["line 5"] == "published 2999-04-02 is in the future"
    assert "abstract is 10,485,760 characters" in reasons["line 6"]
    assert "update_date is not a date" in reasons["line 8"]
    assert "before arXiv existed" in reasons["line 9"]
    assert reasons["line 10"] == "line is not a JSON object"
    assert "not an arXiv id" in reasons["line 11"]


def test_snapshot_that_is_not_json_lines_is_unusable() -> None:
    with pytest.raises(SourceError, match="not JSON lines"):
        read(read_arxiv_snapshot, b"id,title\n2101.00001,A title\n")


def _snapshot_gz(count: int) -> tuple[list[bytes], bytes]:
    """Lines with incompressible abstracts, so a cut lands in the middle of the stream."""
    rng = random.Random(7)
    lines = [
        jsonl(snapshot_record(id=f"2101.{n:05d}", abstract=rng.randbytes(300).hex()))
        for n in range(count)
    ]
    return lines, gzip.compress(b"".join(lines))


def test_truncated_gzip_keeps_the_records_before_the_cut() -> None:
    lines, gz = _snapshot_gz(200)
    stream = gzip.GzipFile(fileobj=io.BytesIO(gz[: len(gz) // 2]))

    items = list(read_arxiv_snapshot(stream, "snapshot.json.gz"))

    good, last = items[:-1], items[-1]
    assert 0 < len(good) < 200
    assert all(isinstance(p, Paper) for p in good)
    assert last == Rejected(
        f"byte {sum(map(len, lines[: len(good)]))}", "truncated or corrupt gzip data"
    )


def test_corrupt_gzip_ends_the_file_with_a_rejection() -> None:
    lines, gz = _snapshot_gz(200)
    damaged = bytearray(gz)
    damaged[len(gz) // 2 : len(gz) // 2 + 64] = bytes(64)
    stream = gzip.GzipFile(fileobj=io.BytesIO(bytes(damaged)))

    items = list(read_arxiv_snapshot(stream, "snapshot.json.gz"))

    assert isinstance(items[-1], Rejected)
    assert items[-1].reason == "truncated or corrupt gzip data"
    assert items[-1].where.startswith("byte ")
    assert all(isinstance(p, Paper | Rejected) for p in items[:-1])


# =============================================================================================
# arXiv API (Atom)

ATOM_HEAD = b"""<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:arxiv="http://arxiv.org/schemas/atom">
"""


def atom_entry(
    arxiv_id: str = "2101.00001v1",
    title: str = "A Title",
    published: str = "2021-01-01T10:00:00Z",
    summary: str = "An abstract.",
) -> bytes:
    return f"""<entry>
  <id>http://arxiv.org/abs/{arxiv_id}</id>
  <published>{published}</published><updated>{published}</updated>
  <title>{title}</title><summary>{summary}</summary>
  <author><name>Jane Doe</name></author>
  <category term="cs.LG"/>
</entry>
""".encode()


def atom_feed(*entries: bytes) -> bytes:
    return ATOM_HEAD + b"".join(entries) + b"</feed>\n"


def test_atom_entries_become_papers() -> None:
    first, old = read_fixture(read_arxiv_atom, "arxiv_atom.xml")

    assert first.id == "0704.0001"
    assert first.version == 2  # from the id URL's v2
    assert first.title == (
        "Calculation of prompt diphoton production cross sections at Tevatron and LHC energies"
    )
    assert first.abstract.startswith("A fully differential calculation in perturbative")
    assert first.published == date(2007, 4, 2)
    assert first.updated == date(2007, 7, 24)
    assert first.author_names == ["C. Balázs", "E. L. Berger"]  # TeX accent rendered
    assert [a.affiliation for a in first.authors] == ["Argonne National Laboratory", None]
    assert first.categories == ["hep-ph", "hep-ex"]  # primary first, no repeats
    assert first.doi == "10.1103/PhysRevD.76.013009"
    assert first.journal_ref == "Phys.Rev.D76:013009,2007"
    assert first.extra == {"comments": "37 pages, 15 figures; published version"}
    assert first.sources == ["arxiv-atom"]

    assert old.id == "hep-th/9901001"


def test_atom_api_error_is_a_source_error_with_the_api_message() -> None:
    with pytest.raises(SourceError, match="incorrect id format for 1234.12345"):
        read_fixture(read_arxiv_atom, "arxiv_atom_error.xml")


def test_atom_with_no_results_yields_nothing() -> None:
    assert read(read_arxiv_atom, atom_feed()) == []


def test_atom_bad_entries_are_rejected_and_the_rest_kept() -> None:
    data = atom_feed(
        atom_entry("2101.00001v1"),
        atom_entry("2101.00002v1", title=""),
        atom_entry("2101.00003v1", published="2999-01-01T00:00:00Z"),
        atom_entry("2101.00004v1", summary="x" * TEN_MB),
        atom_entry("2101.00005v1", published="yesterday"),
        atom_entry("2101.00006v1"),
    )
    items = read(read_arxiv_atom, data)

    assert [p.id for p in papers(items)] == ["2101.00001", "2101.00006"]
    assert [(r.where, r.reason.split(" ")[0]) for r in rejected(items)] == [
        ("entry 2", "record"),
        ("entry 3", "published"),
        ("entry 4", "abstract"),
        ("entry 5", "published"),
    ]


def test_atom_malformed_xml_is_unusable() -> None:
    with pytest.raises(SourceError, match="not well-formed XML"):
        read(read_arxiv_atom, atom_feed(atom_entry())[:-30])


def test_atom_invalid_utf8_is_unusable_xml() -> None:
    with pytest.raises(SourceError, match="not well-formed XML"):
        read(
            read_arxiv_atom,
            atom_feed(atom_entry(title="caf\xe9").replace(b"caf\xc3\xa9", b"caf\xff")),
        )


def test_atom_of_another_kind_is_unusable() -> None:
    with pytest.raises(SourceError, match="not an Atom feed"):
        read(read_arxiv_atom, b"<rss><channel/></rss>")


def test_atom_external_entities_are_never_resolved() -> None:
    data = b"""<?xml version="1.0"?>
<!DOCTYPE feed [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<feed xmlns="http://www.w3.org/2005/Atom"><entry>
<id>http://arxiv.org/abs/2101.00001v1</id><title>Leak &xxe; here</title><summary>s</summary>
</entry></feed>"""
    items = read(read_arxiv_atom, data)
    assert not any("root:" in p.title for p in papers(items))


def test_atom_entity_expansion_bomb_is_harmless() -> None:
    lol = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10))
    data = f"""<?xml version="1.0"?>
<!DOCTYPE feed [<!ENTITY l0 "lol">{lol}]>
<feed xmlns="http://www.w3.org/2005/Atom"><entry>
<id>http://arxiv.org/abs/2101.00001v1</id><title>Bomb &l9;</title><summary>s</summary>
</entry></feed>""".encode()
    try:
        items = read(read_arxiv_atom, data)
    except SourceError:
        return
    assert all(len(p.title) < 1000 for p in papers(items))


# =============================================================================================
# arXiv OAI-PMH


def test_oai_arxiv_format_records_deletions_and_paging() -> None:
    page = parse_oai_page((FIXTURES / "arxiv_oai_arxiv.xml").read_bytes())

    first, deleted, third = page.items
    assert isinstance(first, Paper)
    assert first.id == "0704.0001"
    assert first.title.endswith("at Tevatron and LHC energies")
    assert first.author_names == ["C. Balázs", "E. L. Berger", "C. -P. Yuan Jr"]
    assert first.authors[0].affiliation == "Argonne National Laboratory"
    assert first.published == date(2007, 4, 2)  # created
    assert first.updated == date(2007, 7, 24)
    assert first.categories == ["hep-ph", "hep-ex"]
    assert first.doi == "10.1103/PhysRevD.76.013009"
    assert first.journal_ref == "Phys.Rev.D76:013009,2007"
    assert first.license == "http://arxiv.org/licenses/nonexclusive-distrib/1.0/"
    assert first.extra == {
        "comments": "37 pages, 15 figures; published version",
        "report_no": "ANL-HEP-PR-07-12",
    }
    assert first.sources == ["arxiv-oai"]

    assert deleted == Deleted("hep-ph/0701001")
    assert isinstance(third, Paper) and third.updated is None

    assert page.resumption_token == "6960524|1001"
    assert page.complete_list_size == 3461
    assert page.cursor == 0


def test_oai_reader_yields_the_same_items() -> None:
    items = read_fixture(read_arxiv_oai, "arxiv_oai_arxiv.xml")
    assert [type(i).__name__ for i in items] == ["Paper", "Deleted", "Paper"]


def test_oai_arxiv_raw_format_has_versions() -> None:
    (paper,) = read_fixture(read_arxiv_oai, "arxiv_oai_raw.xml")
    assert paper.id == "0704.0001"
    assert paper.published == date(2007, 4, 2)  # v1's date
    assert paper.updated == date(2007, 7, 24)  # the last version's date
    assert paper.version == 2
    assert paper.author_names == ["C. Balázs", "E. L. Berger", "P. M. Nadolsky", "C.-P. Yuan"]
    assert paper.extra["submitter"] == "Pavel Nadolsky"


def test_oai_dublin_core_format() -> None:
    page = parse_oai_page((FIXTURES / "arxiv_oai_dc.xml").read_bytes())
    (paper,) = page.items
    assert isinstance(paper, Paper)
    assert paper.id == "0704.0001"
    assert paper.author_names == ["C. Balázs", "E. L. Berger"]  # from "Last, First"
    assert paper.abstract.startswith("A fully differential")  # the first description
    assert paper.published == date(2007, 4, 2)
    assert paper.updated == date(2007, 7, 24)
    assert paper.doi == "10.1103/PhysRevD.76.013009"
    assert paper.journal_ref == "Phys.Rev.D76:013009,2007"
    assert paper.extra == {"subjects": ["High Energy Physics - Phenomenology"]}
    # An empty resumptionToken element marks the last page.
    assert page.resumption_token is None
    assert page.complete_list_size == 3461


OAI_HEAD = b'<?xml version="1.0"?><OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/">'


def oai_record(arxiv_id: str, title: str = "A Title", created: str = "2021-01-01") -> bytes:
    return f"""<record><header><identifier>oai:arXiv.org:{arxiv_id}</identifier></header>
<metadata><arXiv xmlns="http://arxiv.org/OAI/arXiv/"><id>{arxiv_id}</id>
<created>{created}</created><title>{title}</title><abstract>An abstract.</abstract>
</arXiv></metadata></record>""".encode()


def test_oai_bad_records_are_rejected_with_their_identifier() -> None:
    data = (
        OAI_HEAD
        + b"<ListRecords>"
        + oai_record("2101.00001")
        + oai_record("2101.00002", title="")
        + oai_record("2101.00003", created="2999-12-31")
        + b"<record><header><identifier>oai:arXiv.org:2101.00004</identifier></header></record>"
        + oai_record("2101.00005")
        + b"</ListRecords></OAI-PMH>"
    )
    items = read(read_arxiv_oai, data)
    assert [p.id for p in papers(items)] == ["2101.00001", "2101.00005"]
    assert rejected(items) == [
        Rejected("entry 2", "oai:arXiv.org:2101.00002: record has no title"),
        Rejected("entry 3", "oai:arXiv.org:2101.00003: created 2999-12-31 is in the future"),
        Rejected("entry 4", "oai:arXiv.org:2101.00004: record has no metadata"),
    ]


def test_oai_error_response_raises_oai_error_with_its_code() -> None:
    data = OAI_HEAD + b'<error code="badResumptionToken">The token has expired</error></OAI-PMH>'
    with pytest.raises(OaiError) as caught:
        parse_oai_page(data)
    assert caught.value.code == "badResumptionToken"
    assert caught.value.message == "The token has expired"
    assert isinstance(caught.value, SourceError)  # so readers' callers need one except


def test_oai_no_records_match_is_an_empty_page_not_an_error() -> None:
    data = OAI_HEAD + b'<error code="noRecordsMatch">nothing in this range</error></OAI-PMH>'
    page = parse_oai_page(data)
    assert page.items == [] and page.resumption_token is None


def test_oai_response_without_records_is_unusable() -> None:
    data = OAI_HEAD + b"<Identify><repositoryName>arXiv</repositoryName></Identify></OAI-PMH>"
    with pytest.raises(SourceError, match="not a ListRecords or GetRecord response"):
        read(read_arxiv_oai, data)


def test_oai_malformed_xml_is_unusable() -> None:
    with pytest.raises(SourceError, match="not well-formed XML"):
        parse_oai_page(OAI_HEAD + b"<ListRecords><record>")


# =============================================================================================
# Hugging Face papers API (JSON)


def hf_item(arxiv_id: str = "2502.00001", **paper: Any) -> dict[str, Any]:
    fields = {
        "id": arxiv_id,
        "title": "A Title",
        "summary": "An abstract.",
        "authors": [{"_id": "a", "name": "Jane Doe"}],
        "publishedAt": "2025-02-03T10:00:00.000Z",
        "upvotes": 1,
    }
    fields.update(paper)
    return {"paper": fields, "publishedAt": "2025-02-04T10:00:00.000Z", "numComments": 0}


def test_hf_daily_items_become_papers_with_community_fields() -> None:
    first, second = read_fixture(read_hf_daily, "hf_daily.json")

    assert first.id == "2502.01234"
    assert first.title == "Analytical Engines Are All You Need"
    assert first.abstract == "We revisit the analytical engine and find it sufficient."
    assert first.author_names == ["Ada Lovelace", "Alan Turing"]
    assert first.published == date(2025, 2, 3)  # paper.publishedAt: the arXiv date
    assert first.submitted_to_daily == date(2025, 2, 4)  # item.publishedAt: the daily list
    assert first.upvotes == 42
    assert first.comments == 3
    assert first.github_repo == "https://github.com/example/engine"
    assert first.github_stars == 1234
    assert first.project_page == "https://example.org/engine"
    assert (first.organization, first.organization_name) == ("example-lab", "Example Lab")
    assert first.extra["ai_summary"] == "Old engines, new tricks."
    assert first.extra["ai_keywords"] == ["analytical engine", "computation"]
    assert first.extra["discussion_id"] == "67a1b2c3d4"
    assert first.extra["submitted_by"]["name"] == "akhaliq"
    assert first.extra["thumbnail"].endswith("2502.01234.png")
    assert first.sources == ["hf-daily"]

    assert second.organization is None and second.comments == 0


def test_hf_single_paper_object_is_accepted() -> None:
    paper_object = hf_item("2502.00009", submittedOnDailyAt="2025-02-05T00:00:00.000Z")["paper"]
    (paper,) = read(read_hf_daily, orjson.dumps(paper_object))
    assert paper.id == "2502.00009"
    assert paper.submitted_to_daily == date(2025, 2, 5)  # no item: submittedOnDailyAt


def test_hf_search_results_are_accepted() -> None:
    results = [hf_item("2502.00001"), hf_item("2502.00002")]
    assert [p.id for p in read(read_hf_daily, orjson.dumps(results))] == [
        "2502.00001",
        "2502.00002",
    ]


def test_hf_page_past_the_end_is_an_empty_list() -> None:
    assert read(read_hf_daily, b"[]") == []


def test_hf_bad_items_are_rejected_and_the_rest_kept() -> None:
    items_in = [
        hf_item("2502.00001"),
        "not an object",
        {"publishedAt": "2025-02-04T10:00:00.000Z"},
        hf_item("2502.00004", title=None),
        hf_item("2502.00005", publishedAt="2999-01-01T00:00:00.000Z"),
        hf_item("2502.00006", summary="x" * TEN_MB),
        hf_item("not-an-arxiv-id"),
        hf_item("2502.00008", upvotes="many"),
        hf_item("2502.00009"),
    ]
    items = read(read_hf_daily, orjson.dumps(items_in))

    assert [p.id for p in papers(items)] == ["2502.00001", "2502.00009"]
    reasons = {r.where: r.reason for r in rejected(items)}
    assert reasons == {
        "item 2": "item is not an object",
        "item 3": "item has no paper",
        "item 4": "record has no title",
        "item 5": "publishedAt 2999-01-01 is in the future",
        "item 6": f"abstract is {TEN_MB:,} characters (limit 100,000)",
        "item 7": "not an arXiv id: 'not-an-arxiv-id'",
        "item 8": "upvotes is not a whole number: 'many'",
    }


def test_hf_invalid_utf8_rejects_only_the_item_holding_it() -> None:
    data = orjson.dumps([hf_item("2502.00001", title="Caf\u00e9"), hf_item("2502.00002")])
    data = data.replace("Caf\u00e9".encode(), b"Caf\xe9")  # Latin-1, not UTF-8
    items = read(read_hf_daily, data)
    assert items[0] == Rejected("item 1", "invalid UTF-8")
    assert isinstance(items[1], Paper)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"<html>not json</html>", "not JSON"),
        (orjson.dumps([hf_item()])[:40], "not JSON"),  # cut in half: the list never closes
        (b'{"error": "Invalid date"}', "not a Hugging Face papers response"),
        (b'"a string"', "not a Hugging Face papers response"),
    ],
)
def test_hf_input_that_is_not_an_api_response_is_unusable(data: bytes, message: str) -> None:
    with pytest.raises(SourceError, match=message):
        read(read_hf_daily, data)


# =============================================================================================
# A saved Hugging Face papers page: the text rendering (the real sample pages)


@pytest.fixture(scope="module")
def sample_pages() -> dict[str, list[Any]]:
    return {
        path.name[:3]: read(read_hf_page, path.read_bytes(), path.name) for path in SAMPLE_PAGES
    }


def test_sample_pages_hold_94_entries_86_distinct(sample_pages: dict[str, list[Any]]) -> None:
    assert [len(sample_pages["000"]), len(sample_pages["001"])] == [43, 51]
    everything = sample_pages["000"] + sample_pages["001"]
    assert all(isinstance(p, Paper) for p in everything)
    assert len({p.title for p in everything}) == 86
    # Titles carry no arXiv id: ids are title-based, and the same title gets the same id.
    assert all(p.id.startswith("t-") for p in everything)
    assert len({p.id for p in everything}) == 86


def test_sample_page_entry_with_author_count(sample_pages: dict[str, list[Any]]) -> None:
    first = sample_pages["000"][0]
    assert first.title == (
        "Mix Data or Merge Models? Balancing the Helpfulness, Honesty, and Harmlessness of "
        "Large Language Model via Model Merging"
    )
    assert first.abstract.startswith("Achieving balanced alignment of large language models")
    assert first.abstract.endswith("We release our trained models for further exploration.")
    assert first.author_count == 12
    assert first.authors == []  # the page shows a count, not names
    assert first.published == date(2025, 2, 8)
    assert first.upvotes is None
    assert first.sources == ["hf-page"]


def test_sample_page_date_line_with_upvotes(sample_pages: dict[str, list[Any]]) -> None:
    paper = by_title(sample_pages["000"])[
        "RGB-Only Supervised Camera Parameter Optimization in Dynamic Scenes"
    ]
    assert (paper.author_count, paper.published, paper.upvotes) == (3, date(2025, 9, 18), 2)


def test_sample_page_organization_line(sample_pages: dict[str, list[Any]]) -> None:
    papers_by_title = by_title(sample_pages["000"])
    root = papers_by_title["ROOT: Robust Orthogonalized Optimizer for Neural Network Training"]
    assert (root.organization, root.organization_name) == ("huawei-noah", "HUAWEI Noah's Ark Lab")
    assert (root.author_count, root.published, root.upvotes) == (None, date(2025, 11, 25), 5)

    swiss = next(p for t, p in papers_by_title.items() if t.startswith("LLM Swiss Round"))
    assert (swiss.organization, swiss.organization_name) == ("ByteDance-Seed", "ByteDance Seed")
    assert (swiss.published, swiss.upvotes) == (date(2025, 12, 24), 2)


def test_sample_page_entry_without_metadata(sample_pages: dict[str, list[Any]]) -> None:
    titles = [p.title for p in sample_pages["000"]]
    i = titles.index("Beyond Outliers: A Study of Optimizers Under Quantization")
    bare, after = sample_pages["000"][i], sample_pages["000"][i + 1]
    assert bare.abstract.startswith("As new optimizers gain traction")
    assert (bare.published, bare.author_count, bare.upvotes) == (None, None, None)
    # The next entry is read as its own title, abstract and metadata.
    assert after.title == "Systematic Outliers in Large Language Models"
    assert after.abstract.startswith("Outliers have been widely observed")
    assert (after.author_count, after.published) == (5, date(2025, 2, 10))


def test_sample_page_older_dates_and_last_entry(sample_pages: dict[str, list[Any]]) -> None:
    papers_by_title = by_title(sample_pages["000"])
    vae = papers_by_title["Variational Autoencoders for Collaborative Filtering"]
    assert (vae.author_count, vae.published) == (4, date(2018, 2, 15))
    last = sample_pages["000"][-1]
    assert last.title == (
        "Outliers with Opposing Signals Have an Outsized Effect on Neural Network Optimization"
    )
    assert (last.author_count, last.published) == (2, date(2023, 11, 7))


def test_sample_page_without_any_metadata(sample_pages: dict[str, list[Any]]) -> None:
    page = sample_pages["001"]
    assert page[0].title.startswith("ProDepth: Boosting Self-Supervised Multi-Frame")
    assert page[-1].title == "Scaling Law for Quantization-Aware Training"
    assert page[-1].abstract.startswith("Large language models (LLMs) demand substantial")
    assert all(p.published is None and p.author_count is None for p in page)


def test_sample_page_header_and_page_day_are_not_papers(
    sample_pages: dict[str, list[Any]],
) -> None:
    titles = {p.title for page in sample_pages.values() for p in page}
    assert not titles & {"new", "Subscribe", "Daily Papers", "Jan 6", "Jul 16"}


def test_sample_page_tex_in_abstracts_is_rendered(sample_pages: dict[str, list[Any]]) -> None:
    svd = next(p for p in sample_pages["000"] if p.title.startswith("SVDQunat"))
    assert "naïvely" in svd.abstract
    assert svd.abstract_raw is not None and 'na\\"{\\i}vely' in svd.abstract_raw


PAGE_HEAD = (
    "new\n\nGet trending papers in your email inbox!\n\nSubscribe\n\nDaily Papers\n\nJan 6\n\n"
)


def test_text_page_bad_entries_are_rejected_at_their_title_line() -> None:
    page = (
        (
            PAGE_HEAD  # lines 1-9
            + "Good Paper\n\nGood abstract.\n\n  • 2 authors\n·\nFeb 8, 2025 3\n\n"  # line 11
            + "Future Paper\n\nAbstract.\n\n  • 1 authors\n·\nFeb 8, 2999\n\n"  # line 19
            + "Huge Paper\n\n"
            + "x" * TEN_MB
            + "\n\n"  # line 27
            + "Nonsense Date\n\nAbstract.\n\n  • 1 authors\n·\nFeb 30, 2024\n\n"  # line 31
            + "Latin-1 Caf\xe9 Paper\n\nAbstract.\n\n"  # line 39
            + "Last Paper\n\nLast abstract."  # line 43
        )
        .encode("utf-8")
        .replace(b"Caf\xc3\xa9", b"Caf\xe9")
    )
    items = read(read_hf_page, page)

    good, last = papers(items)
    assert (good.title, good.author_count, good.published, good.upvotes) == (
        "Good Paper",
        2,
        date(2025, 2, 8),
        3,
    )
    assert last.title == "Last Paper"
    assert rejected(items) == [
        Rejected("line 19", "published 2999-02-08 is in the future"),
        Rejected("line 27", f"abstract is {TEN_MB:,} characters (limit 100,000)"),
        Rejected("line 31", "published is not a date: 2024-2-30"),
        Rejected("line 39", "invalid UTF-8"),
    ]


def test_text_that_is_not_a_papers_page_is_unusable() -> None:
    with pytest.raises(SourceError, match="not a Hugging Face papers page"):
        read(read_hf_page, b"Dear diary,\n\ntoday nothing happened.\n")


# =============================================================================================
# A saved Hugging Face papers page: HTML


def test_html_page_cards_give_ids_from_paper_links() -> None:
    engines, compilers, future = read_fixture(read_hf_page, "hf_papers_page.html")

    assert engines.id == "2502.01234"
    assert engines.title == "Analytical Engines & You: All You Need"
    assert engines.abstract == "We revisit the analytical engine and find it sufficient."
    assert engines.upvotes == 42  # not the comment count (3), which is a link
    assert engines.author_count == 4
    assert engines.published == date(2025, 2, 3)
    assert (engines.organization, engines.organization_name) == ("example-lab", "Example Lab")

    assert compilers.id == "2502.05678"
    assert compilers.upvotes == 7 and compilers.author_count == 1
    # Markup in the page is text, never markup, once read.
    assert compilers.abstract == "A short abstract with markup <script>alert(1)</script>."

    assert future == Rejected("entry 3", "published 2999-02-02 is in the future")


def test_html_page_embedded_json_is_read_like_the_api() -> None:
    props = orjson.dumps({"dailyPapers": [hf_item("2502.00001"), hf_item("2502.00002", title="")]})
    html = (
        b'<!doctype html><html><body><div class="SVELTE_HYDRATER contents" '
        b'data-target="DailyPapers" data-props="'
        + props.replace(b"&", b"&amp;").replace(b'"', b"&quot;")
        + b'"></div></body></html>'
    )
    items = read(read_hf_page, html)
    assert isinstance(items[0], Paper) and items[0].id == "2502.00001"
    assert items[0].sources == ["hf-page"]
    assert items[1] == Rejected("entry 2", "record has no title")


def test_html_page_without_papers_is_unusable() -> None:
    with pytest.raises(SourceError, match="no papers found"):
        read(read_hf_page, b"<!doctype html><html><body><h1>Not found</h1></body></html>")


# =============================================================================================
# BibTeX


def test_bibtex_entries_become_papers() -> None:
    balazs, attention, conference, via_doi = read_fixture(read_bibtex, "refs.bib")

    # eprint + archivePrefix = arXiv gives the id.
    assert balazs.id == "0704.0001"
    assert balazs.title == (
        "Calculation of Prompt Diphoton Production Cross Sections at Tevatron and LHC Energies"
    )
    assert balazs.author_names == ["C. Balázs", "E. L. Berger", "P. M. Nadolsky", "C.-P. Yuan"]
    assert balazs.doi == "10.1103/PhysRevD.76.013009"  # the doi.org prefix dropped
    assert balazs.journal_ref == "Phys. Rev. D"
    assert balazs.categories == ["hep-ph"]
    # A year and month stand for the month's first day, marked as month precision.
    assert balazs.published == date(2007, 7, 1) and balazs.extra["date_precision"] == "month"
    assert balazs.extra["year"] == 2007 and balazs.extra["month"] == 7
    assert balazs.extra["bibtex_key"] == "balazs2007"
    assert balazs.sources == ["bibtex"]

    # An arxiv.org URL gives the id (and version); "and others" is not an author.
    assert (attention.id, attention.version) == ("1706.03762", 7)
    assert attention.author_names == ["Ashish Vaswani", "Noam Shazeer"]

    # No arXiv id: a title-based id; braces protect "and"; "Last, Jr, First".
    assert conference.id.startswith("t-")
    assert conference.title == "A Conference Paper Without an arXiv Version"
    assert conference.author_names == ["Barnes and Noble Research", "John Doe Jr"]
    assert conference.published == date(2021, 6, 15)  # a full biblatex date
    assert conference.journal_ref == "Proceedings of Something"

    # An arXiv DOI gives the id.
    assert via_doi.id == "2101.00001"


def test_bibtex_bad_entries_are_rejected_at_their_first_line() -> None:
    data = b"""@article{good1, title = {Good One}, author = {Doe, Jane}}

@article{broken,
  title = {Never closed,

@article{notitle, author = {Doe, Jane}}
@article{future, title = {From the Future}, date = {2999-01-01}}
@article{nonsense, title = {Nonsense Date}, date = {2021-02-30}}
@article{badarxiv, title = {Bad eprint}, eprint = {garbage}, archivePrefix = {arXiv}}
@article{latin1, title = {Caf\xe9 Society}}
@article{good1, title = {Same Key, Other Paper}}
@article{good2, title = {Good Two}}
"""
    data = data.replace(
        b"@article{nonsense",
        b"@article{huge, title = {Huge}, abstract = {" + b"x" * TEN_MB + b"}}\n@article{nonsense",
    )
    items = read(read_bibtex, data)

    assert [p.title for p in papers(items)] == ["Good One", "Same Key, Other Paper", "Good Two"]
    reasons = {r.where: r.reason for r in rejected(items)}
    assert reasons["line 3"].startswith("BibTeX syntax error")
    assert reasons["line 6"] == "record has no title"
    assert reasons["line 7"] == "date 2999-01-01 is in the future"
    assert reasons["line 8"].startswith("abstract is 10,485,760 characters")
    assert reasons["line 9"] == "date is not a date: 2021-2-30"
    assert reasons["line 10"] == "not an arXiv id: 'garbage'"
    assert reasons["line 11"] == "invalid UTF-8"
    assert len(reasons) == 7


def test_bibtex_without_entries_is_unusable() -> None:
    with pytest.raises(SourceError, match="no BibTeX entries"):
        read(read_bibtex, b"% only a comment\n\nsome prose\n")


# =============================================================================================
# Format detection


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        ("arxiv_snapshot.jsonl", "arxiv-snapshot"),
        ("arxiv_atom.xml", "arxiv-atom"),
        ("arxiv_atom_error.xml", "arxiv-atom"),
        ("arxiv_oai_arxiv.xml", "arxiv-oai"),
        ("arxiv_oai_raw.xml", "arxiv-oai"),
        ("arxiv_oai_dc.xml", "arxiv-oai"),
        ("hf_daily.json", "hf-daily"),
        ("hf_papers_page.html", "hf-page"),
        ("refs.bib", "bibtex"),
    ],
)
def test_detect_fixture_formats_by_content(filename: str, expected: str) -> None:
    head = (FIXTURES / filename).read_bytes()[:65536]
    assert detect_format(head, "upload.dat") == expected


@pytest.mark.parametrize("path", SAMPLE_PAGES, ids=lambda p: p.name)
def test_detect_sample_text_pages(path: Path) -> None:
    assert detect_format(path.read_bytes()[:65536], path.name) == "hf-page"


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (orjson.dumps(hf_item()["paper"], option=orjson.OPT_INDENT_2), "hf-daily"),
        (orjson.dumps({"paper": hf_item()["paper"]}), "hf-daily"),
        (b"[]", "hf-daily"),
        (b"  \n" + orjson.dumps([hf_item()]), "hf-daily"),
        (b"\xef\xbb\xbf" + jsonl(snapshot_record()), "arxiv-snapshot"),
        (jsonl(snapshot_record(versions=None)), "arxiv-snapshot"),  # authors_parsed suffices
        (b'<feed xmlns="http://www.w3.org/2005/Atom"></feed>', "arxiv-atom"),
        (
            b'<?xml version="1.0"?>\n<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/">',
            "arxiv-oai",
        ),
        (b"<html><body><article></article></body></html>", "hf-page"),
        (b"@Article{key,\n title={T}}", "bibtex"),
        (b"% JabRef export\n\n@inproceedings( key,\n title={T})", "bibtex"),
    ],
)
def test_detect_by_content(head: bytes, expected: str) -> None:
    assert detect_format(head, "upload.dat") == expected


def test_detect_falls_back_on_the_extension_only_when_content_does_not_tell() -> None:
    assert detect_format(b"% no entries yet\n", "refs.bib") == "bibtex"
    assert detect_format(b"% no entries yet\n", "refs.bib.gz") == "bibtex"
    assert detect_format(b"@article{a, title={T}}", "misnamed.html") == "bibtex"


@pytest.mark.parametrize(
    "head",
    [
        b"",
        b"id,title\n1,A\n",
        b'{"foo": 1}\n{"foo": 2}\n',
        b"[1, 2, 3]",
        b"<rss><channel/></rss>",
        random.Random(3).randbytes(4096),
    ],
)
def test_detect_refuses_to_guess(head: bytes) -> None:
    with pytest.raises(SourceError, match="cannot tell the format of upload.dat; pass --format"):
        detect_format(head, "upload.dat")
