"""The reading room's submissions and discussion, through the Library and over HTTP (the real app
and store, FastAPI's TestClient), against a real local server speaking the arXiv API's Atom
(`harvest_peers.Peer`): submitting by id or URL onto today's list with who submitted it, the
limits, withdrawn papers, a failing API leaving nothing behind; comments as inert plain text, edit
and delete rights, the rate and length limits, CSRF, and the counts on cards and in the HF API."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from harvest_peers import ApiPeer, Peer, slow, status
from webdata import csrf_of

from paperfeed.config import Config, HarvestConfig
from paperfeed.digest.compose import Composer
from paperfeed.errors import InvalidInput, NotFound
from paperfeed.library import Library
from paperfeed.records import make_paper
from paperfeed.submissions import SourceUnavailable
from paperfeed.web.app import create_app

TODAY = datetime.now(UTC).date()
RECENT = (TODAY - timedelta(days=2)).isoformat()
OLD = (TODAY - timedelta(days=60)).isoformat()
JSON = {"accept": "application/json"}

ENTRIES = {
    "2611.00001": ("Sparse mixtures for long contexts", "cs.LG", RECENT),
    "2611.00002": ("A second recent paper", "cs.CL", RECENT),
    "2611.00003": ("A third recent paper", "cs.CL", RECENT),
    "2609.00009": ("An old paper", "cs.LG", OLD),
    "2611.00004": ("A withdrawn paper", "cs.LG", RECENT, "This paper has been withdrawn by the author"),
}


@pytest.fixture
def peer() -> Iterator[Peer]:
    with Peer(api=ApiPeer(dict(ENTRIES))) as p:
        yield p


def open_lib(home: Path, peer: Peer, **settings: object) -> Library:
    fast = HarvestConfig(arxiv_api_url=peer.url + "/api/query", arxiv_interval=0.0, timeout=0.5,
                         attempts=2, backoff_base=0.02, retry_after_max=0.1)
    config = dataclasses.replace(Config.from_env(home=home), harvest=fast, **settings)
    return Library(config)


@pytest.fixture
def lib(home: Path, peer: Peer) -> Iterator[Library]:
    with open_lib(home, peer) as library:
        library.accounts.signup("ada@example.org", "correct horse")
        library.accounts.signup("bob@example.org", "correct horse")
        yield library


# -- submitting through the Library ------------------------------------------------------------


def test_a_submitted_id_is_fetched_stored_and_put_on_todays_list_by_its_submitter(
    lib: Library, peer: Peer
) -> None:
    done = lib.submit("https://arxiv.org/abs/2611.00001v1", user="ada@example.org")
    assert done.fetched and done.day == TODAY
    assert len(peer.of("/api/query")) == 1
    assert peer.of("/api/query")[0].params["id_list"] == "2611.00001"
    paper = lib.get("2611.00001")
    assert paper is not None and paper.submitted_to_daily == TODAY and paper.published.isoformat() == RECENT
    assert paper.extra["submitted_by"] == "ada"
    assert [p.id for p in lib.daily(date=TODAY)] == ["2611.00001"]


def test_a_paper_in_the_store_is_listed_without_a_fetch(lib: Library, peer: Peer) -> None:
    lib.store.upsert([make_paper(title="Held already", arxiv_id="2611.00077", source="test",
                                 published=TODAY - timedelta(days=1))])
    done = lib.submit("2611.00077")  # the instance owner by default
    assert not done.fetched and peer.of("/api/query") == []
    assert lib.get("2611.00077").submitted_to_daily == TODAY


def test_the_limits_refuse_a_second_listing_an_old_paper_and_a_member_over_the_cap(
    home: Path, peer: Peer
) -> None:
    with open_lib(home, peer, submit_daily_cap=2) as lib:
        lib.accounts.signup("ada@example.org", "correct horse")
        lib.submit("2611.00001", user="ada@example.org")
        with pytest.raises(InvalidInput, match="already on today's daily list"):
            lib.submit("2611.00001", user="ada@example.org")
        with pytest.raises(InvalidInput, match="only papers of the last 14 days"):
            lib.submit("2609.00009", user="ada@example.org")
        assert lib.get("2609.00009") is None  # refused before anything was stored
        lib.submit("2611.00002", user="ada@example.org")
        with pytest.raises(InvalidInput, match="you have submitted 2 papers today"):
            lib.submit("2611.00003", user="ada@example.org")
        assert lib.get("2611.00003") is None
        assert sorted(p.id for p in lib.daily(date=TODAY)) == ["2611.00001", "2611.00002"]


def test_invalid_ids_and_ids_arxiv_does_not_know(lib: Library, peer: Peer) -> None:
    for bad in ("", "not an id", "2611.1", "../../etc/passwd", "<script>"):
        with pytest.raises(InvalidInput, match="not an arXiv id"):
            lib.submit(bad, user="ada@example.org")
    assert peer.of("/api/query") == []
    with pytest.raises(NotFound, match="arXiv does not know 2611.99999"):
        lib.submit("2611.99999", user="ada@example.org")
    assert lib.store.count() == 0
    assert lib.submissions.count_today(lib.user_of("ada@example.org"), TODAY) == 0


@pytest.mark.parametrize("fault", [status(503), slow(2.0)], ids=["503", "timeout"])
def test_an_api_that_fails_or_times_out_is_a_clear_error_and_nothing_is_added(
    lib: Library, peer: Peer, fault
) -> None:
    peer.inject(fault, lambda r: r.path == "/api/query", times=10)
    with pytest.raises(SourceUnavailable, match="did not answer for 2611.00001.*Nothing was added"):
        lib.submit("2611.00001", user="ada@example.org")
    assert lib.store.count() == 0 and lib.daily(date=TODAY) == []
    assert lib.submissions.count_today(lib.user_of("ada@example.org"), TODAY) == 0
    assert lib.harvest_log(1)[0]["status"] != "complete"


def test_withdrawn_papers_are_refused_marked_and_kept_out_of_digests_and_recommendations(lib: Library) -> None:
    with pytest.raises(InvalidInput, match="withdrawn"):
        lib.submit("2611.00004", user="ada@example.org")
    lib.harvest_arxiv_api(ids=["2611.00004", "2611.00001"])
    withdrawn = lib.get("2611.00004")
    assert withdrawn is not None and withdrawn.withdrawn and not lib.get("2611.00001").withdrawn
    lib.library_add("2611.00001", "reading")
    assert "2611.00004" not in [r.paper.id for r in lib.recommend(limit=20)]
    composer = Composer(lib.store, lib.accounts, TODAY, "1970-01-01T00:00:00+00:00",
                        now=datetime.now(UTC) + timedelta(days=1))
    assert "2611.00001" in composer.ids and "2611.00004" not in composer.ids
    assert "2611.00004" not in composer.trending


# -- over HTTP ---------------------------------------------------------------------------------


@pytest.fixture
def client(lib: Library) -> Iterator[TestClient]:
    with TestClient(create_app(library=lib), follow_redirects=False) as c:
        yield c


def log_in(client: TestClient, email: str = "ada@example.org") -> str:
    page = client.get("/login").text
    r = client.post("/login", data={"csrf": csrf_of(page), "email": email, "password": "correct horse"})
    assert r.status_code == 303, r.text
    return csrf_of(client.get("/submit").text)


def test_the_submit_form_puts_the_paper_on_todays_list_with_who_submitted_it(client: TestClient) -> None:
    assert client.get("/submit").status_code == 303  # signed out: to the log-in
    token = log_in(client)
    assert 'href="/submit"' in client.get("/").text  # linked from the header
    r = client.post("/submit", data={"csrf": token, "paper": "arXiv:2611.00001"})
    assert r.status_code == 303
    assert r.headers["location"] == f"/daily?date={TODAY.isoformat()}#paper-2611.00001"
    day = client.get(r.headers["location"].split("#")[0]).text
    assert "Sparse mixtures for long contexts" in day and "Submitted by ada" in day
    assert "Submitted by ada" in client.get("/papers/2611.00001").text
    item = client.get("/api/daily_papers", params={"date": TODAY.isoformat()}).json()[0]
    assert item["submittedOnDailyBy"]["name"] == "ada" and item["paper"]["submittedOnDailyBy"]["name"] == "ada"


def test_bad_submissions_over_http_say_why_and_store_nothing(
    client: TestClient, lib: Library, peer: Peer
) -> None:
    token = log_in(client)
    r = client.post("/submit", data={"csrf": token, "paper": "<script>alert(1)</script>"})
    assert r.status_code == 400 and "not an arXiv id" in r.text and "<script>alert" not in r.text
    r = client.post("/submit", data={"csrf": token, "paper": "2611.99999"}, headers=JSON)
    assert r.status_code == 404 and r.json() == {"ok": False, "error": "arXiv does not know 2611.99999"}
    peer.inject(status(503), lambda req: req.path == "/api/query", times=10)
    r = client.post("/submit", data={"csrf": token, "paper": "2611.00001"})
    assert r.status_code == 503 and "did not answer" in r.text
    r = client.post("/submit", data={"csrf": "forged", "paper": "2611.00002"})
    assert r.status_code == 400 and "came from another site" in r.text
    assert lib.store.count() == 0


def test_the_json_submit_route_needs_the_csrf_header(client: TestClient) -> None:
    assert client.post("/api/submit", json={"id": "2611.00001"}).status_code == 401
    token = log_in(client)
    assert client.post("/api/submit", json={"id": "2611.00001"}).status_code == 403
    r = client.post("/api/submit", json={"id": "2611.00001"}, headers={"X-CSRF-Token": token})
    assert r.status_code == 200 and r.json()["submitted_by"] == "ada" and r.json()["day"] == TODAY.isoformat()
    r = client.post("/api/submit", json={"id": "2611.00001"}, headers={"X-CSRF-Token": token})
    assert r.status_code == 400 and "already" in r.json()["error"]


# -- discussion --------------------------------------------------------------------------------


@pytest.fixture
def paper_id(lib: Library) -> str:
    lib.store.upsert([make_paper(title="A paper to discuss", arxiv_id="2611.00050", source="test",
                                 published=TODAY, comments=2)])
    return "2611.00050"


def test_a_comment_is_inert_text_with_paragraphs_and_links(client: TestClient, paper_id: str) -> None:
    token = log_in(client)
    body = ("<script>alert('x')</script> see https://example.org/a?b=1&c=2.\n\n"
            "second <b>para</b> javascript:alert(1) ftp://x.test/")
    r = client.post(f"/papers/{paper_id}/comments", data={"csrf": token, "body": body})
    assert r.status_code == 303 and r.headers["location"].startswith(f"/papers/{paper_id}#comment-")
    page = client.get(f"/papers/{paper_id}").text
    assert "<script>alert" not in page and "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page
    assert '<a href="https://example.org/a?b=1&amp;c=2" rel="nofollow ugc noopener">' in page
    assert "<p>second &lt;b&gt;para&lt;/b&gt; javascript:alert(1) ftp://x.test/</p>" in page
    assert 'href="javascript' not in page and 'href="ftp' not in page


def test_counts_on_cards_and_in_the_hf_api_add_local_comments_to_imported_ones(
    client: TestClient, lib: Library, paper_id: str
) -> None:
    token = log_in(client)
    for text in ("one", "two"):
        client.post(f"/papers/{paper_id}/comments", data={"csrf": token, "body": text})
    assert client.get(f"/api/papers/{paper_id}").status_code == 200
    item = client.get("/api/daily_papers", params={"date": TODAY.isoformat()}).json()[0]
    assert item["numComments"] == 4
    assert "4 comments" in client.get(f"/daily?date={TODAY.isoformat()}").text
    first = lib.paper_comments(paper_id)[0]
    client.post(f"/comments/{first.id}/delete", data={"csrf": token})
    item = client.get("/api/daily_papers", params={"date": TODAY.isoformat()}).json()[0]
    assert item["numComments"] == 3


def test_edit_and_delete_your_own_another_members_is_403_an_admin_deletes_any(
    client: TestClient, lib: Library, paper_id: str
) -> None:
    mine = lib.comment(paper_id, "bob's thought", user="bob@example.org")
    token = log_in(client)  # ada
    r = client.post(f"/comments/{mine.id}/edit", data={"csrf": token, "body": "hijacked"})
    assert r.status_code == 403
    r = client.post(f"/comments/{mine.id}/delete", data={"csrf": token}, headers=JSON)
    assert r.status_code == 403
    assert lib.comments.get(mine.id).body == "bob's thought"
    own = lib.comment(paper_id, "ada's first", user="ada@example.org")
    r = client.post(f"/comments/{own.id}/edit", data={"csrf": token, "body": "ada's second"}, headers=JSON)
    assert r.status_code == 200 and r.json()["comment"]["body"] == "ada's second"
    assert r.json()["comment"]["edited_at"]
    lib.accounts.set_admin("ada@example.org")
    r = client.post(f"/comments/{mine.id}/delete", data={"csrf": token})
    assert r.status_code == 303
    page = client.get(f"/papers/{paper_id}").text
    assert f'id="comment-{mine.id}"' in page and "This comment was deleted." in page
    assert "bob&#39;s thought" not in page and "bob's thought" not in page
    r = client.post(f"/comments/{mine.id}/edit", data={"csrf": token, "body": "again"})
    assert r.status_code == 404


def test_comment_floods_huge_comments_and_forged_forms_are_refused(
    home: Path, peer: Peer
) -> None:
    with open_lib(home, peer, comment_rate=3, comment_max_chars=200) as lib:
        lib.accounts.signup("ada@example.org", "correct horse")
        lib.store.upsert([make_paper(title="Hot topic", arxiv_id="2611.00060", source="test", published=TODAY)])
        with TestClient(create_app(library=lib), follow_redirects=False) as client:
            token = log_in(client)
            url = "/papers/2611.00060/comments"
            assert client.post(url, data={"csrf": "x", "body": "hi"}).status_code == 400
            r = client.post("/papers/2611.00060/comments", data={"csrf": token, "body": "x" * 201})
            assert r.status_code == 400 and "at most 200 characters" in r.text
            assert client.post(url, data={"csrf": token, "body": "  \n "}).status_code == 400
            codes = [client.post("/papers/2611.00060/comments", data={"csrf": token, "body": f"flood {i}"},
                                 headers=JSON).status_code for i in range(6)]
            assert codes == [201, 201, 201, 429, 429, 429]
            assert [c.body for c in lib.paper_comments("2611.00060")] == ["flood 0", "flood 1", "flood 2"]
            missing = client.post("/papers/2611.99999/comments", data={"csrf": token, "body": "hi"})
            assert missing.status_code == 404
        signed_out = TestClient(create_app(library=lib), follow_redirects=False)
        r = signed_out.post("/papers/2611.00060/comments", data={"csrf": "x", "body": "hi"})
        assert r.status_code == 303 and r.headers["location"].startswith("/login")


# -- the command line --------------------------------------------------------------------------


def test_the_submit_command_acts_for_the_owner_or_a_member_and_fails_clearly(home: Path, peer: Peer) -> None:
    """The installed command in its own process for a submission and for a hostile id; the other
    calls go through the same CLI app in this process (typer's runner), which saves a start-up each."""
    import os
    import subprocess
    import sys

    from typer.testing import CliRunner

    from paperfeed.cli import app

    env = {**os.environ, "PAPERFEED_ARXIV_API_URL": peer.url + "/api/query", "PAPERFEED_ARXIV_INTERVAL": "0",
           "PAPERFEED_HTTP_ATTEMPTS": "1", "PAPERFEED_HTTP_TIMEOUT": "1"}

    def spawn(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "paperfeed.cli", "--home", str(home), *args],
                              capture_output=True, text=True, env=env, timeout=600)

    def run(*args: str):  # the same exit code, stdout and stderr as a separate process's
        return CliRunner().invoke(app, ["--home", str(home), *args], env=env, catch_exceptions=False)

    r = spawn("submit", "2611.00001")
    assert r.returncode == 0, r.stderr
    assert f"on the daily list of {TODAY.isoformat()}, submitted by owner (fetched from arXiv)" in r.stdout
    with Library(Config.from_env(home=home)) as lib:
        lib.accounts.signup("ada@example.org", "correct horse")
    o = run("submit", "2611.00002", "--user", "ada@example.org", "--json")
    assert o.exit_code == 0 and '"submitted_by": "ada"' in o.stdout.replace('":"', '": "')
    r = spawn("submit", "nonsense\x1b[31m")
    assert r.returncode == 2 and "not an arXiv id" in r.stderr and "Traceback" not in r.stderr
    assert "\x1b[31m" not in r.stderr
    o = run("submit", "2611.00001")
    assert o.exit_code == 2 and "already on today's daily list" in o.stderr
    peer.inject(status(503), lambda req: req.path == "/api/query", times=10)
    o = run("submit", "2611.00003")
    assert o.exit_code == 2 and "did not answer" in o.stderr
    o = run("comments", "add", "2611.00001", "first\n\nsecond \x1b]8;;x\x07")
    assert o.exit_code == 0 and "owner:" in o.stdout and "\x1b" not in o.stdout
    o = run("comments", "list", "2611.00001")
    assert o.exit_code == 0 and "  first" in o.stdout and "  second" in o.stdout
    o = run("comments", "list", "2611.99999")
    assert o.exit_code == 2 and "no such paper" in o.stderr
