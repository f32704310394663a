"""The head of a paper page as reference managers and search engines read it: Highwire /
Google Scholar `citation_*` meta tags (parsed with lxml), schema.org JSON-LD and OpenGraph (read
with the real `extruct`), and feed autodiscovery on listing and search pages."""

from __future__ import annotations

from collections.abc import Iterator

import extruct
import httpx
import pytest
import webdata
from lxml import html as lxml_html

from paperfeed.records import Author, Paper

HOSTILE = Paper(
    id="2503.00001",
    title='Breaking </script><script>alert(1)</script> "quotes" & <!-- comments',
    abstract="An abstract with </script> and <b>tags</b>.",
    authors=[Author(name='Eve "</script>" Mallory'), Author(name="Ada Lovelace")],
    sources=["test"],
)


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with webdata.served(tmp_path_factory.mktemp("meta"), HOSTILE) as base:
        yield base


def page(url: str, path: str) -> tuple[str, lxml_html.HtmlElement]:
    r = httpx.get(url + path, timeout=30)
    assert r.status_code == 200
    return r.text, lxml_html.fromstring(r.text)


def metas(doc: lxml_html.HtmlElement, name: str) -> list[str]:
    return [m.get("content") for m in doc.xpath("//head/meta[@name=$n]", n=name)]


def test_highwire_tags_of_an_arxiv_paper_with_a_journal(url: str) -> None:
    _, doc = page(url, "/papers/2501.09999")
    assert metas(doc, "citation_title") == ["Language Model Decoding Strategies Revisited"]
    assert metas(doc, "citation_author") == ["Barbara Liskov"]
    assert metas(doc, "citation_publication_date") == ["2025/01/17"]
    assert metas(doc, "citation_arxiv_id") == ["2501.09999"]
    assert metas(doc, "citation_pdf_url") == ["https://arxiv.org/pdf/2501.09999"]
    assert metas(doc, "citation_doi") == ["10.1234/example.5678"]
    assert metas(doc, "citation_journal_title") == ["Journal of Decoding"]


def test_one_author_tag_per_author_in_order_and_no_journal_when_unknown(url: str) -> None:
    _, doc = page(url, "/papers/2502.00004")
    assert metas(doc, "citation_author") == ["Alan Turing", "Barbara Liskov"]
    assert metas(doc, "citation_publication_date") == ["2025/02/04"]
    assert metas(doc, "citation_journal_title") == []
    # webdata's HF items carry no DOI: arXiv's own DOI is no citation_doi of the page
    assert metas(doc, "citation_doi") == []


def test_json_ld_and_opengraph_read_by_extruct(url: str) -> None:
    text, _ = page(url, "/papers/2502.00004")
    data = extruct.extract(text, base_url=url + "/papers/2502.00004", syntaxes=["json-ld", "opengraph"],
                           uniform=True)
    (article,) = data["json-ld"]
    assert article["@type"] == "ScholarlyArticle"
    assert article["headline"] == "Speculative Decoding for Large Language Models"
    assert [a["name"] for a in article["author"]] == ["Alan Turing", "Barbara Liskov"]
    assert article["datePublished"] == "2025-02-04"
    assert article["sameAs"] == "https://arxiv.org/abs/2502.00004"
    assert article["url"] == url + "/papers/2502.00004"
    (og,) = data["opengraph"]
    assert og["og:title"] == "Speculative Decoding for Large Language Models"
    assert og["@type"] == "article"  # extruct's uniform form of og:type
    assert og["og:url"] == url + "/papers/2502.00004"
    assert og["og:image"] == webdata.THUMBNAIL
    assert og["og:description"].startswith("Speculative decoding speeds up")
    (raw,) = extruct.extract(text, syntaxes=["opengraph"])["opengraph"]
    assert [v for k, v in raw["properties"] if k == "article:author"] == ["Alan Turing", "Barbara Liskov"]


def test_hostile_text_cannot_leave_the_json_ld_or_the_attributes(url: str) -> None:
    text, doc = page(url, f"/papers/{HOSTILE.id}")
    assert "alert(1)</script>" not in text and "<script>alert" not in text
    scripts = doc.xpath("//script")
    assert [s.get("type") for s in scripts if not s.get("src")] == ["application/ld+json"]
    data = extruct.extract(text, syntaxes=["json-ld", "opengraph"], uniform=True)
    (article,) = data["json-ld"]
    assert article["headline"] == HOSTILE.title
    assert article["abstract"] == HOSTILE.abstract
    assert [a["name"] for a in article["author"]] == [a.name for a in HOSTILE.authors]
    assert "datePublished" not in article  # undated
    assert metas(doc, "citation_title") == [HOSTILE.title]
    assert metas(doc, "citation_author") == [a.name for a in HOSTILE.authors]
    assert metas(doc, "citation_publication_date") == []
    assert data["opengraph"][0]["og:title"] == HOSTILE.title


def alternates(doc: lxml_html.HtmlElement) -> list[str]:
    return [x.get("href") for x in doc.xpath("//head/link[@rel='alternate'][@type='application/atom+xml']")]


@pytest.mark.parametrize("path", ["/", "/daily?date=2025-02-04", "/trending", "/undated", "/search",
                                  "/authors/Alan%20Turing", "/organizations/example-lab",
                                  "/papers/2502.00004"])
def test_every_page_announces_the_feeds(url: str, path: str) -> None:
    _, doc = page(url, path)
    assert {"/feeds/daily.atom", "/feeds/trending.atom"} <= set(alternates(doc))


def test_period_and_search_pages_announce_their_own_feed(url: str) -> None:
    _, doc = page(url, "/daily?week=2025-W06")
    assert "/feeds/daily.atom?week=2025-W06" in alternates(doc)
    _, doc = page(url, "/search?q=speculative+decoding&author=Alan+Turing")
    own = [h for h in alternates(doc) if h.startswith("/feeds/search.atom")]
    assert own == ["/feeds/search.atom?q=speculative+decoding&author=Alan+Turing"]
    feed = httpx.get(url + own[0], timeout=30)
    assert feed.status_code == 200 and feed.headers["content-type"].startswith("application/atom+xml")
