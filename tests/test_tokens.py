"""Personal access tokens: created and revoked with the CLI and on the account page, stored
hashed, `Authorization: Bearer` on the JSON API (both backends): read vs write scope, revoked,
expired, malformed, another user's."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest
import webdata
from fastapi.testclient import TestClient
from typer.testing import CliRunner

import paperfeed
from paperfeed.access_tokens import AccessTokens
from paperfeed.cli import app as cli_app
from paperfeed.library import Library
from paperfeed.web.app import create_app

runner = CliRunner()


def sign_up(app, email: str) -> TestClient:
    client = TestClient(app, follow_redirects=False)
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/signup").text).group(1)  # type: ignore[union-attr]
    form = {"csrf": csrf, "email": email, "password": "correct horse"}
    assert client.post("/signup", data=form).status_code == 303
    return client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def web_lib(any_lib: Library, tmp_path: Path) -> Library:
    return webdata.build(any_lib, tmp_path / "data")


def test_bearer_tokens_on_the_json_api(web_lib: Library) -> None:
    ada = web_lib.accounts.signup("ada@example.org", "correct horse")
    bob = web_lib.accounts.signup("bob@example.org", "battery staple")
    tokens = AccessTokens(web_lib.store.db)
    _, read = tokens.create(ada.id, "read", "reader")
    writer, write = tokens.create(ada.id, "write", "agent")
    _, bobs = tokens.create(bob.id, "write")
    # stored hashed: the secret itself is nowhere in the table
    rows = web_lib.store.db.query("SELECT token_hash FROM access_tokens")
    assert {r[0] for r in rows} == {hashlib.sha256(s.encode()).hexdigest() for s in (read, write, bobs)}

    client = TestClient(create_app(library=web_lib))  # no cookie, no CSRF token
    assert client.get("/api/library").status_code == 401
    assert client.get("/api/library", headers=bearer(read)).json()["email"] == "ada@example.org"
    made = client.post("/api/library/collections", json={"name": "Agents"}, headers=bearer(write))
    assert made.status_code == 201, made.text
    cid = made.json()["id"]
    refused = client.post("/api/library/collections", json={"name": "Nope"}, headers=bearer(read))
    assert refused.status_code == 403 and "read-only" in refused.json()["error"]
    dismiss = client.post("/api/library/dismissed", json={"paper_id": "2502.00001"}, headers=bearer(read))
    assert dismiss.status_code == 403
    assert [c.name for c in web_lib.collections(ada.id)] == ["Agents"]
    assert web_lib.dismissed(ada.id) == []
    # another user's token sees that user's library only
    assert client.get(f"/api/library/collections/{cid}/papers", headers=bearer(bobs)).status_code == 404
    assert client.get("/api/library/collections", headers=bearer(bobs)).json() == []
    # malformed, unknown, other schemes: 401, never the session
    for header in ("Bearer pft_nope", "Bearer ", "Basic YWRhOnB3", "Bearer " + "x" * 5000):
        r = client.get("/api/library", headers={"Authorization": header})
        assert r.status_code == 401, header
    # revoked
    tokens.revoke(ada.id, writer.id)
    late = client.post("/api/library/collections", json={"name": "Late"}, headers=bearer(write))
    assert late.status_code == 401
    with pytest.raises(paperfeed.errors.NotFound):
        tokens.revoke(bob.id, writer.id)  # not bob's to revoke (and already revoked)
    # expired: the clock moved past its expiry
    expiring, secret = tokens.create(ada.id, "read", expires_days=1)
    assert client.get("/api/library", headers=bearer(secret)).status_code == 200
    web_lib.store.db.execute("UPDATE access_tokens SET expires_at = ? WHERE id = ?",
                             ("2020-01-01T00:00:00+00:00", expiring.id))
    assert client.get("/api/library", headers=bearer(secret)).status_code == 401
    assert [c.name for c in web_lib.collections(ada.id)] == ["Agents"]


def test_bad_token_requests_are_refused(web_lib: Library) -> None:
    tokens = AccessTokens(web_lib.store.db)
    uid = web_lib.accounts.signup("ada@example.org", "correct horse").id
    for scope, name, days in (("admin", None, None), ("read", "x" * 101, None), ("read", "a\x1bb", None),
                              ("read", None, 0), ("read", None, 100_000)):
        with pytest.raises(paperfeed.errors.InvalidInput):
            tokens.create(uid, scope, name, days)
    assert tokens.list(uid) == []


def test_account_page_creates_shows_once_and_revokes(web_lib: Library) -> None:
    app = create_app(library=web_lib)
    with sign_up(app, "ada@example.org") as ada:
        page = ada.get("/account").text
        csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
        assert 'id="new-token-form"' in page
        made = ada.post("/account/tokens", data={"csrf": csrf, "name": "<b>agent</b>", "scope": "write",
                                                 "expires_days": "30"})
        assert made.status_code == 200 and made.headers["cache-control"] == "no-store"
        secret = re.search(r'<pre id="new-token"[^>]*>(pft_[^<]+)</pre>', made.text).group(1)  # type: ignore[union-attr]
        assert "&lt;b&gt;agent&lt;/b&gt;" in made.text
        listed = ada.get("/account").text
        assert secret not in listed and "&lt;b&gt;agent&lt;/b&gt; · read-write" in listed
        api = TestClient(app)
        made = api.post("/api/library/collections", json={"name": "Web"}, headers=bearer(secret))
        assert made.status_code == 201
        # no CSRF token: refused, nothing made
        assert ada.post("/account/tokens", data={"name": "x", "scope": "read"}).status_code == 400
        assert ada.post("/account/tokens", data={"csrf": csrf, "scope": "root"}).status_code == 400
        (token,) = AccessTokens(web_lib.store.db).list(web_lib.user_of("ada@example.org").id)
        assert ada.post(f"/account/tokens/{token.id}/revoke", data={"csrf": "wrong"}).status_code == 400
        assert ada.post(f"/account/tokens/{token.id}/revoke", data={"csrf": csrf}).status_code == 303
        assert api.get("/api/library", headers=bearer(secret)).status_code == 401
        assert ada.post(f"/account/tokens/{token.id}/revoke", data={"csrf": csrf}).status_code == 404


def cli(home: Path, *args: str):
    return runner.invoke(cli_app, ["--home", str(home), *args])


def test_cli_create_list_revoke(home: Path) -> None:
    with paperfeed.open(home) as lib:
        lib.accounts.signup("ada@example.org", "correct horse")
    made = cli(home, "tokens", "create", "--scope", "read", "--name", "laptop", "--json")
    assert made.exit_code == 0, made.output
    data = json.loads(made.stdout)
    assert data["scope"] == "read" and data["token"].startswith("pft_")
    plain = cli(home, "tokens", "create", "--scope", "write", "--user", "ada@example.org")
    assert plain.exit_code == 0 and plain.stdout.strip().startswith("pft_")
    owners = json.loads(cli(home, "tokens", "list", "--json").stdout)
    assert [t["id"] for t in owners] == [data["id"]] and "token" not in owners[0]
    adas = json.loads(cli(home, "tokens", "list", "--json", "--user", "ada@example.org").stdout)
    assert [t["scope"] for t in adas] == ["write"]
    # another user's token cannot be revoked as the owner
    assert cli(home, "tokens", "revoke", adas[0]["id"]).exit_code == 2
    assert cli(home, "tokens", "revoke", data["id"]).exit_code == 0
    assert json.loads(cli(home, "tokens", "list", "--json").stdout) == []
    with paperfeed.open(home) as lib:
        assert AccessTokens(lib.store.db).verify(data["token"]) is None
        assert AccessTokens(lib.store.db).verify(plain.stdout.strip()) is not None
    for bad in (["--scope", "admin"], ["--scope", "read", "--expires-days", "0"],
                ["--scope", "read", "--user", "nobody@example.org"]):
        result = cli(home, "tokens", "create", *bad)
        assert result.exit_code == 2 and "error" in result.output, bad
