"""The OpenAPI spec of the Hugging Face-compatible routes and the feeds: typed item schemas that
match HF's own (the required fields and names of pyhfapi's models, generated from HF's spec), the
error body of every documented 400 / 404 / 422 (and real error answers validating against it),
and feeds declared in their XML media types (and served in them)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openapi_schema
import pytest
import webdata
from fastapi.testclient import TestClient
from pydantic import BaseModel
from pyhfapi.types.api_get_daily_papers_response import (
    APIGetDailyPapersResponseItem,
    APIGetDailyPapersResponseItemPaper,
    APIGetDailyPapersResponseItemPaperAuthor,
    APIGetDailyPapersResponseItemSubmittedBy,
)

from paperfeed.web.app import create_app

ATOM, RSS = "application/atom+xml", "application/rss+xml"
# Each HF route and the error codes it can answer with.
HF_ROUTES = {
    "/api/daily_papers": {400, 422},
    "/api/papers/search": {422},
    "/api/papers/{paper_id}": {404},
    "/api/papers/{paper_id}/related": {404, 422},
}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    import paperfeed

    root: Path = tmp_path_factory.mktemp("openapi")
    with paperfeed.open(root / "home") as lib:
        webdata.build(lib, root / "data")
        yield TestClient(create_app(library=lib))


@pytest.fixture(scope="module")
def spec(client: TestClient) -> dict[str, Any]:
    return client.get("/openapi.json").json()


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _untyped_objects(spec: dict[str, Any], schema: Any, seen: set[str], where: str = "") -> list[str]:
    """Every place under `schema` that is an object without named properties."""
    if isinstance(schema, list):
        return [w for i, s in enumerate(schema) for w in _untyped_objects(spec, s, seen, f"{where}[{i}]")]
    if not isinstance(schema, dict):
        return []
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        if name in seen:
            return []
        seen.add(name)
        return _untyped_objects(spec, spec["components"]["schemas"][name], seen, name)
    found = [where] if schema.get("type") == "object" and not schema.get("properties") else []
    for key in ("items", "anyOf", "oneOf", "allOf", "properties"):
        if key in schema:
            sub = schema[key]
            sub = list(sub.values()) if key == "properties" else sub
            found += _untyped_objects(spec, sub, seen, f"{where}.{key}")
    return found


def _ok_schema(spec: dict[str, Any], path: str) -> dict[str, Any]:
    return spec["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]


@pytest.mark.parametrize("path", sorted(HF_ROUTES))
def test_hf_routes_declare_typed_schemas(spec: dict[str, Any], path: str) -> None:
    schema = _ok_schema(spec, path)
    assert _untyped_objects(spec, schema, set()) == []
    item = _resolve(spec, schema["items"]) if schema.get("type") == "array" else _resolve(spec, schema)
    assert item.get("properties"), path
    paper = _resolve(spec, item["properties"]["paper"]) if "paper" in item["properties"] else item
    assert paper["properties"]["publishedAt"] == {**paper["properties"]["publishedAt"], "type": "string",
                                                  "format": "date-time"}
    assert "publishedAt" in paper["required"]  # never null, not even for an undated paper


def _required_and_names(model: type[BaseModel]) -> tuple[set[str], set[str]]:
    schema = model.model_json_schema(by_alias=True)
    return set(schema.get("required", [])), set(schema["properties"])


@pytest.mark.parametrize(("ours", "theirs"), [
    ("HFDailyItem", APIGetDailyPapersResponseItem),
    ("HFPaper", APIGetDailyPapersResponseItemPaper),
    ("HFAuthor", APIGetDailyPapersResponseItemPaperAuthor),
    ("HFUser", APIGetDailyPapersResponseItemSubmittedBy),
])
def test_the_item_schemas_match_hfs_own(spec: dict[str, Any], ours: str, theirs: type[BaseModel]) -> None:
    """The same required fields as HF's spec (through pyhfapi's generated models), and every field
    HF's spec names."""
    schema = spec["components"]["schemas"][ours]
    required, names = _required_and_names(theirs)
    assert set(schema["required"]) == required
    assert names <= set(schema["properties"])


