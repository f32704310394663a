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
from mcp.server.transport_security import TransportSecuritySettings

from paperfeed.access_tokens import AccessTokens
from paperfeed.library import Library
from paperfeed.mcp_server import Caller, build_server

PATH = "/mcp"


def bearer(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header value."""
    scheme, _, token = (authorization or "").strip().partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def token_caller(lib: Library, secret: str | None) -> Caller | None:
    token = AccessTokens(lib.store.db).verify(secret) if secret else None
    return Caller(user_id=token.user_id, can_write=token.can_write) if token else None


def mount(app: FastAPI, lib: Library) -> None:
    """Add `/mcp` to the app, and run the MCP session manager for the app's lifetime."""

    def identify(ctx: Context) -> Caller | None:
        headers = ctx.headers or {}
        return token_caller(lib, bearer(headers.get("authorization")))

    server = build_server(lib, identify)
    sub = server.streamable_http_app(
        streamable_http_path=PATH,
        stateless_http=True,
        json_response=True,
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
    )
    app.router.routes.extend(sub.routes)
    previous = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(a: Any) -> AsyncIterator[Any]:
        async with previous(a) as state, server.session_manager.run():
            yield state

    app.router.lifespan_context = lifespan
