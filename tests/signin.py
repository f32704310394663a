"""Signing a test client in: an account made as `paperfeed users add` does (web sign-up goes by
an emailed link: tests/test_security_signup.py), then the log-in form."""

from __future__ import annotations

import re

import httpx
from fastapi.testclient import TestClient

from paperfeed.library import Library


def log_in_new(
    client: TestClient, email: str, password: str = "correct horse", next_path: str = "/"
) -> httpx.Response:
    """Make the account (unless it exists) and log the client in; the log-in's 303."""
    lib: Library = client.app.state.library  # type: ignore[attr-defined]
    if not lib.accounts.exists(email):
        lib.accounts.signup(email, password)
    form = client.get("/login").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
    r = client.post("/login", data={"csrf": csrf, "email": email, "password": password, "next": next_path})
    assert r.status_code == 303, r.text
    return r
