"""Links in emails: opening one (GET, or HEAD as mail scanners do) changes nothing and shows a
button; the button or an RFC 8058 one-click POST acts; a link outliving its subscription acts on
nothing and says so."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from digestdata import BASE_URL, DAY, TRENDING, add_papers, mail_env
from fastapi.testclient import TestClient
from smtp_sink import SmtpSink

import paperfeed
from paperfeed.library import Library
from paperfeed.web.app import create_app


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    sink = SmtpSink().start()
    yield sink
    sink.stop()


@pytest.fixture
def web(home: Path, smtp: SmtpSink, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[TestClient, Library]]:
    mail_env(monkeypatch, smtp.url)
    with paperfeed.open(home) as lib:
        add_papers(lib, TRENDING)
        with TestClient(create_app(library=lib), base_url="https://testserver", follow_redirects=False) as c:
            yield c, lib


def local(url: str) -> str:
    assert url.startswith(BASE_URL)
    return url.removeprefix(BASE_URL)


def body_link(smtp: SmtpSink, email: str, path: str, index: int = -1) -> str:
    text = smtp.recorder.to(email)[index].message.get_body(("plain",)).get_content()
    return local(re.search(rf"{re.escape(BASE_URL)}{re.escape(path)}\?token=\S+", text).group(0))  # type: ignore[union-attr]


def form_of(page: str) -> tuple[str, dict[str, str]]:
    """The page's POST form: its action and hidden fields (what pressing its button sends)."""
    form = re.search(r'<form[^>]*method="post"[^>]*action="([^"]+)"[^>]*>(.*?)</form>', page, re.S)
    assert form, page
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form.group(2)))
    return form.group(1).replace("&amp;", "&"), fields


def test_opening_an_unsubscribe_link_changes_nothing_and_its_button_unsubscribes(
    web: tuple[TestClient, Library], smtp: SmtpSink
) -> None:
    client, lib = web
    lib.subscribers.add("ada@example.org", confirmed=True)
    lib.digests.send(DAY)
    link = body_link(smtp, "ada@example.org", "/unsubscribe")
    assert client.head(link).status_code == 200
    page = client.get(link)
    assert page.status_code == 200 and '<button type="submit" class="primary">' in page.text
    assert lib.subscribers.get("ada@example.org").status == "active"  # a scanner's visit did nothing
    action, fields = form_of(page.text)
    r = client.post(action, data=fields)
    assert r.status_code == 200 and "Unsubscribed" in r.text
    assert lib.subscribers.get("ada@example.org").status == "unsubscribed"


def test_opening_a_confirmation_link_changes_nothing_and_its_button_confirms(
    web: tuple[TestClient, Library], smtp: SmtpSink
) -> None:
    client, lib = web
    lib.digests.subscribe("ada@example.org", ["diffusion"])
    link = body_link(smtp, "ada@example.org", "/subscribe/confirm")
    client.head(link)
    page = client.get(link)
    assert page.status_code == 200 and '<button type="submit" class="primary">' in page.text
    assert lib.subscribers.get("ada@example.org").status == "pending"
    action, fields = form_of(page.text)
    r = client.post(action, data=fields)
    assert r.status_code == 200 and "Subscription confirmed" in r.text
    assert lib.subscribers.get("ada@example.org").status == "active"


def test_an_old_link_acts_on_nothing_after_remove_and_re_add(
    web: tuple[TestClient, Library], smtp: SmtpSink
) -> None:
    client, lib = web
    lib.subscribers.add("ada@example.org", confirmed=True)
    lib.digests.send(DAY)
    old = body_link(smtp, "ada@example.org", "/unsubscribe")
    lib.subscribers.remove("ada@example.org")
    lib.subscribers.add("ada@example.org", confirmed=True)
    one_click = client.post(old, content=b"List-Unsubscribe=One-Click",
                            headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert one_click.status_code == 410
    assert "nsubscribed" not in one_click.text and "expired" in one_click.text
    page = client.get(old)
    assert page.status_code == 410 and "expired" in page.text
    assert '<button type="submit" class="primary">' not in page.text
    assert lib.subscribers.get("ada@example.org").status == "active"
