"""The digest's For you sections, delivered to a real SMTP server (aiosmtpd on loopback): a
section per collection the subscriber's account chose (on the Library page), each paper with
its reasons; nothing saved, dismissed or already sent; the papers recorded as sent with the
outbox row, so a rerun or the next day's digest never repeats them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from digestdata import DAY, add_papers, later, mail_env, paper
from fastapi.testclient import TestClient
from librarydata import SAMPLE_DIR, only_on, page_ids
from smtp_sink import SmtpSink

import paperfeed
from paperfeed.library import Library
from paperfeed.web.app import create_app

EMAIL = "ada@example.org"


@pytest.fixture
def mail_lib(home: Path, smtp: SmtpSink, monkeypatch: pytest.MonkeyPatch) -> Iterator[Library]:
    mail_env(monkeypatch, smtp.url)
    with paperfeed.open(home) as lib:
        lib.import_files(sorted(SAMPLE_DIR.glob("*.txt")))
        yield lib


def choose_on_the_web(lib: Library, names: list[str]) -> None:
    """The reader ticks collections in the Library page's digest form (signed in, with CSRF)."""
    # https: PAPERFEED_BASE_URL is, so the cookies are Secure
    client = TestClient(create_app(library=lib), follow_redirects=False, base_url="https://testserver")
    page = client.get("/login").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    r = client.post("/login", data={"csrf": csrf, "email": EMAIL, "password": "correct horse"})
    assert r.status_code == 303, re.findall(r"class=\"error\">([^<]*)", r.text)
    library_page = client.get("/library").text
    assert 'action="/library/digest"' in library_page
    csrf = re.search(r'name="csrf" value="([^"]+)"', library_page).group(1)  # type: ignore[union-attr]
    ids = [c.id for c in lib.collections(EMAIL) if c.name in names]
    body = [("csrf", csrf)] + [("collection_id", cid) for cid in ids]
    r = client.post("/library/digest", content="&".join(f"{k}={v}" for k, v in body),
                    headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 303
    assert sorted(lib.personal.settings.digest_collections(lib.user_of(EMAIL).id)) == sorted(ids)


def arrive(lib: Library, ids: list[str] | None = None, ago: timedelta = -timedelta(seconds=30)) -> None:
    """These papers (default: all) arrive now, after the subscription began: the new papers a
    digest's For you sections are drawn from (SQLite store). With `ago`, that long ago."""
    stamp = (datetime.now(UTC) - ago).isoformat(timespec="seconds")
    ids = ids if ids is not None else [r[0] for r in lib.store.db.query("SELECT id FROM papers")]
    with lib.store.db.transaction() as tx:
        for pid in ids:
            tx.execute("UPDATE papers SET added_at = ? WHERE id = ?", (stamp, pid))


def plain(message: EmailMessage) -> str:
    return message.get_body(("plain",)).get_content().replace("\r\n", "\n")  # type: ignore[union-attr]


def sections(text: str) -> dict[str, str]:
    parts = re.split(r"^== (.+) ==$", text, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def test_a_for_you_section_per_chosen_collection_exactly_once(mail_lib: Library, smtp: SmtpSink) -> None:
    lib = mail_lib
    lib.accounts.signup(EMAIL, "correct horse")
    a, b = page_ids()
    for pid in only_on(a, b)[:5]:
        lib.library_add(pid, "Optimisers", EMAIL)
    for pid in only_on(b, a)[:5]:
        lib.library_add(pid, "Other", EMAIL)
    lib.subscribers.add(EMAIL, confirmed=True, trending=False)
    choose_on_the_web(lib, ["Optimisers"])
    arrive(lib)

    report = lib.digests.send(DAY, now=later())
    assert (report.sent, report.failed) == (1, 0)
    [received] = smtp.recorder.to(EMAIL)
    text = received.message.get_body(("plain",)).get_content().replace("\r\n", "\n")
    html = received.message.get_body(("html",)).get_content()
    found = sections(text)
    assert list(found) == ["For you: Optimisers"], "only the chosen collection"
    assert "Why: close to your saved “" in found["For you: Optimisers"]
    assert "close to your saved" in html
    sent_ids = lib.personal.feedback.sent_ids(lib.user_of(EMAIL).id)
    assert sent_ids and not sent_ids & set(lib.personal.collections.saved_ids(lib.user_of(EMAIL).id))
    for pid in sent_ids:
        assert f"/papers/{pid}" in text
    # a rerun sends nothing; the next digest day never repeats a sent recommendation
    assert lib.digests.send(DAY, now=later()).sent == 0
    monday = DAY + timedelta(days=3)
    lib.digests.send(monday, now=later())
    again = smtp.recorder.to(EMAIL)
    if len(again) == 2:
        second = again[1].message.get_body(("plain",)).get_content().replace("\r\n", "\n")
        assert not any(f"/papers/{pid}\n" in second for pid in sent_ids)
    assert not {h.paper.id for h in lib.recommend(collection="Optimisers", user=EMAIL, limit=50)} & sent_ids


def test_dismissed_papers_stay_out_of_the_digest(mail_lib: Library, smtp: SmtpSink) -> None:
    lib = mail_lib
    lib.accounts.signup(EMAIL, "correct horse")
    lib.subscribers.add(EMAIL, ["quantum widgets"], confirmed=True, trending=False)
    lib.subscribers.add("bob@example.org", ["quantum widgets"], confirmed=True, trending=False)
    add_papers(lib, [paper(1, "Quantum widgets at scale"), paper(2, "Quantum widgets, revisited")])
    lib.dismiss("2611.00001", EMAIL)
    lib.digests.send(DAY, now=later())
    ada = smtp.recorder.to(EMAIL)[0].message.get_body(("plain",)).get_content().replace("\r\n", "\n")
    bob = plain(smtp.recorder.to("bob@example.org")[0].message)
    assert "Quantum widgets, revisited" in ada and "Quantum widgets at scale" not in ada
    assert "Quantum widgets at scale" in bob and "For you" not in bob


def test_preview_records_nothing_and_no_collection_means_no_section(mail_lib: Library, smtp: SmtpSink) -> None:
    lib = mail_lib
    lib.accounts.signup(EMAIL, "correct horse")
    a, b = page_ids()
    for pid in only_on(a, b)[:5]:
        lib.library_add(pid, "Optimisers", EMAIL)
    lib.subscribers.add(EMAIL, confirmed=True, trending=False)
    arrive(lib)
    assert "For you" not in plain(lib.digests.preview(EMAIL, DAY, now=later()))
    lib.personal.settings.set_digest_collections(lib.user_of(EMAIL).id, [lib.collections(EMAIL)[0].id])
    preview = plain(lib.digests.preview(EMAIL, DAY, now=later()))
    assert "== For you: Optimisers ==" in preview
    assert lib.personal.feedback.sent_ids(lib.user_of(EMAIL).id) == set()
    assert smtp.recorder.count() == 0


def test_for_you_recommends_only_papers_that_arrived_since_the_last_digest(
    mail_lib: Library, smtp: SmtpSink
) -> None:
    """A digest is about what is new: the For you section picks among the papers that arrived
    after the subscriber's last digest (here: since subscribing), never an older paper, however
    close to the library."""
    lib = mail_lib
    lib.accounts.signup(EMAIL, "correct horse")
    a, b = page_ids()
    mine = only_on(a, b)
    for pid in mine[:5]:
        lib.library_add(pid, "Optimisers", EMAIL)
    # The store's papers came an hour before the subscription (a paper that arrives within the
    # second of subscribing counts as new, and the fixture imports them just before).
    arrive(lib, ago=timedelta(hours=1))
    lib.subscribers.add(EMAIL, confirmed=True, trending=False)
    choose_on_the_web(lib, ["Optimisers"])
    older = lib.recommend(collection="Optimisers", user=EMAIL, limit=50)
    assert len(older) >= 4, "the library has close papers in the store"
    new = [h.paper.id for h in older[1::2]]  # every other one arrives after subscribing
    arrive(lib, new)

    assert lib.digests.send(DAY, now=later()).sent == 1
    sent = lib.personal.feedback.sent_ids(lib.user_of(EMAIL).id)
    assert sent and sent <= set(new), "only new arrivals are recommended"
    text = plain(smtp.recorder.to(EMAIL)[0].message)
    for h in older[0::2]:
        assert f"/papers/{h.paper.id}\n" not in text
