"""The MCP server with the official SDK's own client, over both transports: streamable HTTP at
`/mcp` on a live uvicorn server, and stdio (`paperfeed mcp` spawned with a temporary home)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
import webdata
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from paperfeed.access_tokens import AccessTokens

EMAIL = "ada@example.org"


class Served:
    def __init__(self, url: str, lib: Any, read: str, write: str, other: str) -> None:
        self.url, self.lib, self.read, self.write, self.other = url, lib, read, write, other


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    import paperfeed

    root: Path = tmp_path_factory.mktemp("mcp")
    with paperfeed.open(root / "home") as lib:
        webdata.build(lib, root / "data")
        ada = lib.accounts.signup(EMAIL, "correct horse")
        bob = lib.accounts.signup("bob@example.org", "battery staple")
        tokens = AccessTokens(lib.store.db)
        _, read = tokens.create(ada.id, "read", "reader")
        _, write = tokens.create(ada.id, "write", "agent")
        _, other = tokens.create(bob.id, "write", "bob's")
        with webdata.serving(lib) as url:
            yield Served(url, lib, read, write, other)


@asynccontextmanager
async def http_session(url: str, token: str | None = None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=30) as client,
        streamable_http_client(url + "/mcp", http_client=client) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


def call(url: str, name: str, args: dict[str, Any] | None = None, token: str | None = None) -> Any:
    async def go() -> Any:
        async with http_session(url, token) as session:
            return await session.call_tool(name, args or {})
    return anyio.run(go)


def test_tools_are_listed_with_typed_outputs(served: Served) -> None:
    async def go() -> Any:
        async with http_session(served.url) as session:
            return (await session.list_tools()).tools
    tools = {t.name: t for t in anyio.run(go)}
    assert {"search", "paper", "related", "daily", "trending", "recommend", "save", "dismiss"} <= set(tools)
    for tool in tools.values():
        assert tool.output_schema and tool.output_schema.get("type") == "object", tool.name
    assert tools["search"].input_schema["properties"]["limit"]["maximum"] == 100


def test_search_paper_related_daily_trending_over_http(served: Served) -> None:
    found = call(served.url, "search", {"query": "speculative decoding", "mode": "keyword", "limit": 3})
    assert not found.is_error
    papers = found.structured_content["papers"]
    assert papers[0]["id"] == "2502.00004" and len(papers) <= 3
    assert papers[0]["authors"] == ["Alan Turing", "Barbara Liskov"]
    by_author = call(served.url, "search", {"query": "speculative", "author": "Alan Turing"})
    assert {p["id"] for p in by_author.structured_content["papers"]} == {"2502.00004"}
    one = call(served.url, "paper", {"id": "2501.09999v2"}).structured_content
    assert one["title"] == "Language Model Decoding Strategies Revisited" and one["date"] == "2025-01-17"
    related = call(served.url, "related", {"id": "2502.00004", "limit": 3}).structured_content["papers"]
    assert related and "2502.00004" not in {p["id"] for p in related}
    day = call(served.url, "daily", {"date": "2025-02-04"}).structured_content
    assert day["period"]["label"] == "2025-02-04"
    assert [p["id"] for p in day["papers"]] == ["2502.00004", "2502.00005", "2502.00003"]
    week = call(served.url, "daily", {"week": "2025-W06"}).structured_content
    assert len(week["papers"]) == 7
    trending = call(served.url, "trending", {}).structured_content["papers"]
    assert {p["id"] for p in trending} >= {"2502.00006", "2502.00007"}


def test_a_paper_is_a_markdown_resource(served: Served) -> None:
    async def go(uri: str) -> Any:
        async with http_session(served.url) as session:
            try:
                return await session.read_resource(uri)
            except MCPError as exc:  # inside the session: its task group would wrap it
                return exc
    result = anyio.run(go, "paper://2502.00004")
    (content,) = result.contents
    assert content.mime_type == "text/markdown"
    assert content.text.startswith("# Speculative Decoding for Large Language Models")
    missing = anyio.run(go, "paper://2999.99999")
    assert isinstance(missing, MCPError) and "no such paper" in str(missing)


def test_bad_input_is_a_clear_error(served: Served) -> None:
    unknown = call(served.url, "no_such_tool", {})
    assert unknown.is_error and "no_such_tool" in unknown.content[0].text
    wrong = call(served.url, "search", {"query": "x", "limit": "many"})
    assert wrong.is_error and "limit" in wrong.content[0].text
    huge = call(served.url, "search", {"query": "x", "limit": 10**9})
    assert huge.is_error and "limit" in huge.content[0].text
    missing = call(served.url, "paper", {"id": "2999.99999"})
    assert missing.is_error and "no such paper" in missing.content[0].text
    bad_date = call(served.url, "daily", {"date": "2025-13-45"})
    assert bad_date.is_error and "date" in bad_date.content[0].text


def test_personal_tools_need_a_token_and_write_needs_write(served: Served) -> None:
    lib = served.lib
    before = [s.paper.id for s in lib.library_list(None, EMAIL)]
    for token in (None, "pft_not-a-real-token", served.read):
        result = call(served.url, "save", {"paper_id": "2502.00004", "collection": "Agents"}, token)
        assert result.is_error and "token" in result.content[0].text, token
        result = call(served.url, "dismiss", {"paper_id": "2502.00001"}, token)
        assert result.is_error and "token" in result.content[0].text
    assert [s.paper.id for s in lib.library_list(None, EMAIL)] == before
    assert lib.dismissed(EMAIL) == []
    no_token = call(served.url, "recommend", {})
    assert no_token.is_error and "token" in no_token.content[0].text

    saved = call(served.url, "save", {"paper_id": "2502.00004v1", "collection": "Agents"}, served.write)
    assert not saved.is_error and saved.structured_content == {"paper_id": "2502.00004", "collection": "Agents"}
    assert "2502.00004" in [s.paper.id for s in lib.library_list("Agents", EMAIL)]
    dismissed = call(served.url, "dismiss", {"paper_id": "2502.00001"}, served.write)
    assert dismissed.structured_content == {"paper_id": "2502.00001", "dismissed": True}
    assert [p.id for p in lib.dismissed(EMAIL)] == ["2502.00001"]
    # bob's token acts for bob only
    call(served.url, "save", {"paper_id": "2502.00002", "collection": "Bob"}, served.other)
    assert "Bob" not in [c.name for c in lib.collections(EMAIL)]
    recs = call(served.url, "recommend", {"limit": 5}, served.read)  # read tokens may read
    assert not recs.is_error
    ids = {p["id"] for p in recs.structured_content["papers"]}
    assert not ids & {"2502.00004", "2502.00001"}  # never a saved or dismissed paper


def stdio_params(home: Path, **env: str) -> StdioServerParameters:
    src = str(Path(__file__).resolve().parents[1] / "src")
    return StdioServerParameters(
        command=sys.executable,
        args=["-m", "paperfeed.cli", "--home", str(home), "mcp"],
        env={"PYTHONPATH": src, "HF_HUB_OFFLINE": "1", "HOME": str(home), **env},
    )


def test_stdio_transport(tmp_path: Path) -> None:
    import paperfeed

    home = tmp_path / "home"
    with paperfeed.open(home) as lib:
        webdata.build(lib, tmp_path / "data")
        owner = lib.user_of(None)
        user = lib.accounts.signup(EMAIL, "correct horse")
        _, read = AccessTokens(lib.store.db).create(user.id, "read")

    async def go(params: StdioServerParameters) -> tuple[Any, Any, Any]:
        async with stdio_client(params) as (r, w), ClientSession(r, w) as session:
            await session.initialize()
            found = await session.call_tool("search", {"query": "speculative decoding", "limit": 2})
            saved = await session.call_tool("save", {"paper_id": "2502.00004", "collection": "Stdio"})
            resource = await session.read_resource("paper://2502.00005")
            return found, saved, resource

    found, saved, resource = anyio.run(go, stdio_params(home))
    assert found.structured_content["papers"][0]["id"] == "2502.00004"
    assert not saved.is_error  # no token: the instance owner, read-write
    assert resource.contents[0].text.startswith("# Speculative Sampling with Draft Trees")
    _, refused, _ = anyio.run(go, stdio_params(home, PAPERFEED_TOKEN=read))
    assert refused.is_error and "read-only" in refused.content[0].text
    with paperfeed.open(home) as lib:
        assert [s.paper.id for s in lib.library_list("Stdio", owner.id)] == ["2502.00004"]
        assert lib.collections(user.id) == []
