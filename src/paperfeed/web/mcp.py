"""The MCP server over streamable HTTP at `/mcp` on the web app. Stateless, with JSON answers:
any worker process can answer any request. The caller is the owner of the personal access token
in the `Authorization: Bearer` header (none: the read tools only).

DNS-rebinding protection (a check of the Host header) is off: the tools read public data, and a
page that rebinds a name to this server cannot send the bearer token that the personal tools
need."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from mcp.server.mcpserver import Context
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from paperfeed.access_tokens import AccessTokens
from paperfeed.library import Library
from paperfeed.mcp_server import Caller, build_server
from paperfeed.web.tokens import bearer

PATH = "/mcp"


def token_caller(lib: Library, secret: str | None) -> Caller | None:
    token = AccessTokens(lib.store.db).verify(secret) if secret else None
    return Caller(user_id=token.user_id, can_write=token.can_write) if token else None


class _Endpoint:
    """The ASGI app at `/mcp` (a class: Starlette would treat a plain function as a request
    handler): the newest running session manager answers."""

    def __init__(self, running: list[StreamableHTTPSessionManager]) -> None:
        self.running = running

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self.running:
            await PlainTextResponse("the MCP server is not running", status_code=503)(scope, receive, send)
            return
        await self.running[-1].handle_request(scope, receive, send)


def mount(app: FastAPI, lib: Library) -> None:
    """Add `/mcp` to the app, with an MCP session manager running for each run of the app's
    lifespan (a manager runs once; a test client may start the same app several times)."""

    def identify(ctx: Context) -> Caller | None:
        headers = ctx.headers or {}
        return token_caller(lib, bearer(headers.get("authorization")))

    server = build_server(lib, identify)
    running: list[StreamableHTTPSessionManager] = []

    def new_manager() -> StreamableHTTPSessionManager:
        server.streamable_http_app(  # builds a fresh session manager on the server
            streamable_http_path=PATH,
            stateless_http=True,
            json_response=True,
            transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        )
        return server.session_manager

    app.router.routes.append(Route(PATH, endpoint=_Endpoint(running), methods=["GET", "POST", "DELETE"]))
    previous = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(a: Any) -> AsyncIterator[Any]:
        manager = new_manager()
        async with previous(a) as state, manager.run():
            running.append(manager)
            try:
                yield state
            finally:
                running.remove(manager)

    app.router.lifespan_context = lifespan
