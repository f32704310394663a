"""The header offers "Sign up" only when web sign-up is open (a mail server is configured);
when it is closed, the log-in page says to ask the administrator instead."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from digestdata import mail_env
from fastapi.testclient import TestClient
from lxml import html as lxml_html
from smtp_sink import SmtpSink

from paperfeed.config import Config
from paperfeed.library import Library
from paperfeed.web.app import create_app

PAGES = ("/", "/search", "/about", "/login")


def header_links(page: str) -> list[tuple[str, str]]:
    tree = lxml_html.fromstring(page)
    links = tree.xpath('//header//*[contains(concat(" ", @class, " "), " account ")]//a')
    return [(a.get("href"), a.text_content().strip()) for a in links]


@pytest.fixture
def open_client(smtp: SmtpSink, monkeypatch: pytest.MonkeyPatch, home: Path) -> Iterator[TestClient]:
    mail_env(monkeypatch, smtp.url)
    with Library(Config.from_env(home=home)) as lib:
        yield TestClient(create_app(library=lib))


@pytest.fixture
def closed_client(monkeypatch: pytest.MonkeyPatch, home: Path) -> Iterator[TestClient]:
    monkeypatch.delenv("PAPERFEED_SMTP_URL", raising=False)
    with Library(Config.from_env(home=home)) as lib:
        yield TestClient(create_app(library=lib))


def test_with_a_mail_server_the_header_offers_sign_up(open_client: TestClient) -> None:
    for path in PAGES:
        links = header_links(open_client.get(path).text)
        assert ("/signup", "Sign up") in links, (path, links)
        assert any(text == "Log in" for _, text in links)
    login = lxml_html.fromstring(open_client.get("/login").text)
    assert "No account yet? Sign up." in login.xpath("//main")[0].text_content()


def test_without_one_the_header_has_no_sign_up_and_the_log_in_page_says_whom_to_ask(
    closed_client: TestClient,
) -> None:
    for path in PAGES:
        page = closed_client.get(path).text
        links = header_links(page)
        assert any(text == "Log in" for _, text in links), (path, links)
        assert not any(href.startswith("/signup") for href, _ in links), (path, links)
        assert 'href="/signup' not in page, path  # nowhere on the page
    login = lxml_html.fromstring(closed_client.get("/login").text).xpath("//main")[0].text_content()
    assert "Ask the administrator of this instance" in login
    closed = closed_client.get("/signup")  # typed in by hand: says sign-up is closed
    assert closed.status_code == 200 and "Sign-up is closed" in closed.text
