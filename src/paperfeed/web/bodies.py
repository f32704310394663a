"""Request bodies limited before they are read.

A plain ASGI middleware: a request whose `Content-Length` is over its route's limit is answered
413 at once, without reading a byte of the body; a streamed (chunked) body is counted as it
arrives and cut off at the limit (the app sees a 413 error instead of more bytes), so nothing
larger than the limit is ever buffered or spooled to disk. Every route takes small forms
(`PAPERFEED_MAX_FORM_BYTES`, 64 KiB); the admin's import takes files up to
`PAPERFEED_MAX_UPLOAD_BYTES`, and only once the session cookie is known to be an admin's:
anyone else is held to the form limit there too.
"""

from __future__ import annotations

from collections.abc import Callable
from http.cookies import SimpleCookie

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

UPLOAD_PATHS = ("/admin/import",)


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is over {limit:,} bytes")


class BodyLimit:
    def __init__(
        self,
        app: ASGIApp,
        *,
        form_bytes: int,
        upload_bytes: int,
        is_admin: Callable[[str], bool],
        session_cookie: str,
    ) -> None:
        self.app = app
        self.form_bytes = form_bytes
        self.upload_bytes = upload_bytes
        self.is_admin = is_admin
        self.session_cookie = session_cookie

    def _limit(self, scope: Scope) -> int:
        if scope.get("path") in UPLOAD_PATHS:
            token = self._cookie(scope)
            if token and self.is_admin(token):
                return self.upload_bytes
        return self.form_bytes

    def _cookie(self, scope: Scope) -> str | None:
        for name, value in scope.get("headers", ()):
            if name == b"cookie":
                try:
                    morsel = SimpleCookie(value.decode("latin-1")).get(self.session_cookie)
                except Exception:  # noqa: BLE001 - a malformed cookie header is no session
                    return None
                return morsel.value if morsel else None
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        # Only a body that may be over the form limit is worth the admin lookup.
        small = declared is not None and 0 <= declared <= self.form_bytes
        limit = self.form_bytes if small else self._limit(scope)
        if declared is not None and declared > limit:
            await _refuse(send, 413, f"the request body is over {limit:,} bytes\n")
            return
        if declared == -1:
            await _refuse(send, 400, "bad Content-Length\n")
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, counting_receive, send)


def _content_length(scope: Scope) -> int | None:
    """The declared length, None when not declared (chunked), -1 when unreadable."""
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() else -1
    return None


async def _refuse(send: Send, status: int, text: str) -> None:
    body = text.encode()
    await send({
        "type": "http.response.start",
        "status": status,
        "headers": [
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ],
    })
    await send({"type": "http.response.body", "body": body})
