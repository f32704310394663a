"""The search page, its feed and its files take the same parameters (one dependency,
`web/search_params.py`): the same filters give the same papers on all three, and the same bad
values are refused the same way (400 for a bad date or mode; a length over the limit a 400 page,
a 422 JSON body on the feed, plain text on the file)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import feedparser
import pytest
import webdata
from fastapi.testclient import TestClient

import paperfeed
from paperfeed.web.app import create_app

ROUTES = ("/search", "/feeds/search.atom", "/search.csl.json")


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    root: Path = tmp_path_factory.mktemp("search-params")
    with paperfeed.open(root / "home") as lib:
        webdata.build(lib, root / "data")
        yield TestClient(create_app(library=lib))


def ids_of(route: str, text: str) -> list[str]:
    if route == "/search":
        return re.findall(r'<h3><a href="/papers/([^"#]+)">', text)
    if route.startswith("/feeds/"):
        return [e.link.rsplit("/papers/", 1)[1] for e in feedparser.parse(text).entries]
    return [item["number"].removeprefix("arXiv:") for item in json.loads(text)]


@pytest.mark.parametrize("params", [
    {"q": "speculative decoding"},
    {"q": "speculative decoding", "category": "cs.CL"},
    {"q": "speculative", "organization": "example-lab"},
    {"q": "speculative", "since": "2025-02-01", "until": "2025-02-28", "author": "Liskov"},
    {"q": "speculative", "since": " 2025-02-01 ", "mode": "keyword"},  # white space around a value
])
def test_the_same_filters_give_the_same_papers_on_every_route(
    client: TestClient, params: dict[str, str]
) -> None:
    found = {}
    for route in ROUTES:
        r = client.get(route, params=params)
        assert r.status_code == 200, (route, r.text[:300])
        found[route] = ids_of(route, r.text)
    assert found["/search"], params  # each case finds something
    assert found["/search"] == found["/feeds/search.atom"] == found["/search.csl.json"], found


@pytest.mark.parametrize(("params", "said"), [
    ({"q": "x", "since": "yesterday"}, "since must be YYYY-MM-DD"),
    ({"q": "x", "until": "2025-02-30"}, "until"),
    ({"q": "x", "mode": "psychic"}, "mode must be one of"),
])
def test_a_bad_date_or_mode_is_a_400_saying_what_is_wrong_on_every_route(
    client: TestClient, params: dict[str, str], said: str
) -> None:
    for route in ROUTES:
        r = client.get(route, params=params)
        assert r.status_code == 400, (route, r.status_code)
        assert said in r.text, (route, r.text[:300])


@pytest.mark.parametrize("field", ["q", "mode", "since", "until", "category", "organization", "author"])
def test_a_value_over_the_length_limit_is_refused_on_every_route(client: TestClient, field: str) -> None:
    params = {"q": "x", field: "y" * 1001}
    page = client.get("/search", params=params)
    assert page.status_code == 400 and field in page.text and "text/html" in page.headers["content-type"]
    feed = client.get("/feeds/search.atom", params=params)
    assert feed.status_code == 422 and feed.json()["detail"][0]["loc"] == ["query", field]
    file = client.get("/search.csl.json", params=params)
    assert file.status_code == 400 and field in file.text
    assert file.headers["content-type"].startswith("text/plain")


def test_only_the_page_goes_without_a_query(client: TestClient) -> None:
    assert client.get("/search").status_code == 200  # the empty form
    assert client.get("/search", params={"author": "Barbara Liskov"}).status_code == 200
    assert client.get("/feeds/search.atom").status_code == 422
    assert client.get("/feeds/search.atom", params={"q": ""}).status_code == 422
    assert client.get("/search.bib").status_code == 400
    assert client.get("/search.bib", params={"q": ""}).status_code == 400


def test_the_page_links_its_feed_and_files_with_the_same_parameters(client: TestClient) -> None:
    page = client.get("/search", params={"q": "speculative", "category": "cs.CL"}).text
    assert 'href="/feeds/search.atom?q=speculative&amp;category=cs.CL"' in page
