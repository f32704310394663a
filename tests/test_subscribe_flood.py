"""Confirmation emails for subscriptions cannot be used up for an address's owner: a stranger's
requests for someone's address spend the stranger's own allowance for it, an address gets one
email per cooldown and a few a day however many ask, and the owner can still subscribe, with the
choices they made, by the link in any email sent. Only a requester who asked for the address
before is told when its latest link went out. Through the web app with the real SMTP sink
(aiosmtpd), each request from its own client address; the time that passes between requests is
the rate counters' windows moved back."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from digestdata import BASE_URL, from_client, mail_library, time_passes
from fastapi.testclient import TestClient
from smtp_sink import SmtpSink
from webdata import csrf_of

from paperfeed import ratelimit
from paperfeed.library import Library

VICTIM = "ada@example.org"
COOLDOWN = ratelimit.CONFIRM_MAIL_COOLDOWN.window
PER_REQUESTER = ratelimit.CONFIRM_MAILS_PER_ADDRESS.limit
PER_ADDRESS = ratelimit.CONFIRM_MAILS_PER_ADDRESS_ALL.limit
REMINDER = re.compile(
    r"confirmation email sent at\s+(\d{4}-\d\d-\d\d \d\d:\d\d) UTC.*ask for another email after\s+"
    r"(\d{4}-\d\d-\d\d \d\d:\d\d) UTC", re.S,
)


@pytest.fixture
def lib(smtp: SmtpSink, monkeypatch: pytest.MonkeyPatch, home: Path) -> Iterator[Library]:
    yield from mail_library(smtp, monkeypatch, home)


def subscribe(client: TestClient, email: str = VICTIM, topics: str = "", weekly: bool = False) -> str:
    """The answer page's main part (the 200 it must be)."""
    csrf = csrf_of(client.get("/subscribe").text)
    r = client.post("/subscribe", data={"csrf": csrf, "email": email, "topics": topics, "trending": "on",
                                         "frequency": "weekly" if weekly else "weekdays"})
    assert r.status_code == 200, r.text
    return main_of(r.text)


def main_of(page: str) -> str:
    return page[page.index("<main>"):page.index("</main>")]


def confirm_links(smtp: SmtpSink, email: str = VICTIM) -> list[str]:
    texts = [m.message.get_body(("plain",)).get_content() for m in smtp.recorder.to(email)]
    link = re.compile(rf"{re.escape(BASE_URL)}(/subscribe/confirm\?token=\S+)")
    return [m.group(1) for t in texts if (m := link.search(t))]


def confirm(client: TestClient, link: str) -> str:
    page = client.get(link)
    assert page.status_code == 200
    done = client.post(link)
    assert done.status_code == 200 and "Subscription confirmed" in done.text
    return main_of(page.text)


def test_a_strangers_repeated_requests_do_not_lock_the_owner_out(lib: Library, smtp: SmtpSink) -> None:
    attacker = from_client(lib, "203.0.113.7")
    tries = ratelimit.CONFIRM_MAILS_PER_CLIENT.limit  # all one client may post in an hour
    for _ in range(tries):
        subscribe(attacker, topics="casino bonus")
        time_passes(lib, COOLDOWN + timedelta(seconds=1))  # each try after the cooldown
    assert len(smtp.recorder.to(VICTIM)) == PER_REQUESTER  # the stranger's own allowance
    assert lib.subscribers.get(VICTIM).topics == ["casino bonus"]

    ada = from_client(lib, "198.51.100.20")
    subscribe(ada, topics="diffusion models", weekly=True)
    links = confirm_links(smtp)
    assert len(links) == PER_REQUESTER + 1  # her own email went out
    shown = confirm(ada, links[-1])
    assert "diffusion models" in shown and "casino" not in shown and "Weekly" in shown
    sub = lib.subscribers.get(VICTIM)
    assert (sub.status, sub.topics, sub.frequency) == ("active", ["diffusion models"], "weekly")
    # Once active, nobody changes it through the form, and nothing more is sent.
    subscribe(attacker, topics="casino bonus")
    assert lib.subscribers.get(VICTIM).topics == ["diffusion models"]
    assert len(smtp.recorder.to(VICTIM)) == PER_REQUESTER + 1


def test_the_requester_is_told_when_the_link_went_out_and_may_ask_again_after_the_cooldown(
    lib: Library, smtp: SmtpSink
) -> None:
    ada = from_client(lib, "198.51.100.20")
    first = subscribe(ada)
    assert "Check your inbox" in first and not REMINDER.search(first)
    assert len(smtp.recorder.to(VICTIM)) == 1

    again = subscribe(ada)  # at once: no second email, but when the first went out
    found = REMINDER.search(again)
    assert found, again
    sent_at, again_at = (datetime.strptime(t, "%Y-%m-%d %H:%M") for t in found.groups())
    assert again_at - sent_at == COOLDOWN
    assert len(smtp.recorder.to(VICTIM)) == 1

    # Someone else asking for her address meanwhile learns nothing more than the first answer.
    stranger = subscribe(from_client(lib, "203.0.113.7"))
    assert stranger == first
    assert len(smtp.recorder.to(VICTIM)) == 1

    time_passes(lib, COOLDOWN + timedelta(seconds=1))
    resent = subscribe(ada)
    assert resent == first  # another email went out: the plain answer
    links = confirm_links(smtp)
    assert len(links) == 2
    confirm(ada, links[0])  # the earlier link works as well as the latest
    assert lib.subscribers.get(VICTIM).status == "active"


def test_the_answer_does_not_tell_an_active_subscription_from_a_new_address(
    lib: Library, smtp: SmtpSink
) -> None:
    lib.digests.subscribe("grace@example.org", ["compilers"], confirmed=True, admin=True)
    prober = from_client(lib, "203.0.113.9")
    assert subscribe(prober, "grace@example.org", "spam") == subscribe(prober, "new@example.org", "spam")
    assert smtp.recorder.to("grace@example.org") == []  # nothing sent to the active one
    assert lib.subscribers.get("grace@example.org").topics == ["compilers"]
    # Repeated at once, both get the reminder, the active one included: no difference either.
    assert bool(REMINDER.search(subscribe(prober, "grace@example.org"))) == bool(
        REMINDER.search(subscribe(prober, "new@example.org"))
    ) is True


def test_a_flood_from_many_clients_stays_few_emails_and_the_owner_still_subscribes(
    lib: Library, smtp: SmtpSink
) -> None:
    hosts = [f"203.0.113.{i}" for i in range(1, PER_ADDRESS // PER_REQUESTER + 3)]
    for host in hosts:
        attacker = from_client(lib, host)
        for _ in range(PER_REQUESTER + 1):
            subscribe(attacker, topics="casino bonus")
            time_passes(lib, COOLDOWN + timedelta(seconds=1))
    assert len(hosts) * PER_REQUESTER > PER_ADDRESS
    assert len(smtp.recorder.to(VICTIM)) == PER_ADDRESS  # the daily cap, however many ask

    ada = from_client(lib, "198.51.100.20")
    answer = subscribe(ada, topics="diffusion models")
    assert "Check your inbox" in answer and "the link in an earlier one works too" in answer
    assert len(smtp.recorder.to(VICTIM)) == PER_ADDRESS  # no more emails today...
    shown = confirm(ada, confirm_links(smtp)[-1])  # ...but any link sent confirms her choices
    assert "diffusion models" in shown and "casino" not in shown
    sub = lib.subscribers.get(VICTIM)
    assert (sub.status, sub.topics) == ("active", ["diffusion models"])
