"""Accounts and local upvotes through the Library: sign-up, argon2 passwords, sessions, login rate
limits, one toggling vote per user and paper that every listing counts, and the user's export."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import webdata

import paperfeed
from paperfeed.accounts import MAX_FAILURES_PER_EMAIL, TooManyAttempts
from paperfeed.errors import InvalidInput, NotFound
from paperfeed.library import Library


@pytest.fixture
def lib(any_lib: Library) -> Library:
    """Every test of this module runs on SQLite and on PostgreSQL (see conftest `any_lib`)."""
    return any_lib


@pytest.fixture
def web_lib(lib: Library, tmp_path: Path) -> Library:
    return webdata.build(lib, tmp_path / "data")


def test_admins_are_made_only_when_asked_and_passwords_are_stored_as_argon2_hashes(lib: Library) -> None:
    first = lib.accounts.signup("Ada@Example.org", "correct horse")
    second = lib.accounts.signup("alan@example.org", "battery staple", admin=True)
    assert first.email == "ada@example.org" and not first.is_admin
    assert second.is_admin
    stored = lib.store.db.query_one("SELECT password_hash FROM users WHERE id = ?", (first.id,))[0]
    assert stored.startswith("$argon2id$") and "correct horse" not in stored
    assert lib.accounts.set_admin("alan@example.org").is_admin
    assert lib.accounts.user("alan@example.org").is_admin


@pytest.mark.parametrize(
    ("email", "password"),
    [("not-an-email", "long enough"), ("a@b.org", "short"), ("<script>@x.org", "long enough"), ("", "x" * 9)],
)
def test_bad_sign_ups_are_refused_with_a_message(lib: Library, email: str, password: str) -> None:
    with pytest.raises(InvalidInput):
        lib.accounts.signup(email, password)


def test_an_email_has_one_account(lib: Library) -> None:
    lib.accounts.signup("ada@example.org", "correct horse")
    with pytest.raises(InvalidInput, match="already exists"):
        lib.accounts.signup("ADA@example.org ", "another password")


def test_login_opens_a_session_that_logout_closes(lib: Library) -> None:
    user = lib.accounts.signup("ada@example.org", "correct horse")
    session = lib.accounts.login("ada@example.org", "correct horse")
    assert lib.accounts.session(session.token).user == user
    # Only a hash of the token is stored: the token itself is not in the database.
    assert not lib.store.db.query("SELECT 1 FROM sessions WHERE id = ?", (session.token,))
    lib.accounts.logout(session.token)
    assert lib.accounts.session(session.token) is None
    assert lib.accounts.session("forged-token") is None


def test_wrong_passwords_are_refused_and_repeated_failures_lock_the_email_for_a_while(lib: Library) -> None:
    lib.accounts.signup("ada@example.org", "correct horse")
    for _ in range(MAX_FAILURES_PER_EMAIL):
        with pytest.raises(InvalidInput, match="wrong email or password"):
            lib.accounts.login("ada@example.org", "guess", client="10.0.0.1")
    # Now even the right password is refused: the limit applies before the check.
    with pytest.raises(TooManyAttempts):
        lib.accounts.login("ada@example.org", "correct horse", client="10.0.0.2")
    # Another account is not locked by someone else's failures.
    lib.accounts.signup("alan@example.org", "battery staple")
    assert lib.accounts.login("alan@example.org", "battery staple", client="10.0.0.2")


def test_an_unknown_email_fails_like_a_wrong_password(lib: Library) -> None:
    with pytest.raises(InvalidInput, match="wrong email or password"):
        lib.accounts.login("nobody@example.org", "whatever it is")


def test_a_vote_adds_to_the_imported_count_everywhere_and_a_second_press_takes_it_back(
    any_lib: Library, tmp_path: Path
) -> None:
    lib = webdata.build(any_lib, tmp_path / "data")
    lib.accounts.signup("ada@example.org", "correct horse")
    assert lib.get("2502.00003").upvotes == 5  # as imported from Hugging Face

    assert lib.upvote("ada@example.org", "2502.00003") is True
    assert lib.get("2502.00003").upvotes == 6
    assert {p.id: p.upvotes for p in lib.daily(date="2025-02-04")}["2502.00003"] == 6

    assert lib.upvote("ada@example.org", "arXiv:2502.00003v1") is False  # any id form, same paper
    assert lib.get("2502.00003").upvotes == 5


def test_local_votes_reorder_a_day_and_count_in_trending(lib: Library, tmp_path: Path) -> None:
    webdata.build(lib, tmp_path / "data")
    for i in range(16):
        lib.accounts.signup(f"user{i}@example.org", "correct horse")
        lib.upvote(f"user{i}@example.org", "2502.00003")
    day = lib.daily(date="2025-02-04")
    assert [p.id for p in day] == ["2502.00004", "2502.00003", "2502.00005"]
    assert [p.upvotes for p in day] == [50, 21, 20]
    # Paging sees the same order: the voted paper is on page 1 (limit 2), not pushed later.
    assert [p.id for p in lib.daily(date="2025-02-04", limit=2)] == ["2502.00004", "2502.00003"]
    assert [p.id for p in lib.daily(date="2025-02-04", limit=2, offset=2)] == ["2502.00005"]
    trending = {p.id: s for p, s in lib.daily_scored(date="2025-02-04", sort="trending")[1]}
    assert trending["2502.00003"] > trending["2502.00005"]


def test_a_re_import_refreshes_the_imported_count_and_keeps_local_votes(lib: Library, tmp_path: Path) -> None:
    webdata.build(lib, tmp_path / "data")
    lib.accounts.signup("ada@example.org", "correct horse")
    lib.upvote("ada@example.org", "2502.00001")
    items = [dict(webdata.ITEMS[0], paper=dict(webdata.ITEMS[0]["paper"], upvotes=40))]
    refreshed = tmp_path / "refresh.json"
    refreshed.write_text(json.dumps(items))
    lib.import_files([refreshed])
    assert lib.get("2502.00001").upvotes == 41


def test_votes_on_unknown_papers_or_by_unknown_users_are_refused(web_lib: Library) -> None:
    web_lib.accounts.signup("ada@example.org", "correct horse")
    with pytest.raises(NotFound):
        web_lib.upvote("ada@example.org", "2502.99999")
    with pytest.raises(NotFound):
        web_lib.upvote("nobody@example.org", "2502.00001")


def test_search_and_related_show_displayed_upvotes(web_lib: Library) -> None:
    web_lib.accounts.signup("ada@example.org", "correct horse")
    web_lib.upvote("ada@example.org", "2502.00005")
    hits = {h.paper.id: h.paper.upvotes for h in web_lib.search("speculative", mode="keyword")}
    assert hits["2502.00005"] == 21
    related = {h.paper.id: h.paper.upvotes for h in web_lib.related("2502.00004", limit=5)}
    assert related.get("2502.00005") == 21


def test_the_export_holds_the_users_own_votes_only(web_lib: Library) -> None:
    ada = web_lib.accounts.signup("ada@example.org", "correct horse")
    web_lib.accounts.signup("alan@example.org", "battery staple")
    web_lib.upvote("ada@example.org", "2502.00001")
    web_lib.upvote("alan@example.org", "2502.00002")
    data = web_lib.accounts.export(ada)
    assert data["user"]["email"] == "ada@example.org"
    assert [v["paper_id"] for v in data["upvotes"]] == ["2502.00001"]
    assert "password" not in str(data)


def test_organization_and_author_listings(web_lib: Library) -> None:
    assert [p.id for p in web_lib.papers_by(organization="Example-Lab")] == ["2502.00004", "2502.00002"]
    assert [p.id for p in web_lib.papers_by(author="Liskov")] == ["2502.00004", "2502.00005", "2501.09999"]
    with pytest.raises(InvalidInput):
        web_lib.papers_by()


def test_the_cli_adds_users_and_sets_the_admin_role(home: Path) -> None:
    from typer.testing import CliRunner

    from paperfeed.cli import app

    runner = CliRunner()

    def cli(*args: str, stdin: str | None = None):
        return runner.invoke(app, ["--home", str(home), *args], input=stdin, catch_exceptions=False)

    assert cli("users", "add", "ada@example.org", "--admin", "--password-stdin",
               stdin="correct horse\n").exit_code == 0
    result = cli("users", "add", "alan@example.org", "--password-stdin", stdin="battery staple\n")
    assert result.exit_code == 0 and "admin" not in result.stdout
    assert cli("users", "set-admin", "alan@example.org").exit_code == 0
    assert cli("users", "add", "bad", "--password-stdin", stdin="correct horse\n").exit_code == 2
    assert cli("users", "set-admin", "nobody@example.org").exit_code == 2
    listed = json.loads(cli("users", "list", "--json").stdout)
    assert [(u["email"], u["is_admin"]) for u in listed] == [
        ("ada@example.org", True),
        ("alan@example.org", True),
    ]
    with paperfeed.open(home) as lib:  # the password given on stdin is the one that logs in
        assert lib.accounts.login("alan@example.org", "battery staple")
