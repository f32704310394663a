"""Feeds with hostile paper text, read by the real `feedparser`: RSS carries HTML inside XML, so
readers decode one level as HTML; the text must come out as text, never as elements."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import feedparser
import lxml.html
import pytest
import webdata
from fastapi.testclient import TestClient

from paperfeed.library import Library
from paperfeed.web.app import create_app


@pytest.fixture
def client(lib: Library, tmp_path: Path) -> Iterator[TestClient]:
    webdata.build(lib, tmp_path / "data")
    with TestClient(create_app(library=lib)) as c:
        yield c


def _as_html(value: str) -> lxml.html.HtmlElement:
    return lxml.html.fragment_fromstring(value, create_parent="div")


def _hostile(entries: list) -> dict:
    return next(e for e in entries if "2502.00003" in e.link)


def test_rss_titles_and_descriptions_reach_readers_as_text(client: TestClient) -> None:
    search = "/feeds/search.rss?q=<img src=x onerror=alert(1)> attention"
    for url in ("/feeds/daily.rss?date=2025-02-04", search):
        feed = feedparser.parse(client.get(url).content)
        entry = _hostile(feed.entries)
        for value, original in ((entry.title, webdata.XSS_TITLE), (entry.summary, webdata.XSS_ABSTRACT)):
            tree = _as_html(value)  # what a reader does with RSS text
            assert tree.findall(".//img") == [] and tree.findall(".//script") == [], value
            assert len(tree) == 0, value  # no element at all
            assert tree.text_content() == original
        channel = _as_html(feed.feed.title)
        assert len(channel) == 0


def test_atom_stays_plain_text(client: TestClient) -> None:
    feed = feedparser.parse(client.get("/feeds/daily.atom?date=2025-02-04").content)
    entry = _hostile(feed.entries)
    assert entry.title_detail.type == "text/plain"
    assert entry.title == webdata.XSS_TITLE
