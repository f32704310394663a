"""Pages that need mail on an instance without it: visitors learn that digests are not available
and that sign-up is closed (accounts are made by the administrator), with no form to fill and no
operator details; an admin sees what to configure."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from webdata import csrf_of

from paperfeed.library import Library
from paperfeed.web.app import create_app


@pytest.fixture
def client(lib: Library, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.delenv("PAPERFEED_SMTP_URL", raising=False)
    assert not lib.config.smtp_url
    with TestClient(create_app(library=lib), follow_redirects=False) as c:
        yield c


def test_visitors_are_told_digests_are_not_available(client: TestClient) -> None:
    page = client.get("/subscribe").text
    assert "not available on this instance" in page
    assert "PAPERFEED_SMTP_URL" not in page and "SMTP" not in page
    assert 'action="/subscribe"' not in page
    token = csrf_of(client.get("/login").text)
    r = client.post("/subscribe", data={"csrf": token, "email": "ada@example.org"})
    assert "not available on this instance" in r.text and "SMTP" not in r.text


def test_sign_up_is_closed_and_says_who_makes_accounts(client: TestClient, lib: Library) -> None:
    page = client.get("/signup").text
    assert "Sign-up is closed" in page and "administrator" in page
    assert 'action="/signup"' not in page and "paperfeed users add" not in page and "SMTP" not in page
    assert "Ask the administrator" in client.get("/login").text
    token = csrf_of(client.get("/login").text)
    r = client.post("/signup", data={"csrf": token, "email": "ada@example.org", "password": "correct horse"})
    assert r.status_code == 503 and "Sign-up is closed" in r.text
    assert lib.accounts.users() == [] and "pf_session" not in client.cookies
    lib.accounts.signup("admin@example.org", "correct horse", admin=True)
    r = client.post("/login", data={"csrf": token, "email": "admin@example.org", "password": "correct horse"})
    assert r.status_code == 303
    page = client.get("/signup").text
    assert "paperfeed users add" in page and "PAPERFEED_SMTP_URL" in page


def test_an_admin_sees_what_to_configure(client: TestClient, lib: Library) -> None:
    lib.accounts.signup("admin@example.org", "correct horse", admin=True)
    token = csrf_of(client.get("/login").text)
    r = client.post("/login", data={"csrf": token, "email": "admin@example.org", "password": "correct horse"})
    assert r.status_code == 303
    page = client.get("/subscribe").text
    assert "not available on this instance" in page and "PAPERFEED_SMTP_URL" in page
