"""The personal library's HTML pages and token feeds (the real app under FastAPI's TestClient, on
the bundled sample): Save / Not interested in place and as plain forms, dismissed papers gone
from the reader's lists, For you with reasons and its two empty states, the Library and
collection pages, What it learned and its reset, exports, the home-page setting, the private
Atom feeds; privacy between two readers and CSRF on every POST."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import bibtexparser
import feedparser
import pytest
import rispy
from fastapi.testclient import TestClient
from librarydata import SAMPLE_DIR, only_on, page_ids

import paperfeed
from paperfeed.library import Library
from paperfeed.web.app import create_app

JSON = {"accept": "application/json"}


@pytest.fixture(scope="module")
def lib(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Library]:
    with paperfeed.open(tmp_path_factory.mktemp("pages") / "home") as library:
        library.import_files(sorted(SAMPLE_DIR.glob("*.txt")))
        yield library


def sign_up(app, email: str) -> tuple[TestClient, str]:
    """A new account (made directly: the web's sign-up is rate-limited per client) logged in
    through the login form; returns the client and its session's CSRF token."""
    app.state.library.accounts.signup(email, "correct horse")
    client = TestClient(app, follow_redirects=False)
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)  # type: ignore[union-attr]
    r = client.post("/login", data={"csrf": csrf, "email": email, "password": "correct horse"})
    assert r.status_code == 303, r.text
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/about").text).group(1)  # type: ignore[union-attr]
    return client, token


def shows(client: TestClient, lib: Library, pid: str) -> bool:
    """Whether a search for the paper's title lists its card for this reader."""
    paper = lib.get(pid)
    assert paper is not None
    return f'action="/papers/{pid}/save"' in client.get("/search", params={"q": paper.title[:200]}).text


@pytest.fixture
def two(lib: Library, request: pytest.FixtureRequest) -> Iterator[tuple[TestClient, str, TestClient, str]]:
    app = create_app(library=lib)
    n = request.node.name.replace("[", "-").replace("]", "")[-40:]
    a, ta = sign_up(app, f"ada-{n}@example.org")
    b, tb = sign_up(app, f"bob-{n}@example.org")
    with a, b:
        yield a, ta, b, tb


def test_save_and_not_interested_in_place_and_as_plain_forms(two, lib: Library) -> None:
    ada, csrf, _, _ = two
    a, b = page_ids()
    first, other = a[0], a[1]
    card = ada.get(f"/papers/{first}").text
    assert f'action="/papers/{first}/save"' in card and 'data-shortcut="save"' in card
    assert shows(ada, lib, first)
    on = ada.post(f"/papers/{first}/save", data={"csrf": csrf, "next": "/undated"}, headers=JSON)
    assert on.json() == {"ok": True, "on": True}
    lib_page = ada.get("/library").text
    assert first in lib_page and "Saved (1)" in lib_page
    off = ada.post(f"/papers/{first}/save", data={"csrf": csrf, "next": "/undated"}, headers=JSON)
    assert off.json() == {"ok": True, "on": False}
    assert "Nothing saved yet" in ada.get("/library").text
    plain = ada.post(f"/papers/{first}/save", data={"csrf": csrf, "next": "/undated"})
    assert plain.status_code == 303 and plain.headers["location"] == f"/undated#paper-{first}"
    # not interested: gone from the reader's lists, the paper page offers Undo
    gone = ada.post(f"/papers/{other}/dismiss", data={"csrf": csrf, "next": "/undated"}, headers=JSON)
    assert gone.json() == {"ok": True, "on": True}
    assert not shows(ada, lib, other)
    assert 'class="paper full dismissed"' in ada.get(f"/papers/{other}").text
    assert other in ada.get("/library").text  # listed under Not interested, with Undo
    undo = {"csrf": csrf, "undo": "1", "next": "/undated"}
    back = ada.post(f"/papers/{other}/dismiss", data=undo, headers=JSON)
    assert back.json() == {"ok": True, "on": False}
    assert shows(ada, lib, other)


