"""Sign-up by email link, on SQLite and PostgreSQL, with the real SMTP sink: the same answer and
the same work for a new and a known address, nobody signed in until the emailed link's page is
POSTed with the password chosen; links that work once, each with its own sign-up's password, and
expire; an unfinished sign-up logs in like a wrong password; re-sending within the limits."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from digestdata import BASE_URL, mail_env
from fastapi.testclient import TestClient
from smtp_sink import SmtpSink
from webdata import CountingHasher

from paperfeed import accounts, ratelimit
from paperfeed.config import Config
from paperfeed.library import Library
from paperfeed.web.app import create_app

PASSWORD = "correct horse battery"


@pytest.fixture
def web(
    smtp: SmtpSink, monkeypatch: pytest.MonkeyPatch, home: Path, database_url: str
) -> Iterator[tuple[TestClient, Library]]:
    mail_env(monkeypatch, smtp.url)
    with Library(Config.from_env(home=home, database_url=database_url)) as lib, TestClient(
        create_app(library=lib), base_url="https://testserver", follow_redirects=False
    ) as c:
        yield c, lib


def csrf_of(page: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    assert match, page
    return match.group(1)


def sign_up(client: TestClient, email: str, password: str = PASSWORD, next_path: str = "/") -> httpx.Response:
    token = csrf_of(client.get("/signup").text)
    return client.post("/signup", data={"csrf": token, "email": email, "password": password, "next": next_path})


def mail_text(smtp: SmtpSink, email: str, index: int = -1) -> str:
    return smtp.recorder.to(email)[index].message.get_body(("plain",)).get_content()


def link_of(text: str) -> str:
    found = re.search(rf"{re.escape(BASE_URL)}(/signup/verify\?token=\S+)", text)
    assert found, text
    return found.group(1)


def finish(client: TestClient, link: str, password: str = PASSWORD) -> httpx.Response:
    page = client.get(link)
    assert page.status_code == 200, page.text
    return client.post(link, data={"csrf": csrf_of(page.text), "password": password})


def signed_in_as(client: TestClient) -> str | None:
    page = client.get("/account")
    if page.status_code != 200:
        return None
    found = re.search(r"[\w.+-]+@example\.org", page.text)
    return found.group(0) if found else None


def without_csrf(text: str) -> str:
    return re.sub(r'name="csrf" value="[^"]+"', "", text)


def test_a_new_address_gets_a_link_that_makes_the_account_and_signs_in(
    web: tuple[TestClient, Library], smtp: SmtpSink
) -> None:
    client, lib = web
    r = sign_up(client, "ada@example.org", next_path="/trending")
    assert r.status_code == 200 and "Check your email" in r.text
    assert "pf_session" not in client.cookies and signed_in_as(client) is None
    assert lib.accounts.users() == []  # no account until the link is used
    text = mail_text(smtp, "ada@example.org")
    link = link_of(text)
    assert "password you chose" in text

    for opened in (client.head(link), client.get(link)):  # a mail scanner's visit does nothing
        assert opened.status_code == 200
    assert lib.accounts.users() == []
    page = client.get(link).text
    assert "ada@example.org" in page and '<button type="submit" class="primary">' in page

    wrong = finish(client, link, "not the password")
    assert wrong.status_code == 400 and "wrong password" in wrong.text
    assert lib.accounts.users() == [] and "pf_session" not in client.cookies

    done = finish(client, link)
    assert done.status_code == 303 and done.headers["location"] == "/trending"
    cookie = next(v for k, v in done.headers.multi_items() if k == "set-cookie" and v.startswith("pf_session="))
    assert "HttpOnly" in cookie and "Secure" in cookie
    assert signed_in_as(client) == "ada@example.org"
    user = lib.accounts.user("ada@example.org")
    assert not user.is_admin
    assert lib.accounts.login("ada@example.org", PASSWORD).user.id == user.id

    client.cookies.clear()
    again = client.post(link, data={"csrf": csrf_of(client.get("/signup").text), "password": PASSWORD})
    assert again.status_code == 410 and "expired" in again.text  # single use
    assert client.get(link).status_code == 410
    assert len(lib.accounts.users()) == 1 and signed_in_as(client) is None


def test_a_known_address_gets_the_same_answer_and_work_and_a_note_instead(
    web: tuple[TestClient, Library], smtp: SmtpSink, counting: CountingHasher
) -> None:
    client, lib = web
    lib.accounts.signup("known@example.org", "the owner's pw")
    answers, work = [], []
    for email in ("known@example.org", "new@example.org"):
        client.cookies.clear()
        hashes, verifies = counting.hashes, counting.verifies
        answers.append(sign_up(client, email, "another password"))
        work.append((counting.hashes - hashes, counting.verifies - verifies))
        assert len(smtp.recorder.to(email)) == 1
    known, new = answers
    assert work[0] == work[1] == (1, 0)  # one argon2 hash each, nothing else
    assert known.status_code == new.status_code == 200
    assert without_csrf(known.text) == without_csrf(new.text)
    assert "exists" not in known.text and "pf_session" not in client.cookies

    note = mail_text(smtp, "known@example.org")
    assert "already has an account" in note and f"{BASE_URL}/login" in note
    assert "/signup/verify" not in note
    link_of(mail_text(smtp, "new@example.org"))
    # The known account was left as it was: its own password logs in, the other does not.
    assert lib.accounts.login("known@example.org", "the owner's pw")
    with pytest.raises(accounts.InvalidInput):
        lib.accounts.login("known@example.org", "another password")


def test_an_unfinished_sign_up_logs_in_like_a_wrong_password(
    web: tuple[TestClient, Library], smtp: SmtpSink, counting: CountingHasher
) -> None:
    client, lib = web
    lib.accounts.signup("known@example.org", "the owner's pw")
    sign_up(client, "pending@example.org")
    errors = []
    for email, password in (("pending@example.org", PASSWORD), ("known@example.org", "wrong password")):
        before = counting.verifies
        with pytest.raises(accounts.InvalidInput) as exc:
            lib.accounts.login(email, password)
        assert counting.verifies == before + 1, email  # the same argon2 work
        errors.append(str(exc.value))
    assert errors[0] == errors[1] == "wrong email or password"
    token = csrf_of(client.get("/login").text)
    r = client.post("/login", data={"csrf": token, "email": "pending@example.org", "password": PASSWORD})
    assert r.status_code == 400 and "wrong email or password" in r.text


def test_signing_up_again_re_sends_and_each_link_needs_its_own_password(
    web: tuple[TestClient, Library], smtp: SmtpSink
) -> None:
    client, lib = web
    sign_up(client, "ada@example.org", "someone else's pw")  # not Ada: she ignores this email
    first = link_of(mail_text(smtp, "ada@example.org"))
    sign_up(client, "ada@example.org", PASSWORD)  # Ada herself
    second = link_of(mail_text(smtp, "ada@example.org"))
    assert first != second
    assert finish(client, first).status_code == 400  # Ada's password does not fit the other link
    assert finish(client, second).status_code == 303  # the stranger's sign-up did not cancel hers
    assert lib.accounts.login("ada@example.org", PASSWORD)
    assert client.get(first).status_code == 410  # the account is made: every other link is spent


def test_an_address_gets_a_few_sign_up_emails_however_often_it_is_posted(
    web: tuple[TestClient, Library], smtp: SmtpSink
) -> None:
    client, lib = web
    limit = ratelimit.SIGNUP_MAILS_PER_ADDRESS.limit
    statuses = [sign_up(client, "ada@example.org").status_code for _ in range(limit + 3)]
    assert statuses == [200] * (limit + 3)  # the same answer every time
    assert len(smtp.recorder.to("ada@example.org")) == limit
    assert finish(client, link_of(mail_text(smtp, "ada@example.org"))).status_code == 303


def test_an_expired_link_makes_no_account(web: tuple[TestClient, Library], smtp: SmtpSink) -> None:
    client, lib = web
    sign_up(client, "ada@example.org")
    link = link_of(mail_text(smtp, "ada@example.org"))
    csrf = csrf_of(client.get(link).text)
    lib.store.db.execute("UPDATE signups SET expires_at = ?", ("2000-01-01T00:00:00+00:00",))
    r = client.post(link, data={"csrf": csrf, "password": PASSWORD})
    assert r.status_code == 410 and "expired" in r.text
    assert lib.accounts.users() == [] and "pf_session" not in client.cookies
    assert client.get("/signup/verify?token=" + "x" * 43).status_code == 410


def test_the_link_page_needs_the_form_token_and_the_right_password_a_few_times_only(
    web: tuple[TestClient, Library], smtp: SmtpSink
) -> None:
    client, lib = web
    sign_up(client, "ada@example.org")
    link = link_of(mail_text(smtp, "ada@example.org"))
    assert client.post(link, data={"csrf": "forged", "password": PASSWORD}).status_code == 400
    tries = accounts.MAX_FAILURES_PER_EMAIL
    statuses = [finish(client, link, "wrong guess").status_code for _ in range(tries + 1)]
    assert statuses == [400] * tries + [429]
    assert lib.accounts.users() == []


def test_a_pending_vote_is_cast_when_the_link_signs_in(web: tuple[TestClient, Library], smtp: SmtpSink) -> None:
    from digestdata import TRENDING, add_papers

    client, lib = web
    add_papers(lib, TRENDING[:1])
    paper_id = TRENDING[0].id
    anon = csrf_of(client.get("/").text)
    client.post(f"/papers/{paper_id}/upvote", data={"csrf": anon, "next": "/"})
    assert "upvote of" in client.get("/signup").text
    sign_up(client, "ada@example.org", next_path=f"/papers/{paper_id}")
    done = finish(client, link_of(mail_text(smtp, "ada@example.org")))
    assert done.status_code == 303 and done.headers["location"] == f"/papers/{paper_id}"
    assert paper_id in lib.accounts.has_voted(lib.accounts.user("ada@example.org"), [paper_id])
