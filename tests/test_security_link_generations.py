"""An emailed link is bound to the subscription instance it was made for: after the same row is
unsubscribed and subscribed again, its old unsubscribe and confirmation links answer "expired"
and change nothing, while the new links work. On SQLite and PostgreSQL, over the real SMTP sink."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from digestdata import BASE_URL, DAY, TRENDING, add_papers, later, mail_env, paper, time_passes
from fastapi.testclient import TestClient
from itsdangerous import URLSafeSerializer
from smtp_sink import SmtpSink

from paperfeed.config import Config
from paperfeed.digest.tokens import secret_key
from paperfeed.library import Library
from paperfeed.ratelimit import CONFIRM_MAIL_COOLDOWN
from paperfeed.web.app import create_app


@pytest.fixture
def web(
    smtp: SmtpSink, monkeypatch: pytest.MonkeyPatch, home: Path, database_url: str
) -> Iterator[tuple[TestClient, Library]]:
    mail_env(monkeypatch, smtp.url)
    with Library(Config.from_env(home=home, database_url=database_url)) as lib:
        add_papers(lib, TRENDING)
        with TestClient(create_app(library=lib), base_url="https://testserver", follow_redirects=False) as c:
            yield c, lib


def link(smtp: SmtpSink, email: str, path: str, index: int = -1) -> str:
    text = smtp.recorder.to(email)[index].message.get_body(("plain",)).get_content()
    found = re.search(rf"{re.escape(BASE_URL)}{re.escape(path)}\?token=\S+", text)
    assert found, text
    return found.group(0).removeprefix(BASE_URL)


def csrf_of(page: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]


def subscribe_on_the_web(client: TestClient, email: str) -> None:
    token = csrf_of(client.get("/subscribe").text)
    r = client.post("/subscribe", data={"csrf": token, "email": email, "trending": "on"})
    assert r.status_code == 200, r.text


def one_click(client: TestClient, url: str):  # noqa: ANN201
    return client.post(url, content=b"List-Unsubscribe=One-Click",
                       headers={"Content-Type": "application/x-www-form-urlencoded"})


def test_an_old_unsubscribe_link_does_nothing_after_unsubscribe_and_subscribe_again(
    web: tuple[TestClient, Library], smtp: SmtpSink
) -> None:
    client, lib = web
    row = lib.subscribers.add("ada@example.org", confirmed=True).id
    lib.digests.send(DAY)
    old_unsubscribe = link(smtp, "ada@example.org", "/unsubscribe")
    assert one_click(client, old_unsubscribe).status_code == 200
    assert lib.subscribers.get("ada@example.org").status == "unsubscribed"

    subscribe_on_the_web(client, "ada@example.org")  # the same row, subscribed again
    assert lib.subscribers.get("ada@example.org").id == row
    r = client.post(link(smtp, "ada@example.org", "/subscribe/confirm"))
    assert r.status_code == 200 and "Subscription confirmed" in r.text
    assert lib.subscribers.get("ada@example.org").status == "active"

    for attempt in (one_click(client, old_unsubscribe), client.get(old_unsubscribe)):
        assert attempt.status_code == 410 and "expired" in attempt.text
        assert "nsubscribed" not in attempt.text
    assert lib.subscribers.get("ada@example.org").status == "active"  # still subscribed

    monday = DAY + timedelta(days=3)
    add_papers(lib, [paper(900, "A paper that arrived since", upvotes=50, day=monday)])
    report = lib.digests.send(monday, now=later())  # the next digest carries the new link
    assert report.sent == 1, report
    new_unsubscribe = link(smtp, "ada@example.org", "/unsubscribe")
    assert new_unsubscribe != old_unsubscribe
    assert one_click(client, new_unsubscribe).status_code == 200
    assert lib.subscribers.get("ada@example.org").status == "unsubscribed"


def test_an_old_confirmation_link_does_nothing_after_the_row_starts_again(
    web: tuple[TestClient, Library], smtp: SmtpSink
) -> None:
    client, lib = web
    subscribe_on_the_web(client, "ada@example.org")
    old_confirm = link(smtp, "ada@example.org", "/subscribe/confirm")
    assert client.post(old_confirm).status_code == 200
    lib.digests.send(DAY)
    assert one_click(client, link(smtp, "ada@example.org", "/unsubscribe")).status_code == 200

    time_passes(lib, CONFIRM_MAIL_COOLDOWN.window + timedelta(seconds=1))  # an address gets one
    # confirmation email per cooldown: this request comes after it
    subscribe_on_the_web(client, "ada@example.org")
    assert lib.subscribers.get("ada@example.org").status == "pending"
    r = client.post(old_confirm)
    assert r.status_code == 410 and "expired" in r.text
    assert lib.subscribers.get("ada@example.org").status == "pending"
    assert client.post(link(smtp, "ada@example.org", "/subscribe/confirm")).status_code == 200
    assert lib.subscribers.get("ada@example.org").status == "active"


def test_an_admin_re_adding_an_unsubscribed_address_ends_its_old_links(
    web: tuple[TestClient, Library], smtp: SmtpSink
) -> None:
    client, lib = web
    lib.subscribers.add("ada@example.org", confirmed=True)
    lib.digests.send(DAY)
    old_unsubscribe = link(smtp, "ada@example.org", "/unsubscribe")
    lib.digests.unsubscribe(old_unsubscribe.split("token=")[1])
    lib.subscribers.add("ada@example.org", confirmed=True)  # `paperfeed subscribers add --confirmed`
    assert one_click(client, old_unsubscribe).status_code == 410
    assert lib.subscribers.get("ada@example.org").status == "active"


def test_changing_an_active_subscription_keeps_its_links(
    web: tuple[TestClient, Library], smtp: SmtpSink
) -> None:
    """Digests already delivered keep a working unsubscribe link (RFC 8058) while the
    subscription they were sent for lasts, whatever the admin changes in it."""
    client, lib = web
    lib.subscribers.add("ada@example.org", confirmed=True)
    lib.digests.send(DAY)
    unsubscribe = link(smtp, "ada@example.org", "/unsubscribe")
    lib.subscribers.add("ada@example.org", ["new topic"], confirmed=True)
    assert one_click(client, unsubscribe).status_code == 200
    assert lib.subscribers.get("ada@example.org").status == "unsubscribed"


def test_an_unsubscribe_link_made_before_links_carried_a_generation_still_works(
    web: tuple[TestClient, Library],
) -> None:
    client, lib = web
    sub = lib.subscribers.add("ada@example.org", confirmed=True)
    legacy = URLSafeSerializer(secret_key(lib.config), salt="paperfeed-digest-unsubscribe").dumps(sub.id)
    assert one_click(client, f"/unsubscribe?token={legacy}").status_code == 200
    assert lib.subscribers.get("ada@example.org").status == "unsubscribed"
    lib.subscribers.add("ada@example.org", confirmed=True)
    assert one_click(client, f"/unsubscribe?token={legacy}").status_code == 410
    assert lib.subscribers.get("ada@example.org").status == "active"