def test_dismissed_papers_leave_search_and_related_for_that_reader_only(two, lib: Library) -> None:
    ada, csrf, bob, _ = two
    a, _ = page_ids()
    target = lib.get(a[2])
    assert target is not None
    words = " ".join(target.title.split()[:4])
    assert a[2] in ada.get("/search", params={"q": words}).text
    ada.post(f"/papers/{a[2]}/dismiss", data={"csrf": csrf, "next": "/"})
    assert f"/papers/{a[2]}/save" not in ada.get("/search", params={"q": words}).text
    assert f"/papers/{a[2]}/save" in bob.get("/search", params={"q": words}).text
    related = lib.related(a[3], limit=8)
    if any(h.paper.id == a[2] for h in related):
        assert f"/papers/{a[2]}/save" not in ada.get(f"/papers/{a[3]}/related?fragment=1").text


def test_for_you_reasons_and_empty_states(two, lib: Library) -> None:
    ada, csrf, _, _ = two
    assert "Save a few papers first" in ada.get("/for-you").text
    a, b = page_ids()
    for pid in only_on(a, b)[:5]:
        assert ada.post(f"/papers/{pid}/save", data={"csrf": csrf}, headers=JSON).json()["on"] is True
    page = ada.get("/for-you").text
    reasons = re.findall(r'<ul class="reasons"[^>]*>(.*?)</ul>', page, re.S)
    assert reasons, "recommendations carry their reasons"
    assert all("close to your saved" in r for r in reasons)
    saved_titles = {lib.get(pid).title for pid in only_on(a, b)[:5]}  # type: ignore[union-attr]
    shown = re.findall(r'<h3><a href="/papers/[^"]+">([^<]+)</a>', page)
    assert not saved_titles & set(shown), "never a saved paper"
    # nothing clears the floor for a library whose every candidate is already sent
    user = lib.accounts.user(re.search(r'class="who">([^<]+)<', page).group(1))  # type: ignore[union-attr]
    for _ in range(10):
        hits = lib.recommend(user=user, limit=1000)
        if not hits:
            break
        lib.mark_sent([h.paper.id for h in hits], user)
    assert "Nothing new for you today" in ada.get("/for-you").text


def test_library_collections_notes_read_exports_and_home(two) -> None:
    ada, csrf, _, _ = two
    a, _ = page_ids()
    made = ada.post("/library/collections", data={"csrf": csrf, "name": "<b>Optim</b>"})
    assert made.status_code == 303
    cpath = made.headers["location"]
    cid = cpath.rsplit("/", 1)[1]
    for pid in a[:3]:
        ada.post(f"/library/c/{cid}/add", data={"csrf": csrf, "paper_id": pid, "next": cpath})
    page = ada.get(cpath).text
    assert "&lt;b&gt;Optim&lt;/b&gt;" in page and "<b>Optim</b>" not in page
    assert all(pid in page for pid in a[:3])
    for sort in ("added", "published", "upvotes"):
        assert ada.get(cpath, params={"sort": sort}).status_code == 200
    assert ada.get(cpath, params={"sort": "nope"}).status_code == 400
    note = ada.post(f"/library/notes/{a[0]}", data={"csrf": csrf, "note": "<i>read §3</i>", "next": cpath})
    assert note.status_code == 303
    assert "&lt;i&gt;read §3&lt;/i&gt;" in ada.get(cpath).text
    read = ada.post(f"/library/read/{a[0]}", data={"csrf": csrf, "next": cpath}, headers=JSON)
    assert read.json() == {"ok": True, "on": True}
    assert 'class="saved-item read"' in ada.get(cpath).text
    bib = ada.get("/library/export", params={"format": "bibtex", "collection_id": cid})
    assert "attachment" in bib.headers["content-disposition"]
    assert len(bibtexparser.parse_string(bib.text).entries) == 3
    ris = ada.get("/library/export", params={"format": "ris", "collection_id": cid})
    assert len(rispy.loads(ris.text)) == 3
    assert ada.get("/library/export", params={"format": "docx"}).status_code == 400
    renamed = ada.post(f"/library/c/{cid}/rename", data={"csrf": csrf, "name": "Optimisers"})
    assert renamed.status_code == 303 and "Optimisers" in ada.get(cpath).text
    assert ada.post(f"/library/c/{cid}/rename", data={"csrf": csrf, "name": "a\x07b"}).status_code == 400
    ada.post(f"/library/c/{cid}/remove", data={"csrf": csrf, "paper_id": a[2], "next": cpath})
    assert f'id="paper-{a[2]}"' not in ada.get(cpath).text.split('id="recommended"')[0]
    assert ada.post(f"/library/c/{cid}/delete", data={"csrf": csrf}).status_code == 400  # not confirmed
    assert ada.post(f"/library/c/{cid}/delete", data={"csrf": csrf, "confirm": "yes"}).status_code == 303
    assert ada.get(cpath).status_code == 404
    # the home page setting
    assert ada.get("/").status_code == 200
    ada.post("/account/home", data={"csrf": csrf, "home": "foryou"})
    home = ada.get("/")
    assert home.status_code == 303 and home.headers["location"] == "/for-you"
    assert ada.get("/daily").status_code == 200
    ada.post("/account/home", data={"csrf": csrf, "home": "daily"})
    assert ada.get("/").status_code == 200


