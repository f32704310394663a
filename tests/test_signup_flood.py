"""Sign-up emails to one address are limited per requester first: a stranger repeating sign-ups
for someone's address (from one address, or one IPv6 /64) uses up their own allowance for it, so
the owner can still sign up, while the emails any flood sends to the address stay few. Through
the web app with the real SMTP sink, each request from its own client address."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from digestdata import BASE_URL, from_client, mail_library
from fastapi.testclient import TestClient
from smtp_sink import SmtpSink

from paperfeed import ratelimit
from paperfeed.library import Library

VICTIM = "ada@example.org"
PASSWORD = "ada's own password"


@pytest.fixture
def lib(smtp: SmtpSink, monkeypatch: pytest.MonkeyPatch, home: Path) -> Iterator[Library]:
    yield from mail_library(smtp, monkeypatch, home)


def sign_up(client: TestClient, email: str, password: str) -> int:
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/signup").text).group(1)  # type: ignore[union-attr]
    return client.post("/signup", data={"csrf": csrf, "email": email, "password": password}).status_code


def links_to(smtp: SmtpSink, email: str) -> list[str]:
    texts = [m.message.get_body(("plain",)).get_content() for m in smtp.recorder.to(email)]
    link = re.compile(rf"{re.escape(BASE_URL)}(/signup/verify\?token=\S+)")
    return [m.group(1) for t in texts if (m := link.search(t))]


def test_a_strangers_repeated_sign_ups_do_not_lock_the_owner_out(lib: Library, smtp: SmtpSink) -> None:
    attacker = from_client(lib, "203.0.113.7")
    tries = ratelimit.SIGNUPS_PER_CLIENT.limit  # as many as one client may post in an hour
    assert [sign_up(attacker, VICTIM, "attacker's password") for _ in range(tries)] == [200] * tries
    per_requester = ratelimit.SIGNUP_MAILS_PER_ADDRESS.limit
    assert len(smtp.recorder.to(VICTIM)) == per_requester  # the flood reached the inbox a few times

    ada = from_client(lib, "198.51.100.20")
    assert sign_up(ada, VICTIM, PASSWORD) == 200
    links = links_to(smtp, VICTIM)
    assert len(links) == per_requester + 1  # her own link was sent
    page = ada.get(links[-1])
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    done = ada.post(links[-1], data={"csrf": csrf, "password": PASSWORD})
    assert done.status_code == 303 and "pf_session" in ada.cookies
    assert lib.accounts.login(VICTIM, PASSWORD)
    assert all(ada.get(link).status_code == 410 for link in links[:-1])  # the stranger's are spent


def test_the_flood_from_many_clients_stays_limited(lib: Library, smtp: SmtpSink) -> None:
    cap = ratelimit.SIGNUP_MAILS_PER_ADDRESS_ALL.limit
    per_requester = ratelimit.SIGNUP_MAILS_PER_ADDRESS.limit
    hosts = [f"203.0.113.{i}" for i in range(1, cap // per_requester + 3)]
    for host in hosts:
        client = from_client(lib, host)
        assert [sign_up(client, VICTIM, "attacker's password") for _ in range(per_requester + 2)] == [200] * (
            per_requester + 2
        )  # the same answer every time: nothing tells the flood it stopped
    assert len(hosts) * per_requester > cap
    assert len(smtp.recorder.to(VICTIM)) == cap


def test_one_ipv6_network_is_one_requester(lib: Library, smtp: SmtpSink) -> None:
    per_requester = ratelimit.SIGNUP_MAILS_PER_ADDRESS.limit
    for i in range(per_requester + 3):  # a fresh address of one /64 each time
        assert sign_up(from_client(lib, f"2001:db8:1:2::{i + 1:x}"), VICTIM, "attacker's pw") == 200
    assert len(smtp.recorder.to(VICTIM)) == per_requester
    assert sign_up(from_client(lib, "2001:db8:1:3::1"), VICTIM, PASSWORD) == 200  # another network
    assert len(smtp.recorder.to(VICTIM)) == per_requester + 1


@pytest.mark.parametrize(("host", "key"), [
    ("203.0.113.7", "203.0.113.7"),
    ("2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64"),
    ("2001:DB8:1:2::1", "2001:db8:1:2::/64"),
    ("::ffff:198.51.100.4", "198.51.100.4"),
    ("testclient", "testclient"),
    ("", ""),
])
def test_client_keys(host: str, key: str) -> None:
    assert ratelimit.client_key(host) == key
