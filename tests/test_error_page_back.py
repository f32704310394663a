"""A refused form post (a duplicate collection name, say) lands on an error page that leads back
to the page of the form, not only to the front page; a Referer from another site is not a way
back."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from lxml import html as lxml_html
from signin import log_in_new

import paperfeed
from paperfeed.web.app import create_app


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with paperfeed.open(tmp_path / "home") as lib:
        yield TestClient(create_app(library=lib), follow_redirects=False)


def back_link(page: str) -> str | None:
    found = lxml_html.fromstring(page).xpath('//main//a[@id="back"]')
    return found[0].get("href") if found else None


def test_a_refused_rename_leads_back_to_the_collection(client: TestClient) -> None:
    log_in_new(client, "reader@example.org")
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/library").text).group(1)  # type: ignore[union-attr]
    for name in ("Reading", "Later"):
        assert client.post("/library/collections", data={"csrf": csrf, "name": name}).status_code == 303
    lib = client.app.state.library  # type: ignore[attr-defined]
    user = lib.accounts.users()[0]
    later = next(c for c in lib.collections(user) if c.name == "Later")
    page = f"/library/c/{later.id}"
    r = client.post(f"{page}/rename", data={"csrf": csrf, "name": "Reading"},
                    headers={"referer": f"http://testserver{page}?sort=added"})
    assert r.status_code == 400
    assert back_link(r.text) == f"{page}?sort=added"
    assert "Back to the daily papers" in r.text


@pytest.mark.parametrize("referer", ["https://evil.example/library", "javascript:alert(1)", "", "not a url"])
def test_only_a_page_of_this_site_is_a_way_back(client: TestClient, referer: str) -> None:
    r = client.get("/daily?date=2025-13-45", headers={"referer": referer})
    assert r.status_code == 400
    assert back_link(r.text) is None
