"""Rate limits on what a stranger can make the server do: confirmation emails per address and per
client, sign-ups per client. Counted in the database (all workers share them); mails counted as
the real SMTP sink receives them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from digestdata import mail_env
from fastapi.testclient import TestClient
from smtp_sink import SmtpSink
from webdata import csrf_of

import paperfeed
from paperfeed import ratelimit
from paperfeed.library import Library
from paperfeed.web.app import create_app


@pytest.fixture
def web(home: Path, smtp: SmtpSink, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[TestClient, Library]]:
    mail_env(monkeypatch, smtp.url)
    with paperfeed.open(home) as lib, TestClient(
        create_app(library=lib), base_url="https://testserver", follow_redirects=False
    ) as c:
        yield c, lib


def post_subscribe(client: TestClient, email: str) -> int:
    token = csrf_of(client.get("/subscribe").text)
    return client.post("/subscribe", data={"csrf": token, "email": email, "trending": "on"}).status_code


def test_one_address_gets_one_confirmation_email_however_often_it_is_posted_at_once(
    web: tuple[TestClient, Library], smtp: SmtpSink
) -> None:
    client, lib = web
    tries = ratelimit.CONFIRM_MAILS_PER_CLIENT.limit
    statuses = [post_subscribe(client, "ada@example.org") for _ in range(tries)]
    assert statuses == [200] * tries  # nothing to learn about the address
    assert smtp.recorder.count() == 1  # one per cooldown (tests/test_subscribe_flood.py)
    assert len(smtp.recorder.to("ada@example.org")) == 1


def test_one_client_cannot_send_confirmations_to_many_addresses(
    web: tuple[TestClient, Library], smtp: SmtpSink
) -> None:
    client, lib = web
    limit = ratelimit.CONFIRM_MAILS_PER_CLIENT.limit
    statuses = [post_subscribe(client, f"victim{i}@example.org") for i in range(limit + 5)]
    assert statuses[:limit] == [200] * limit
    assert statuses[limit:] == [429] * 5
    assert smtp.recorder.count() == limit


def test_one_client_cannot_sign_up_in_a_loop(web: tuple[TestClient, Library], smtp: SmtpSink) -> None:
    client, lib = web
    limit = ratelimit.SIGNUPS_PER_CLIENT.limit
    statuses = []
    for i in range(limit + 3):
        client.cookies.clear()
        token = csrf_of(client.get("/signup").text)
        r = client.post("/signup", data={"csrf": token, "email": f"bot{i}@example.org",
                                         "password": "long enough pw"})
        statuses.append(r.status_code)
    assert statuses == [200] * limit + [429] * 3
    assert smtp.recorder.count() == limit  # one sign-up link each, none for the refused
    assert lib.accounts.users() == []  # and no account until a link is used


def test_the_limits_are_shared_through_the_database(home: Path) -> None:
    rule = ratelimit.Rule("test", 2, ratelimit.timedelta(hours=1), "slow down")
    with paperfeed.open(home) as one, paperfeed.open(home) as two:
        assert ratelimit.RateLimiter(one.store.db).allow(rule, "k")
        assert ratelimit.RateLimiter(two.store.db).allow(rule, "k")
        assert not ratelimit.RateLimiter(one.store.db).allow(rule, "k")
        assert ratelimit.RateLimiter(two.store.db).allow(rule, "other")