def test_what_it_learned_and_reset(two) -> None:
    ada, csrf, _, _ = two
    a, b = page_ids()
    assert "save a few papers first" in ada.get("/library/learned").text
    for pid in only_on(a, b)[:5]:
        ada.post(f"/papers/{pid}/save", data={"csrf": csrf})
    for pid in only_on(b, a)[:3]:
        ada.post(f"/papers/{pid}/dismiss", data={"csrf": csrf})
    page = ada.get("/library/learned").text
    assert 'id="weights"' in page and 'id="likes"' in page
    assert len(re.findall(r'<span class="chip">', page.split('id="dislikes"')[1])) > 0
    assert ada.post("/library/reset", data={"csrf": csrf}).status_code == 400  # not confirmed
    done = ada.post("/library/reset", data={"csrf": csrf, "confirm": "yes"})
    assert done.status_code == 303
    after = ada.get(done.headers["location"]).text
    assert "From 5 saved papers and 0 “not interested”" in after
    ada.post("/library/reset", data={"csrf": csrf, "confirm": "yes", "saved": "yes"})
    assert "Nothing saved yet" in ada.get("/library").text


def test_private_feed_by_token_revocable(two, lib: Library) -> None:
    ada, csrf, bob, bcsrf = two
    a, b = page_ids()
    for pid in only_on(a, b)[:5]:
        ada.post(f"/papers/{pid}/save", data={"csrf": csrf})
    shown = ada.post("/library/feed-token", data={"csrf": csrf})
    assert shown.status_code == 200 and shown.headers["cache-control"] == "no-store"
    urls = re.findall(r'<code class="token"[^>]*>([^<]+)</code>', shown.text)
    for_you = next(u for u in urls if u.endswith("/for-you.atom"))
    per_collection = next(u for u in urls if "/c/" in u)
    path = "/feeds/u/" + for_you.split("/feeds/u/", 1)[1]
    outsider = TestClient(create_app(library=lib))
    feed = feedparser.parse(outsider.get(path).text)
    assert feed.entries and feed.feed.title == "paperfeed: for you"
    cpath = "/feeds/u/" + per_collection.split("/feeds/u/", 1)[1]
    assert outsider.get(cpath).status_code == 200
    # bob's token cannot open ada's collection; a made-up token is a 404
    bob.post("/library/feed-token", data={"csrf": bcsrf})
    bob_email = bob.get("/library").text.split('class="who">')[1].split("<")[0]
    bob_token = lib.issue_feed_token(lib.accounts.user(bob_email))
    cid = cpath.rsplit("/", 1)[1].removesuffix(".atom")
    assert outsider.get(f"/feeds/u/{bob_token}/c/{cid}.atom").status_code == 404
    assert outsider.get("/feeds/u/nonsense/for-you.atom").status_code == 404
    ada.post("/library/feed-token", data={"csrf": csrf, "revoke": "1"})
    assert outsider.get(path).status_code == 404


