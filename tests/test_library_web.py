"""The personal library's JSON API for the signed-in user (the real app under FastAPI's
TestClient, on both backends): every operation, the OpenAPI spec, CSRF on every state change, and
privacy: user B can neither read nor change user A's collections, notes, dismissals or feed token."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import bibtexparser
import pytest
import webdata
from fastapi.testclient import TestClient

from paperfeed.library import Library
from paperfeed.web.app import create_app


@pytest.fixture
def web_lib(any_lib: Library, tmp_path: Path) -> Library:
    return webdata.build(any_lib, tmp_path / "data")


def sign_up(app, email: str) -> TestClient:
    client = TestClient(app, follow_redirects=False)
    form = client.get("/signup").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
    r = client.post("/signup", data={"csrf": csrf, "email": email, "password": "correct horse"})
    assert r.status_code == 303, r.text
    token = client.get("/api/library").json()["csrf"]
    client.headers["X-CSRF-Token"] = token
    return client


@pytest.fixture
def two(web_lib: Library) -> Iterator[tuple[TestClient, TestClient]]:
    app = create_app(library=web_lib)
    with sign_up(app, "ada@example.org") as ada, sign_up(app, "bob@example.org") as bob:
        yield ada, bob


def test_collections_papers_notes_reads_through_the_api(two) -> None:
    ada, _ = two
    made = ada.post("/api/library/collections", json={"name": "<b>Decoding</b>"})
    assert made.status_code == 201
    cid = made.json()["id"]
    assert made.json()["name"] == "<b>Decoding</b>"  # kept as text (JSON carries it inert)
    into = f"/api/library/collections/{cid}/papers"
    assert ada.post(into, json={"paper_id": "2502.00004"}).json()["size"] == 1
    assert ada.post(into, json={"paper_id": "2502.00005v1"}).json()["size"] == 2
    papers = ada.get(f"/api/library/collections/{cid}/papers").json()
    assert {p["id"] for p in papers} == {"2502.00004", "2502.00005"}
    assert all(p["collections"] == ["<b>Decoding</b>"] for p in papers)
    assert ada.put("/api/library/notes/2502.00004", json={"note": "§3 first"}).json()["note"] == "§3 first"
    assert ada.get("/api/library/notes/2502.00004").json()["note"] == "§3 first"
    assert ada.put("/api/library/read/2502.00004", json={"read": True}).json()["changed"] is True
    saved = {p["id"]: p for p in ada.get("/api/library/papers").json()}
    assert saved["2502.00004"]["note"] == "§3 first" and saved["2502.00004"]["read"] is True
    renamed = ada.patch(f"/api/library/collections/{cid}", json={"name": "Decoding"})
    assert renamed.json()["name"] == "Decoding"
    assert ada.delete(f"/api/library/collections/{cid}/papers/2502.00005").json()["changed"] == 1
    assert ada.delete("/api/library/papers/2502.00004").json()["changed"] == 1
    assert ada.get("/api/library/papers").json() == []
    assert ada.delete(f"/api/library/collections/{cid}").json()["changed"] == 0
    assert ada.get("/api/library/collections").json() == []


def test_bad_input_is_a_clear_4xx(two) -> None:
    ada, _ = two
    assert ada.post("/api/library/collections", json={"name": "a\nb"}).status_code == 400
    assert ada.post("/api/library/collections", json={"name": "x" * 101}).status_code == 400
    assert ada.post("/api/library/collections", json={}).status_code == 422
    cid = ada.post("/api/library/collections", json={"name": "A"}).json()["id"]
    r = ada.post(f"/api/library/collections/{cid}/papers", json={"paper_id": "2999.99999"})
    assert r.status_code == 404 and "no such paper" in r.json()["error"]
    assert ada.post("/api/library/dismissed", json={"paper_id": "2999.99999"}).status_code == 404
    assert ada.get("/api/library/collections/nope/papers").status_code == 404
    assert ada.get("/api/library/recommendations?limit=0").status_code == 422
    assert ada.get("/api/library/export?format=docx").status_code == 422
    assert ada.put("/api/library/notes/2502.00004", json={"note": "\x1b[2J"}).status_code == 400


def test_dismissals_hide_and_undo_and_reset(two) -> None:
    ada, _ = two
    assert ada.post("/api/library/dismissed", json={"paper_id": "2502.00004"}).json()["changed"] is True
    assert [p["id"] for p in ada.get("/api/library/dismissed").json()] == ["2502.00004"]
    assert ada.delete("/api/library/dismissed/2502.00004").json()["changed"] is True
    ada.post("/api/library/dismissed", json={"paper_id": "2502.00004"})
    assert ada.post("/api/library/reset", json={}).json() == {"dismissals": 1, "saved": 0}
    assert ada.get("/api/library/dismissed").json() == []


def test_recommendations_explain_and_export(two) -> None:
    ada, _ = two
    assert ada.get("/api/library/recommendations").json() == []  # an empty library
    cid = ada.post("/api/library/collections", json={"name": "Decoding"}).json()["id"]
    for pid in ("2502.00004", "2502.00005"):
        ada.post(f"/api/library/collections/{cid}/papers", json={"paper_id": pid})
    hits = ada.get(f"/api/library/recommendations?collection_id={cid}&limit=5").json()
    for hit in hits:
        assert hit["id"] not in ("2502.00004", "2502.00005") and hit["reasons"]
    assert ada.get("/api/library/recommendations?since=2099-01-01").json() == []
    learned = ada.get("/api/library/explain").json()
    assert {w["id"] for w in learned["weights"]} == {"2502.00004", "2502.00005"} and learned["likes"]
    bib = ada.get(f"/api/library/export?format=bibtex&collection_id={cid}")
    assert bib.status_code == 200 and "attachment" in bib.headers["content-disposition"]
    assert len(bibtexparser.parse_string(bib.text).entries) == 2


def test_import_a_bibtex_upload_into_a_collection(two) -> None:
    ada, _ = two
    data = (
        b"@article{a, eprint = {2502.00001}, archivePrefix = {arXiv}, title = {X}}\n"
        b"@article{b, author = {Doe}}\n"
    )
    r = ada.post("/api/library/import", files={"file": ("zotero.bib", data)}, data={"collection": "Zotero"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["matched"], body["rejected"]) == (1, 1)
    assert body["entries"][1]["where"] == "line 2"
    empty = ada.post("/api/library/import", files={"file": ("e.bib", b"")}, data={"collection": "Zotero"})
    assert empty.status_code == 400


def test_feed_tokens_through_the_api(two, web_lib: Library) -> None:
    ada, _ = two
    assert ada.get("/api/library/feed-token").json()["active"] is False
    token = ada.post("/api/library/feed-token").json()["token"]
    assert web_lib.feed_token_user(token).email == "ada@example.org"
    assert ada.get("/api/library/feed-token").json()["active"] is True
    assert ada.delete("/api/library/feed-token").json()["changed"] is True
    assert web_lib.feed_token_user(token) is None


def test_every_state_change_needs_the_csrf_token(two) -> None:
    ada, _ = two
    cid = ada.post("/api/library/collections", json={"name": "A"}).json()["id"]
    ada.post(f"/api/library/collections/{cid}/papers", json={"paper_id": "2502.00004"})
    changes = [
        ("post", "/api/library/collections", {"name": "B"}),
        ("patch", f"/api/library/collections/{cid}", {"name": "C"}),
        ("delete", f"/api/library/collections/{cid}", None),
        ("post", f"/api/library/collections/{cid}/papers", {"paper_id": "2502.00005"}),
        ("delete", f"/api/library/collections/{cid}/papers/2502.00004", None),
        ("delete", "/api/library/papers/2502.00004", None),
        ("put", "/api/library/notes/2502.00004", {"note": "x"}),
        ("put", "/api/library/read/2502.00004", {"read": True}),
        ("post", "/api/library/dismissed", {"paper_id": "2502.00006"}),
        ("delete", "/api/library/dismissed/2502.00006", None),
        ("post", "/api/library/reset", {"saved": True}),
        ("post", "/api/library/feed-token", None),
        ("delete", "/api/library/feed-token", None),
    ]
    token = ada.headers.pop("X-CSRF-Token")
    for forged in (None, "forged"):
        if forged:
            ada.headers["X-CSRF-Token"] = forged
        for method, path, body in changes:
            kwargs = {"json": body} if body is not None else {}
            r = ada.request(method.upper(), path, **kwargs)
            assert r.status_code == 403, (method, path, r.status_code)
    upload = ada.post("/api/library/import", files={"file": ("a.bib", b"@article{a, title={A}}")},
                      data={"collection": "Z"})
    assert upload.status_code == 403
    ada.headers["X-CSRF-Token"] = token
    # Nothing changed.
    assert [(c["name"], c["size"]) for c in ada.get("/api/library/collections").json()] == [("A", 1)]
    assert ada.get("/api/library/dismissed").json() == []
    assert ada.get("/api/library/feed-token").json()["active"] is False


def test_signed_out_requests_are_401(web_lib: Library) -> None:
    with TestClient(create_app(library=web_lib)) as anon:
        assert anon.get("/api/library").status_code == 401
        assert anon.get("/api/library/papers").status_code == 401
        assert anon.post("/api/library/collections", json={"name": "A"}).status_code == 401
    assert web_lib.store.db.query("SELECT count(*) FROM collections")[0][0] == 0


def test_user_b_cannot_read_or_change_user_a_s_library(two, web_lib: Library) -> None:
    ada, bob = two
    cid = ada.post("/api/library/collections", json={"name": "Ada's secrets"}).json()["id"]
    ada.post(f"/api/library/collections/{cid}/papers", json={"paper_id": "2502.00004"})
    ada.put("/api/library/notes/2502.00004", json={"note": "ada only"})
    ada.put("/api/library/read/2502.00004", json={"read": True})
    ada.post("/api/library/dismissed", json={"paper_id": "2502.00006"})
    ada_token = ada.post("/api/library/feed-token").json()["token"]
    # Reads: Bob sees only his own (empty) library.
    assert bob.get("/api/library/collections").json() == []
    assert bob.get(f"/api/library/collections/{cid}/papers").status_code == 404
    assert bob.get("/api/library/papers").json() == []
    assert bob.get("/api/library/notes/2502.00004").json()["note"] is None
    assert bob.get("/api/library/dismissed").json() == []
    assert bob.get("/api/library/explain").json()["weights"] == []
    assert bob.get("/api/library/recommendations").json() == []
    assert bob.get(f"/api/library/export?format=ris&collection_id={cid}").status_code == 404
    assert bob.get(f"/api/library/recommendations?collection_id={cid}").status_code == 404
    assert bob.get("/api/library/feed-token").json()["active"] is False
    # Changes: through Ada's collection id they fail; through his own they touch his data only.
    into = f"/api/library/collections/{cid}/papers"
    assert bob.post(into, json={"paper_id": "2502.00001"}).status_code == 404
    assert bob.patch(f"/api/library/collections/{cid}", json={"name": "pwned"}).status_code == 404
    assert bob.delete(f"/api/library/collections/{cid}").status_code == 404
    assert bob.delete(f"/api/library/collections/{cid}/papers/2502.00004").status_code == 404
    bob.delete("/api/library/papers/2502.00004")
    bob.put("/api/library/notes/2502.00004", json={"note": "bob's"})
    bob.delete("/api/library/dismissed/2502.00006")
    bob.post("/api/library/reset", json={"saved": True})
    bob.delete("/api/library/feed-token")
    bob.post("/api/library/feed-token")
    # Ada's library is as she left it.
    assert [(c["name"], c["size"]) for c in ada.get("/api/library/collections").json()] == [
        ("Ada's secrets", 1)
    ]
    [paper] = ada.get("/api/library/papers").json()
    assert (paper["id"], paper["note"], paper["read"]) == ("2502.00004", "ada only", True)
    assert [p["id"] for p in ada.get("/api/library/dismissed").json()] == ["2502.00006"]
    assert web_lib.feed_token_user(ada_token).email == "ada@example.org"
    # Bob's token from a session with Ada's cookie? His CSRF token does not work in her session.
    ada.headers["X-CSRF-Token"] = bob.headers["X-CSRF-Token"]
    assert ada.post("/api/library/reset", json={"saved": True}).status_code == 403


def test_the_dismissed_paper_is_hidden_from_its_user_only(two, web_lib: Library) -> None:
    ada, bob = two
    ada.post("/api/library/dismissed", json={"paper_id": "2502.00004"})
    ada_user = web_lib.accounts.user("ada@example.org")
    assert "2502.00004" not in {p.id for p in web_lib.daily(date="2025-02-04", user=ada_user)}
    assert "2502.00004" in {p.id for p in web_lib.daily(date="2025-02-04", user="bob@example.org")}


def test_the_openapi_spec_documents_the_library_and_s2_routes(web_lib: Library) -> None:
    with TestClient(create_app(library=web_lib)) as client:
        spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    for path in (
        "/api/library", "/api/library/collections", "/api/library/collections/{collection_id}/papers",
        "/api/library/dismissed", "/api/library/recommendations", "/api/library/export",
        "/api/library/import", "/api/library/feed-token",
        "/recommendations/v1/papers/", "/recommendations/v1/papers/forpaper/{paper_id}",
    ):
        assert path in paths, path
    schemas = spec["components"]["schemas"]
    assert {"CollectionOut", "SavedPaperOut", "RecommendationOut", "S2Paper", "PaperLists"} <= set(schemas)
    rec = paths["/api/library/recommendations"]["get"]["responses"]["200"]["content"]["application/json"]
    assert rec["schema"]["items"]["$ref"].endswith("RecommendationOut")
