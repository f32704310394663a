"""Request bodies are limited before they are read: on a real uvicorn server, a huge declared or
streamed (chunked) body is answered 413 while the client is still sending, never spooled whole;
only a signed-in admin's import may send more."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import webdata

from paperfeed.library import Library

MiB = 1 << 20


@pytest.fixture
def server(lib: Library, tmp_path: Path) -> Iterator[str]:
    webdata.build(lib, tmp_path / "data")
    lib.accounts.signup("admin@example.org", "correct horse", admin=True)
    lib.accounts.signup("member@example.org", "correct horse")
    with webdata.serving(lib) as url:
        yield url


def _connect(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=30)
    return sock


def _status(sock: socket.socket) -> int:
    """The status of the server's answer (read with the socket's timeout as a deadlock guard)."""
    head = b""
    while b"\r\n" not in head:
        chunk = sock.recv(4096)
        if not chunk:
            break
        head += chunk
    match = re.match(rb"HTTP/1\.1 (\d{3})", head)
    assert match, head[:200]
    return int(match.group(1))


def _session_cookie(url: str, email: str) -> str:
    with httpx.Client(base_url=url, follow_redirects=False) as c:
        token = re.search(r'name="csrf" value="([^"]+)"', c.get("/login").text).group(1)  # type: ignore[union-attr]
        r = c.post("/login", data={"csrf": token, "email": email, "password": "correct horse"})
        assert r.status_code == 303
        return f"pf_session={c.cookies['pf_session']}"


@pytest.mark.parametrize("path", ["/papers/2502.00001/upvote", "/login", "/subscribe", "/signup"])
def test_a_declared_huge_body_is_refused_before_it_is_sent(server: str, path: str) -> None:
    with _connect(server) as sock:
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            f"Content-Length: {600 * MiB}\r\n\r\n".encode() + b"next=/&" + b"a" * 1000
        )
        assert _status(sock) == 413  # answered with 599 MiB still to come


def _chunked_stream(sock: socket.socket, path: str, cookie: str = "", megabytes: int = 8) -> int:
    """Stream a multipart upload chunk by chunk, stopping as soon as the server answers (the
    declared stream is far longer). Returns the status."""
    boundary = "b0undary"
    head = (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
        + (f"Cookie: {cookie}\r\n" if cookie else "") + "\r\n"
    )
    sock.sendall(head.encode())
    part = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"x.json\"\r\n"
            "Content-Type: application/json\r\n\r\n").encode()
    sock.sendall(f"{len(part):x}\r\n".encode() + part + b"\r\n")
    block = b"0" * (256 * 1024)
    for _ in range(megabytes * 4):
        try:
            sock.sendall(f"{len(block):x}\r\n".encode() + block + b"\r\n")
        except (BrokenPipeError, ConnectionResetError):
            break  # the server stopped reading: its answer is waiting
    return _status(sock)


@pytest.mark.parametrize("path", ["/papers/2502.00001/upvote", "/login", "/subscribe"])
def test_a_streamed_body_is_cut_off_at_the_form_limit(server: str, path: str) -> None:
    with _connect(server) as sock:
        assert _chunked_stream(sock, path) == 413


def test_only_an_admin_may_send_a_large_import(server: str) -> None:
    member = _session_cookie(server, "member@example.org")
    with _connect(server) as sock:
        assert _chunked_stream(sock, "/admin/import", member) == 413
    admin = _session_cookie(server, "admin@example.org")
    fixture = Path(__file__).parent / "fixtures" / "hf_daily.json"
    with httpx.Client(base_url=server, follow_redirects=False) as c:
        c.cookies.set("pf_session", admin.split("=", 1)[1])
        token = re.search(r'name="csrf" value="([^"]+)"', c.get("/account").text).group(1)  # type: ignore[union-attr]
        padding = b" " * (2 * MiB)  # over the form limit, well under the import limit
        r = c.post("/admin/import", data={"csrf": token},
                   files={"files": ("hf_daily.json", fixture.read_bytes() + padding, "application/json")})
        assert r.status_code == 200 and "imported: 2" in r.text, r.text[-500:]
