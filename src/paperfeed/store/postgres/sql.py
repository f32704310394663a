"""PostgreSQL spellings of the portable SQL: placeholders, NUL characters, filter conditions."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from paperfeed.store.base import Filters
from paperfeed.store.rows import filter_sql

_TOKEN_RE = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|\?|%|[^'\"?%]+", re.S)

@lru_cache(maxsize=4096)
def to_pyformat(sql: str) -> str:
    """Portable `?` placeholders to psycopg's `%s` (and a literal `%` to `%%`), leaving quoted
    strings and identifiers alone."""
    out: list[str] = []
    for token in _TOKEN_RE.findall(sql):
        if token == "?":
            out.append("%s")
        elif "%" in token:
            out.append(token.replace("%", "%%"))
        else:
            out.append(token)
    return "".join(out)


def nul_free(value: Any) -> Any:
    """PostgreSQL text cannot hold NUL characters (SQLite can): they become U+FFFD, on writes and
    on lookups alike, so a value written and the same value looked up still meet."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd") if "\x00" in value else value
    if isinstance(value, list | tuple):
        return type(value)(nul_free(v) for v in value)
    return value


def pg_filter_sql(filters: Filters, alias: str = "p") -> tuple[str, list[Any]]:
    """`store.rows.filter_sql`, in psycopg's placeholder style (the same conditions; SQLite's
    LIKE ignores ASCII case, so here it is ILIKE)."""
    sql, params = filter_sql(filters, alias, like="ILIKE")
    return to_pyformat(sql), params

