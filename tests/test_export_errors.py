"""A client that asked for a file (`/papers/{id}.bib`, `.md`, `/search.ris`, `/daily.bib`,
`/library/export`) gets its errors as plain text saying what was not found or what is wrong, not
an HTML page; the JSON API's collection export answers JSON naming the collection."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import webdata
from fastapi.testclient import TestClient
from signin import log_in_new

import paperfeed
from paperfeed.web.app import create_app


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    root: Path = tmp_path_factory.mktemp("export-errors")
    with paperfeed.open(root / "home") as lib:
        webdata.build(lib, root / "data")
        yield TestClient(create_app(library=lib), follow_redirects=False)


def plain(r) -> str:  # type: ignore[no-untyped-def]
    assert r.headers["content-type"].startswith("text/plain"), r.headers["content-type"]
    assert "<html" not in r.text.lower()
    return r.text


@pytest.mark.parametrize("ext", ["bib", "ris", "csl.json", "json", "md"])
def test_an_unknown_papers_file_is_a_plain_404_naming_it(client: TestClient, ext: str) -> None:
    r = client.get(f"/papers/2502.99999.{ext}")
    assert r.status_code == 404
    assert plain(r) == "no such paper: 2502.99999\n"
    assert client.get(f"/papers/2502.00004.{ext}").status_code == 200  # a known one is a file


def test_the_paper_page_of_an_unknown_paper_stays_an_html_page(client: TestClient) -> None:
    r = client.get("/papers/2502.99999")
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")


def test_bad_parameters_of_files_are_plain_400s(client: TestClient) -> None:
    for url, said in [
        ("/daily.bib?date=2025-13-45", "date"),
        ("/daily.ris?sort=sideways", "sort must be upvotes or trending"),
        ("/search.bib?q=x&mode=psychic", "mode must be one of"),
        ("/search.csl.json?q=x&limit=100000", "limit"),
        ("/search.ris", "q"),
    ]:
        r = client.get(url)
        assert r.status_code == 400, url
        assert said in plain(r), (url, r.text)


def test_control_characters_in_the_id_do_not_reach_the_terminal(client: TestClient) -> None:
    r = client.get("/papers/%1b%5d0%3bpwned%07%1b%5b31mred.bib")
    assert r.status_code == 404
    text = plain(r)
    assert "\x1b" not in text and "\x07" not in text and text.startswith("no such paper: ")


def test_an_unknown_collection_export_names_it(client: TestClient) -> None:
    log_in_new(client, "reader@example.org")
    page = client.get("/library/export", params={"collection_id": "nosuch123"})
    assert page.status_code == 404
    assert plain(page) == "no such collection: nosuch123\n"
    assert client.get("/library/export", params={"format": "bogus"}).status_code == 400
    api = client.get("/api/library/export", params={"collection_id": "nosuch123"})
    assert api.status_code == 404 and api.json()["error"] == "no such collection: nosuch123"
    assert client.get("/library/export").status_code == 200  # the whole library is a file
