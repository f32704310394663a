"""The personal Atom feeds with a personal access token (`/feeds/me/...`, `Authorization: Bearer`
or HTTP Basic with the token as the password): the same feed as the secret URL's; read and write
tokens both read; revoked, expired, unknown, malformed and missing tokens are a 401 with a
challenge; another user's token gets that user's feed only, and another user's collection is a
404. The real app under FastAPI's TestClient, on the bundled sample."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass

import feedparser
import pytest
from fastapi.testclient import TestClient
from librarydata import SAMPLE_DIR, only_on, page_ids

import paperfeed
from paperfeed.access_tokens import AccessTokens
from paperfeed.library import Library
from paperfeed.web.app import create_app

ATOM = "application/atom+xml"


@dataclass
class World:
    lib: Library
    client: TestClient
    tokens: AccessTokens
    ada_id: str
    bob_id: str
    collection_id: str  # ada's "Reading" collection
    bob_collection_id: str
    read: str  # ada's read token
    write: str  # ada's write token
    bobs: str  # bob's read token


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with paperfeed.open(tmp_path_factory.mktemp("feed-tokens") / "home") as lib:
        lib.import_files(sorted(SAMPLE_DIR.glob("*.txt")))
        ada = lib.accounts.signup("ada@example.org", "correct horse")
        bob = lib.accounts.signup("bob@example.org", "battery staple")
        a, b = page_ids()
        for pid in only_on(a, b)[:5]:
            lib.library_add(pid, "Reading", ada)
        bob_collection = lib.create_collection("Bob's", bob)
        tokens = AccessTokens(lib.store.db)
        _, read = tokens.create(ada.id, "read", "feed reader")
        _, write = tokens.create(ada.id, "write", "agent")
        _, bobs = tokens.create(bob.id, "read")
        (reading,) = [c for c in lib.collections(ada) if c.name == "Reading"]
        yield World(lib, TestClient(create_app(library=lib)), tokens, ada.id, bob.id, reading.id,
                    bob_collection.id, read, write, bobs)


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def entry_ids(text: str) -> list[str]:
    feed = feedparser.parse(text)
    assert not feed.bozo, feed.bozo_exception
    return [e.id for e in feed.entries]


def test_a_read_token_opens_the_same_feed_as_the_secret_url(world: World) -> None:
    r = world.client.get("/feeds/me/for-you.atom", headers=bearer(world.read))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].split(";")[0] == ATOM
    assert r.headers["cache-control"] == "private, max-age=300"
    assert feedparser.parse(r.text).feed.title == "paperfeed: for you"
    mine = entry_ids(r.text)
    assert mine  # five saved papers: there are recommendations
    secret = world.lib.issue_feed_token(world.ada_id)
    assert entry_ids(world.client.get(f"/feeds/u/{secret}/for-you.atom").text) == mine


def test_write_tokens_and_basic_auth_read_too(world: World) -> None:
    expected = entry_ids(world.client.get("/feeds/me/for-you.atom", headers=bearer(world.read)).text)
    assert entry_ids(world.client.get("/feeds/me/for-you.atom", headers=bearer(world.write)).text) == expected
    # a feed reader that can log in sends Basic: any user name, the token as the password
    r = world.client.get("/feeds/me/for-you.atom", headers=basic("ada", world.read))
    assert r.status_code == 200 and entry_ids(r.text) == expected


def test_a_collections_feed_by_token(world: World) -> None:
    path = f"/feeds/me/c/{world.collection_id}.atom"
    r = world.client.get(path, headers=bearer(world.read))
    assert r.status_code == 200, r.text
    assert feedparser.parse(r.text).feed.title == "paperfeed: for you, Reading"
    assert entry_ids(r.text)
    saved = {s.paper.id for s in world.lib.library_list("Reading", user=world.ada_id)}
    assert not {i.rsplit("/papers/", 1)[1] for i in entry_ids(r.text)} & saved  # new papers only


def test_another_users_token_gets_that_users_feeds_only(world: World) -> None:
    theirs = world.client.get(f"/feeds/me/c/{world.collection_id}.atom", headers=bearer(world.bobs))
    assert theirs.status_code == 404
    assert world.client.get(f"/feeds/me/c/{world.bob_collection_id}.atom",
                            headers=bearer(world.read)).status_code == 404
    own = world.client.get(f"/feeds/me/c/{world.bob_collection_id}.atom", headers=bearer(world.bobs))
    assert own.status_code == 200 and entry_ids(own.text) == []  # an empty collection
    bob_for_you = world.client.get("/feeds/me/for-you.atom", headers=bearer(world.bobs))
    assert bob_for_you.status_code == 200 and entry_ids(bob_for_you.text) == []  # nothing of ada's
    unknown = world.client.get("/feeds/me/c/no-such-collection.atom", headers=bearer(world.read))
    assert unknown.status_code == 404


@pytest.mark.parametrize("path", ["/feeds/me/for-you.atom", "/feeds/me/c/{cid}.atom"])
def test_revoked_expired_unknown_and_missing_tokens_are_refused(world: World, path: str) -> None:
    url = path.replace("{cid}", world.collection_id)
    revoked_token, revoked = world.tokens.create(world.ada_id, "read")
    expired_token, expired = world.tokens.create(world.ada_id, "read", expires_days=1)
    assert world.client.get(url, headers=bearer(revoked)).status_code == 200
    assert world.client.get(url, headers=bearer(expired)).status_code == 200
    world.tokens.revoke(world.ada_id, revoked_token.id)
    world.lib.store.db.execute("UPDATE access_tokens SET expires_at = ? WHERE id = ?",
                               ("2020-01-01T00:00:00+00:00", expired_token.id))
    feed_secret = world.lib.issue_feed_token(world.ada_id)  # a feed token is no access token
    refused = [
        {}, bearer(revoked), bearer(expired), basic("ada", revoked), bearer("pft_" + "x" * 43),
        bearer(feed_secret), bearer(""), bearer("pft_" + "x" * 500), {"Authorization": "Token " + world.read},
        {"Authorization": "Basic !!not-base64!!"}, basic(world.read, ""),
        {"Authorization": "Basic " + base64.b64encode(b"\xff\xfe:\xff").decode()},
    ]
    for headers in refused:
        r = world.client.get(url, headers=headers)
        assert r.status_code == 401, (headers, r.text)
        assert r.headers["www-authenticate"].startswith("Bearer")
        assert r.headers["content-type"] == "application/json" and r.json()["error"]
        assert "<feed" not in r.text


def test_the_secret_url_feeds_are_unchanged(world: World) -> None:
    secret = world.lib.issue_feed_token(world.ada_id)
    plain = world.client.get(f"/feeds/u/{secret}/c/{world.collection_id}.atom")
    assert plain.status_code == 200 and entry_ids(plain.text)
    # a header there changes nothing: the URL's token is what counts
    with_bob = world.client.get(f"/feeds/u/{secret}/c/{world.collection_id}.atom", headers=bearer(world.bobs))
    assert entry_ids(with_bob.text) == entry_ids(plain.text)
    assert world.client.get(f"/feeds/u/{world.read}/for-you.atom").status_code == 404  # not in a URL
    assert world.client.get(f"/feeds/u/{secret}/c/{world.bob_collection_id}.atom").status_code == 404
