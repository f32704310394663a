"""Forwarded headers are trusted only from configured proxies (`PAPERFEED_TRUSTED_PROXIES`), so the
per-client login limit is keyed on the real client: `paperfeed serve` in a child process, as an
operator runs it."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from paperfeed.accounts import MAX_FAILURES_PER_CLIENT


@contextmanager
def serve(home: Path, **env: str) -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "paperfeed.cli", "--home", str(home), "serve", "--port", str(port)],
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), **env},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, "serve exited"
            try:
                httpx.get(url + "/about", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "serve did not start"
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def failed_logins(url: str, count: int, forwarded: Iterator[str] | None) -> list[int]:
    statuses = []
    with httpx.Client(base_url=url) as c:
        token = re.search(r'name="csrf" value="([^"]+)"', c.get("/login").text).group(1)  # type: ignore[union-attr]
        for i in range(count):
            headers = {"X-Forwarded-For": next(forwarded)} if forwarded else {}
            r = c.post("/login", headers=headers,
                       data={"csrf": token, "email": f"u{i}@example.org", "password": "wrong pw!"})
            statuses.append(r.status_code)
    return statuses


def rotating() -> Iterator[str]:
    n = 0
    while True:
        n += 1
        yield f"198.51.100.{n % 250}"


def test_a_rotating_x_forwarded_for_from_an_untrusted_client_does_not_escape_the_limit(tmp_path: Path) -> None:
    with serve(tmp_path / "home") as url:
        statuses = failed_logins(url, MAX_FAILURES_PER_CLIENT + 1, rotating())
    assert statuses[:-1] == [400] * MAX_FAILURES_PER_CLIENT
    assert statuses[-1] == 429


def test_behind_a_trusted_proxy_the_limit_is_per_forwarded_client(tmp_path: Path) -> None:
    with serve(tmp_path / "home", PAPERFEED_TRUSTED_PROXIES="127.0.0.1") as url:
        one = failed_logins(url, MAX_FAILURES_PER_CLIENT + 1, iter(["203.0.113.9"] * 100))
        other = failed_logins(url, 3, iter(["203.0.113.10"] * 10))
    assert one[-1] == 429
    assert other == [400, 400, 400]  # one client's failures do not lock out everyone behind the proxy