def test_hostile_titles_are_inert_in_the_feed(tmp_path: Path) -> None:
    with paperfeed.open(tmp_path / "home") as library:
        library.import_files(sorted(SAMPLE_DIR.glob("*.txt")))
        a, b = page_ids()
        library.store.db.execute("UPDATE papers SET title = ? WHERE id = ?",
                                 ("<script>alert(1)</script> \x01 evil", only_on(a, b)[5]))
        user = library.user_of()
        for pid in only_on(a, b)[:5]:
            library.library_add(pid, "Saved", user)
        token = library.issue_feed_token(user)
        client = TestClient(create_app(library=library))
        text = client.get(f"/feeds/u/{token}/for-you.atom").text
        assert "<script>" not in text
        parsed = feedparser.parse(text)
        assert not parsed.bozo


def test_another_readers_data_is_out_of_reach(two, lib: Library) -> None:
    ada, csrf, bob, bcsrf = two
    a, _ = page_ids()
    cpath = ada.post("/library/collections", data={"csrf": csrf, "name": "Private"}).headers["location"]
    cid = cpath.rsplit("/", 1)[1]
    ada.post(f"/library/c/{cid}/add", data={"csrf": csrf, "paper_id": a[0]})
    ada.post(f"/library/notes/{a[0]}", data={"csrf": csrf, "note": "secret note of ada"})
    ada.post(f"/papers/{a[1]}/dismiss", data={"csrf": csrf})
    assert bob.get(cpath).status_code == 404
    assert bob.get("/library/export", params={"collection_id": cid}).status_code == 404
    for action, data in [("rename", {"name": "Mine"}), ("delete", {"confirm": "yes"}),
                         ("add", {"paper_id": a[2]}), ("remove", {"paper_id": a[0]})]:
        assert bob.post(f"/library/c/{cid}/{action}", data={"csrf": bcsrf, **data}).status_code == 404
    assert bob.post("/library/digest", data={"csrf": bcsrf, "collection_id": cid}).status_code == 400
    bob_view = bob.get("/library").text + bob.get(f"/papers/{a[0]}").text
    assert "secret note of ada" not in bob_view and "Private" not in bob_view
    assert shows(bob, lib, a[1])  # ada's dismissal is hers alone
    mine = ada.get(cpath).text
    assert "Private" in mine and a[0] in mine and "secret note of ada" in mine


def test_every_post_needs_the_csrf_token_and_a_session(two, lib: Library) -> None:
    ada, csrf, _, _ = two
    a, _ = page_ids()
    made = ada.post("/library/collections", data={"csrf": csrf, "name": "C"})
    cid = made.headers["location"].rsplit("/", 1)[1]
    posts = [
        (f"/papers/{a[0]}/save", {}), (f"/papers/{a[0]}/dismiss", {}), ("/library/collections", {"name": "X"}),
        (f"/library/c/{cid}/rename", {"name": "Y"}), (f"/library/c/{cid}/delete", {"confirm": "yes"}),
        (f"/library/c/{cid}/add", {"paper_id": a[1]}), (f"/library/c/{cid}/remove", {"paper_id": a[1]}),
        (f"/library/notes/{a[0]}", {"note": "n"}), (f"/library/read/{a[0]}", {}),
        ("/library/reset", {"confirm": "yes"}), ("/library/feed-token", {}), ("/library/digest", {}),
        ("/account/home", {"home": "foryou"}),
    ]
    before = (ada.get("/library").text, lib.personal.feedback.dismissed_ids(lib.user_of().id))
    for path, data in posts:
        for bad in ({}, {"csrf": "forged"}):
            r = ada.post(path, data={**data, **bad})
            assert r.status_code in (400, 403), (path, r.status_code)
    assert ada.get("/library").text == before[0]
    assert "Nothing saved yet" in ada.get("/library").text
    signed_out = TestClient(create_app(library=lib), follow_redirects=False)
    for path, data in posts:
        r = signed_out.post(path, data=data)
        assert r.status_code in (303, 400, 401) and (r.status_code != 303 or "/login" in r.headers["location"])
    r = signed_out.post(f"/papers/{a[0]}/save", data={}, headers=JSON)
    assert r.status_code == 401 and r.json()["login"].startswith("/login?next=")
    for page in ("/for-you", "/library", "/library/learned", f"/library/c/{cid}", "/library/export"):
        r = signed_out.get(page)
        assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")
