"""How members are named in public (submissions, comments): never by their address."""

from __future__ import annotations


def display_name(email: str) -> str:
    """The part of the address before `@`: `ada@example.org` is `ada`."""
    return email.split("@", 1)[0][:64] or "member"
