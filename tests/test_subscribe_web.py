"""Subscribing on the web: the form, the double opt-in email and its link, and RFC 8058
one-click unsubscribe from a digest's headers (POST, no login) and from its body (GET)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from digestdata import BASE_URL, DAY, TRENDING, add_papers, mail_env
from fastapi.testclient import TestClient
from smtp_sink import SmtpSink
from webdata import csrf_of

import paperfeed
from paperfeed.library import Library
from paperfeed.web.app import create_app


@pytest.fixture
def web(home: Path, smtp: SmtpSink, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[TestClient, Library]]:
    mail_env(monkeypatch, smtp.url)
    with paperfeed.open(home) as lib:
        add_papers(lib, TRENDING)
        # https: the CSRF cookie is Secure when PAPERFEED_BASE_URL is https.
        app = create_app(library=lib)
        with TestClient(app, base_url="https://testserver", follow_redirects=False) as client:
            yield client, lib


def local(url: str) -> str:
    assert url.startswith(BASE_URL)
    return url.removeprefix(BASE_URL)


def subscribe(client: TestClient, email: str, topics: str = "") -> str:
    form = client.get("/subscribe").text
    r = client.post("/subscribe", data={
        "csrf": csrf_of(form), "email": email, "topics": topics, "trending": "on", "frequency": "weekdays",
    })
    assert r.status_code == 200, r.text
    return r.text


def test_subscribing_sends_a_confirmation_and_its_link_activates_the_subscription(
    web: tuple[TestClient, Library], smtp: SmtpSink
) -> None:
    client, lib = web
    page = subscribe(client, "ada@example.org", "diffusion models\n<b>RLHF</b>\n")
    assert "Check your inbox" in page
    assert lib.subscribers.get("ada@example.org").status == "pending"
    assert lib.digests.send(DAY).composed == 0  # nothing before the confirmation

    [mail] = smtp.recorder.to("ada@example.org")
    text = mail.message.get_body(("plain",)).get_content()
    assert "diffusion models; <b>RLHF</b>" in text
    assert "&lt;b&gt;RLHF&lt;/b&gt;" in mail.message.get_body(("html",)).get_content()
    link = re.search(rf"{re.escape(BASE_URL)}/subscribe/confirm\?token=\S+", text).group(0)  # type: ignore[union-attr]
    assert client.get(local(link)).status_code == 200  # a page with a button: nothing changes yet
    assert lib.subscribers.get("ada@example.org").status == "pending"
    r = client.post(local(link))
    assert r.status_code == 200 and "Subscription confirmed" in r.text
    sub = lib.subscribers.get("ada@example.org")
    assert (sub.status, sub.topics) == ("active", ["diffusion models", "<b>RLHF</b>"])
    assert lib.digests.send(DAY).sent == 1


def test_the_form_needs_its_csrf_token_and_a_valid_address(
    web: tuple[TestClient, Library], smtp: SmtpSink
) -> None:
    client, lib = web
    r = client.post("/subscribe", data={"email": "ada@example.org", "csrf": "forged"})
    assert r.status_code == 400
    form = client.get("/subscribe").text
    injected = "ada@example.org\r\nBcc: x@example.org"
    r = client.post("/subscribe", data={"csrf": csrf_of(form), "email": injected})
    assert r.status_code == 400 and "line breaks" in r.text
    assert lib.subscribers.list() == [] and smtp.recorder.count() == 0


def test_an_active_subscription_cannot_be_changed_by_its_address_alone(
    web: tuple[TestClient, Library], smtp: SmtpSink
) -> None:
    client, lib = web
    lib.subscribers.add("ada@example.org", ["mine"], confirmed=True)
    page = subscribe(client, "ada@example.org", "spam")
    assert "Check your inbox" in page  # the same answer: no way to learn who subscribed
    assert lib.subscribers.get("ada@example.org").topics == ["mine"]
    assert smtp.recorder.count() == 0


def test_one_click_unsubscribe_is_a_post_to_the_list_unsubscribe_url(
    web: tuple[TestClient, Library], smtp: SmtpSink
) -> None:
    client, lib = web
    lib.subscribers.add("ada@example.org", confirmed=True)
    lib.digests.send(DAY)
    msg = smtp.recorder.to("ada@example.org")[0].message
    url = re.search(r"<(https://[^>]+)>", msg["List-Unsubscribe"]).group(1)  # type: ignore[union-attr]
    # What a mail client does (RFC 8058): POST the body, no cookies, no CSRF token.
    r = client.post(local(url), content=b"List-Unsubscribe=One-Click",
                    headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 200
    assert lib.subscribers.get("ada@example.org").status == "unsubscribed"
    assert lib.digests.send(DAY.replace(day=23)).composed == 0


def test_the_body_link_page_unsubscribes_too_and_bad_tokens_are_400(
    web: tuple[TestClient, Library], smtp: SmtpSink
) -> None:
    client, lib = web
    lib.subscribers.add("ada@example.org", confirmed=True)
    lib.digests.send(DAY)
    text = smtp.recorder.to("ada@example.org")[0].message.get_body(("plain",)).get_content()
    url = re.search(rf"{re.escape(BASE_URL)}/unsubscribe\?token=\S+", text).group(0)  # type: ignore[union-attr]
    r = client.post(local(url))  # the button of the page the link opens
    assert r.status_code == 200 and "Unsubscribed" in r.text and "ada@example.org" in r.text
    assert lib.subscribers.get("ada@example.org").status == "unsubscribed"
    assert client.post(local(url)).status_code == 200  # idempotent

    assert client.post("/unsubscribe?token=forged").status_code == 400
    assert client.get("/unsubscribe").status_code == 400
    confirm_as_unsubscribe = url.replace("/unsubscribe?", "/subscribe/confirm?")
    assert client.get(local(confirm_as_unsubscribe)).status_code == 400  # tokens are per purpose
