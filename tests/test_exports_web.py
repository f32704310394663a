"""The export routes on a real uvicorn server, read back by the real libraries: bibtexparser,
rispy, citeproc-py, and `huggingface_hub`'s `read_paper` (`GET /papers/{id}.md`)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import bibtexparser
import httpx
import pytest
import rispy
import webdata
from citeproc import Citation, CitationItem, CitationStylesBibliography, CitationStylesStyle, formatter
from citeproc.source.json import CiteProcJSON
from huggingface_hub import HfApi
from huggingface_hub import constants as hf_constants
from huggingface_hub.errors import HfHubHTTPError
from lxml import html as lxml_html

from paperfeed.records import Paper

BARE = Paper(id="t-a-paper-without-anything", title="A Paper Without Authors or Dates", abstract="",
             sources=["test"])


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with webdata.served(tmp_path_factory.mktemp("exports"), BARE) as base:
        yield base


@pytest.fixture()
def hf(url: str) -> Iterator[HfApi]:
    with pytest.MonkeyPatch.context() as mp:  # see test_hf_client.py: offline mode blocks loopback
        mp.setattr(hf_constants, "HF_HUB_OFFLINE", False)
        yield HfApi(endpoint=url, token=False)


def get(url: str, path: str, **params: str) -> httpx.Response:
    return httpx.get(url + path, params=params, timeout=30)


def test_read_paper_is_the_markdown_page(hf: HfApi) -> None:
    text = hf.read_paper("2502.00004")
    assert text.startswith("# Speculative Decoding for Large Language Models\n")
    assert "Alan Turing, Barbara Liskov" in text
    assert "2025-02-04" in text
    assert "[arXiv](https://arxiv.org/abs/2502.00004)" in text
    assert "Speculative decoding speeds up" in text
    assert "[Code](https://github.com/example/specdec)" in text
    with pytest.raises(HfHubHTTPError) as err:
        hf.read_paper("2999.99999")
    assert err.value.response.status_code == 404


def test_markdown_of_a_hostile_paper_is_inert(url: str) -> None:
    r = get(url, "/papers/2502.00003.md")
    assert r.status_code == 200 and r.headers["content-type"] == "text/markdown; charset=utf-8"
    assert r.headers["content-disposition"] == 'inline; filename="2502.00003.md"'
    assert "<script>" not in r.text and "\\<script\\>" in r.text
    assert "javascript:" not in r.text  # the hostile githubRepo is no link


def test_bibtex_of_a_paper(url: str) -> None:
    r = get(url, "/papers/2501.09999v2.bib")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/x-bibtex; charset=utf-8"
    assert r.headers["content-disposition"] == 'attachment; filename="2501.09999.bib"'
    lib = bibtexparser.parse_string(r.text)
    assert not lib.failed_blocks and len(lib.entries) == 1
    entry = lib.entries[0]
    assert entry.entry_type == "article"  # a journal reference is known
    assert entry.fields_dict["eprint"].value == "2501.09999"
    assert entry.fields_dict["doi"].value == "10.1234/example.5678"
    assert "Liskov" in entry.fields_dict["author"].value


def test_hostile_text_stays_one_entry_in_bibtex_and_ris(url: str) -> None:
    bib = bibtexparser.parse_string(get(url, "/papers/2502.00003.bib").text)
    assert not bib.failed_blocks and len(bib.entries) == 1
    assert "script" in bib.entries[0].fields_dict["title"].value
    records = rispy.loads(get(url, "/papers/2502.00003.ris").text)
    assert len(records) == 1 and "script" in records[0]["title"]


def test_ris_and_csl_json_of_a_paper(url: str) -> None:
    r = get(url, "/papers/2502.00004.ris")
    assert r.headers["content-type"] == "application/x-research-info-systems; charset=utf-8"
    assert r.headers["content-disposition"] == 'attachment; filename="2502.00004.ris"'
    (record,) = rispy.loads(r.text)
    assert record["title"] == "Speculative Decoding for Large Language Models"
    assert len(record["authors"]) == 2
    for path in ("/papers/2502.00004.csl.json", "/papers/2502.00004.json"):
        r = get(url, path)
        assert r.headers["content-type"] == "application/vnd.citationstyles.csl+json; charset=utf-8"
        items = json.loads(r.text)
        assert len(items) == 1 and items[0]["title"] == "Speculative Decoding for Large Language Models"
    style = CitationStylesStyle("harvard-cite-them-right", validate=False)
    bibliography = CitationStylesBibliography(style, CiteProcJSON(items), formatter.plain)
    bibliography.register(Citation([CitationItem(items[0]["id"])]))
    (rendered,) = [str(x) for x in bibliography.bibliography()]
    assert "Turing" in rendered and "2025" in rendered


def test_a_paper_without_authors_or_dates(url: str) -> None:
    for ext in ("bib", "ris", "csl.json", "md"):
        assert get(url, f"/papers/{BARE.id}.{ext}").status_code == 200, ext
    (entry,) = bibtexparser.parse_string(get(url, f"/papers/{BARE.id}.bib").text).entries
    assert "author" not in entry.fields_dict and "year" not in entry.fields_dict
    assert "- **Authors:** unknown" in get(url, f"/papers/{BARE.id}.md").text


@pytest.mark.parametrize("ext", ["bib", "ris", "csl.json", "json", "md"])
def test_unknown_ids_are_404(url: str, ext: str) -> None:
    assert get(url, f"/papers/2999.99999.{ext}").status_code == 404
    assert get(url, f"/papers/nothing/here.{ext}").status_code == 404


def test_exports_of_a_day_a_week_and_a_search(url: str) -> None:
    r = get(url, "/daily.bib", date="2025-02-04")
    assert r.headers["content-disposition"] == 'attachment; filename="paperfeed-2025-02-04.bib"'
    keys = {e.fields_dict["eprint"].value for e in bibtexparser.parse_string(r.text).entries}
    assert keys == {"2502.00003", "2502.00004", "2502.00005"}
    assert len(rispy.loads(get(url, "/daily.ris", week="2025-W06").text)) == 7
    found = json.loads(get(url, "/search.csl.json", q="speculative decoding").text)
    titles = [i["title"] for i in found]
    assert titles[0] == "Speculative Decoding for Large Language Models"
    assert "Graph Neural Networks for Molecules" not in titles
    two = rispy.loads(get(url, "/search.ris", q="speculative decoding", limit="2").text)
    assert len(two) == 2


def test_bad_export_requests_are_4xx(url: str) -> None:
    assert get(url, "/daily.bib", date="2025-13-45").status_code == 400
    assert get(url, "/daily.bib", sort="sideways").status_code == 400
    assert get(url, "/search.bib").status_code in (400, 422)
    assert get(url, "/search.bib", q="x", limit="100000").status_code in (400, 422)
    assert get(url, "/search.bib", q="x", mode="psychic").status_code == 400


def test_the_paper_page_has_a_cite_control(url: str) -> None:
    page = lxml_html.fromstring(get(url, "/papers/2502.00003").text)
    (cite,) = page.xpath("//details[@id='cite']")
    hrefs = [a.get("href") for a in cite.xpath(".//a")]
    assert hrefs == ["/papers/2502.00003.bib", "/papers/2502.00003.ris", "/papers/2502.00003.csl.json",
                     "/papers/2502.00003.md"]
    shown = cite.xpath(".//pre[@id='bibtex']")[0].text_content()
    assert shown == get(url, "/papers/2502.00003.bib").text  # the same entry, as text
    assert not cite.xpath(".//script")
