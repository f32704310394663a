"""The papers table's row mapping and filter conditions, written once for every backend.

Both engines store a paper as the same columns (`COLUMNS`, then `added_at` and `changed_at`);
a row read back is the backend's integer key followed by `COLUMNS` in order. SQL here uses `?`
placeholders (the PostgreSQL backend rewrites them, see `store.postgres.sql.to_pyformat`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

import orjson

from paperfeed.records import Author, Paper, title_key
from paperfeed.store.base import Filters

COLUMNS = (
    "id title_key title abstract author_names authors author_count organization "
    "organization_name categories published updated submitted_to_daily upvotes comments "
    "github_repo github_stars project_page doi journal_ref license version sources title_raw "
    "abstract_raw extra "
).split()


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def iso(d: date | None) -> str | None:
    return d.isoformat() if d else None


def day(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


def paper_to_row(p: Paper, key: str | None = None) -> tuple[Any, ...]:
    authors = (
        orjson.dumps([[a.name, a.affiliation] if a.affiliation else [a.name] for a in p.authors])
        if p.authors
        else None
    )
    return (
        p.id,
        key if key is not None else title_key(p.title),
        p.title,
        p.abstract,
        ", ".join(a.name for a in p.authors),
        authors,
        p.author_count,
        p.organization,
        p.organization_name,
        " ".join(p.categories),
        iso(p.published),
        iso(p.updated),
        iso(p.submitted_to_daily),
        p.upvotes,
        p.comments,
        p.github_repo,
        p.github_stars,
        p.project_page,
        p.doi,
        p.journal_ref,
        p.license,
        p.version,
        orjson.dumps(p.sources).decode(),
        p.title_raw,
        p.abstract_raw,
        orjson.dumps(p.extra).decode() if p.extra else None,
    )


def row_to_paper(row: Sequence[Any]) -> Paper:
    """Rows are the backend's key first, then `COLUMNS` in order."""
    (
        _key, pid, _title_key, title, abstract, _names, authors, author_count, organization,
        organization_name, categories, published, updated, submitted, upvotes, comments,
        github_repo, github_stars, project_page, doi, journal_ref, license_, version, sources,
        title_raw, abstract_raw, extra,
    ) = row
    return Paper(
        id=pid,
        title=title,
        abstract=abstract,
        authors=[Author(*a) for a in orjson.loads(authors)] if authors else [],
        author_count=author_count,
        organization=organization,
        organization_name=organization_name,
        categories=categories.split() if categories else [],
        published=day(published),
        updated=day(updated),
        submitted_to_daily=day(submitted),
        upvotes=upvotes,
        comments=comments,
        github_repo=github_repo,
        github_stars=github_stars,
        project_page=project_page,
        doi=doi,
        journal_ref=journal_ref,
        license=license_,
        version=version,
        sources=orjson.loads(sources),
        title_raw=title_raw,
        abstract_raw=abstract_raw,
        extra=orjson.loads(extra) if extra else {},
    )


def filter_sql(filters: Filters, alias: str = "p", like: str = "LIKE") -> tuple[str, list[Any]]:
    """SQL conditions (joined with AND, starting with AND) and their parameters. `like` is the
    case-insensitive LIKE of the engine (SQLite's LIKE ignores ASCII case; PostgreSQL's ILIKE)."""
    sql: list[str] = []
    params: list[Any] = []
    if filters.since:
        sql.append(f"{alias}.day >= ?")
        params.append(filters.since.isoformat())
    if filters.until:
        sql.append(f"{alias}.day <= ?")
        params.append(filters.until.isoformat())
    if filters.category:
        cat = filters.category.strip()
        # `cs` matches every cs.* category; `cs.LG` matches exactly.
        pattern = f"% {cat} %" if "." in cat or "/" in cat else f"% {cat}.%"
        sql.append(f"(' ' || {alias}.categories || ' ') {like} ? ESCAPE '\\'")
        params.append(pattern.replace("_", "\\_"))
    if filters.organization:
        sql.append(f"(lower({alias}.organization) = lower(?) OR lower({alias}.organization_name) = lower(?))")
        params += [filters.organization, filters.organization]
    if filters.author:
        sql.append(f"{alias}.author_names {like} ? ESCAPE '\\'")
        escaped = filters.author.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        params.append(f"%{escaped}%")
    if filters.min_upvotes is not None:
        sql.append(f"coalesce({alias}.upvotes, 0) >= ?")
        params.append(filters.min_upvotes)
    return "".join(f" AND {s}" for s in sql), params