def test_the_daily_items_schema_is_the_one_of_search_and_related(spec: dict[str, Any]) -> None:
    daily = _ok_schema(spec, "/api/daily_papers")["items"]
    assert _ok_schema(spec, "/api/papers/search")["items"] == daily
    related = _resolve(spec, _ok_schema(spec, "/api/papers/{paper_id}/related")["items"])
    assert related["properties"]["score"]["type"] == "number" and "score" in related["required"]
    assert _resolve(spec, daily)["properties"]["paper"] == {"$ref": "#/components/schemas/HFPaper"}
    assert _ok_schema(spec, "/api/papers/{paper_id}") == {"$ref": "#/components/schemas/HFPaper"}


@pytest.mark.parametrize("path", sorted(HF_ROUTES))
def test_hf_routes_document_their_errors_with_the_error_body(spec: dict[str, Any], path: str) -> None:
    responses = spec["paths"][path]["get"]["responses"]
    for code in HF_ROUTES[path]:
        assert responses[str(code)]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/ErrorBody"
        }, (path, code)
    assert "HTTPValidationError" not in str(responses)  # FastAPI's default 422 is not our body
    body = spec["components"]["schemas"]["ErrorBody"]
    assert body["required"] == ["error"] and body["properties"]["error"]["type"] == "string"


@pytest.mark.parametrize(("path", "url", "status"), [
    ("/api/papers/{paper_id}", "/api/papers/2502.99999", 404),
    ("/api/papers/{paper_id}/related", "/api/papers/2502.99999/related", 404),
    ("/api/papers/{paper_id}/related", "/api/papers/2502.00004/related?limit=0", 422),
    ("/api/daily_papers", "/api/daily_papers?date=2025-02-30", 400),
    ("/api/daily_papers", "/api/daily_papers?week=2025-W99", 400),
    ("/api/daily_papers", "/api/daily_papers?limit=500", 422),
    ("/api/daily_papers", "/api/daily_papers?sort=upvotes", 422),
    ("/api/daily_papers", "/api/daily_papers?p=-1", 422),
    ("/api/papers/search", "/api/papers/search?q=x&limit=121", 422),
    ("/api/papers/search", "/api/papers/search?q=" + "x" * 251, 422),
    ("/feeds/daily.{fmt}", "/feeds/daily.atom?date=2025-02-30", 400),
    ("/feeds/daily.{fmt}", "/feeds/daily.xml", 422),
    ("/feeds/search.{fmt}", "/feeds/search.rss?q=x&mode=bogus", 400),
    ("/feeds/search.{fmt}", "/feeds/search.rss", 422),
])
def test_error_answers_are_the_documented_body(
    client: TestClient, spec: dict[str, Any], path: str, url: str, status: int
) -> None:
    r = client.get(url)
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/json"
    check = openapi_schema.validator(openapi_schema.closed(spec), path, status)
    assert openapi_schema.problems(check, r.json()) == []
    assert r.json()["error"]
    if status == 422:
        assert r.json()["detail"][0]["loc"][0] in ("query", "path")


def test_every_feed_route_is_declared_as_a_feed(spec: dict[str, Any]) -> None:
    feeds = {p: v["get"] for p, v in spec["paths"].items() if p.startswith("/feeds/")}
    assert len(feeds) == 7
    for path, op in feeds.items():
        media = set(op["responses"]["200"]["content"])
        personal = path.startswith(("/feeds/u/", "/feeds/me/"))
        assert media == ({ATOM} if personal else {ATOM, RSS}), path
        for code, answer in op["responses"].items():
            if code != "200":
                assert answer["content"]["application/json"]["schema"] == {
                    "$ref": "#/components/schemas/ErrorBody"
                }, (path, code)
    assert "401" in feeds["/feeds/me/for-you.atom"]["responses"]
    assert "404" in feeds["/feeds/me/c/{collection_id}.atom"]["responses"]


@pytest.mark.parametrize("url", ["/feeds/daily.atom", "/feeds/daily.rss", "/feeds/trending.atom",
                                 "/feeds/trending.rss", "/feeds/search.atom?q=decoding",
                                 "/feeds/search.rss?q=decoding"])
def test_feeds_are_served_in_the_declared_media_type(client: TestClient, url: str) -> None:
    r = client.get(url)
    assert r.status_code == 200
    declared = ATOM if ".atom" in url else RSS
    assert r.headers["content-type"].split(";")[0] == declared
    assert r.text.lstrip().startswith("<?xml")
