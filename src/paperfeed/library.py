"""The Library: the one API that the CLI and the web app are thin faces over.

    import paperfeed
    with paperfeed.open("~/papers") as lib:
        lib.import_files(["arxiv-metadata-oai-snapshot.json.gz"])
        for hit in lib.search("speculative decoding", limit=5):
            print(hit.score, hit.paper.title)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

from paperfeed import feeds, search
from paperfeed.config import Config
from paperfeed.embed.engine import SemanticEngine
from paperfeed.errors import InvalidInput, NotFound
from paperfeed.importer import ImportReport, Progress
from paperfeed.importer import import_files as _import_files
from paperfeed.records import Paper, parse_arxiv_id
from paperfeed.search import Hit
from paperfeed.store.base import Filters, ImportLogEntry, Store

SearchMode = Literal["keyword", "semantic", "hybrid"]
MODES = ("keyword", "semantic", "hybrid")
MAX_LIMIT = 1000


def open_store(config: Config) -> Store:
    if config.is_postgres:
        raise InvalidInput("the PostgreSQL backend is not built yet; use SQLite")
    from paperfeed.store.sqlite import SQLiteStore

    return SQLiteStore(config.sqlite_path)


class Library:
    def __init__(self, config: Config | None = None) -> None:
        self.config = config or Config.from_env()
        self.store = open_store(self.config)
        self.semantic = open_semantic(self.config, self.store)

    # -- context manager ----------------------------------------------------------------------

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self.semantic is not None:
            self.semantic.close()
        self.store.close()

    # -- ingestion ----------------------------------------------------------------------------

    def import_files(
        self,
        paths: Iterable[Path | str],
        format: str | None = None,
        *,
        progress: Progress | None = None,
        index: bool = True,
    ) -> ImportReport:
        """Import files (format detected by content unless given). Bad records are reported in
        the result and skipped; the rest is imported. `index=False` skips embedding."""
        embed = self.semantic.embed_ids if index and self.semantic is not None else None
        try:
            return _import_files(self.store, paths, format, progress=progress, on_change=embed)
        finally:
            if self.semantic is not None:
                self.semantic.save()

    # -- vectors (issue 3) ----------------------------------------------------------------------

    def index(
        self, encoder: str | None = None, progress: Callable[[int], None] | None = None
    ) -> dict[str, Any]:
        """Embed every paper that lacks a vector. With `encoder` naming another encoder than
        the stored vectors', switch: the old vectors are dropped and everything is re-embedded."""
        if self.semantic is None:
            raise InvalidInput("vectors need the SQLite backend for now")
        switched = self.semantic.use_encoder(encoder)
        embedded = self.semantic.embed_missing(progress)
        return {
            "encoder": self.semantic.encoder_name,
            "embedded": embedded,
            "switched": switched,
            "vectors": len(self.semantic.index),
        }

    def missing_vectors(self) -> int:
        """How many papers `index` would embed."""
        return self.semantic.vectors.count_missing() if self.semantic is not None else 0

    def has_vectors(self) -> bool:
        return self.semantic is not None and self.semantic.has_vectors()

    def related(self, paper_id: str, limit: int = 10) -> list[Hit]:
        """The papers most like the given one (see `paperfeed.related`); NotFound for an
        unknown id."""
        from paperfeed.related import related

        if not 1 <= limit <= MAX_LIMIT:
            raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}")
        paper = self.get(paper_id)
        if paper is None:
            raise NotFound(f"no such paper: {paper_id[:80]}")
        return related(self.store, self.semantic, paper, limit=limit)

    # -- reading ------------------------------------------------------------------------------

    def get(self, paper_id: str) -> Paper | None:
        """A paper by id: arXiv id with or without version, an arXiv URL, or a title id."""
        parsed = parse_arxiv_id(paper_id)
        return self.store.get(parsed[0] if parsed else paper_id.strip())

    def search(
        self,
        query: str,
        mode: SearchMode | None = None,
        limit: int = 10,
        since: date | str | None = None,
        until: date | str | None = None,
        category: str | None = None,
        organization: str | None = None,
        author: str | None = None,
        min_upvotes: int | None = None,
    ) -> list[Hit]:
        if mode is None:  # hybrid once vectors exist
            mode = "hybrid" if self.has_vectors() else "keyword"
        if mode not in MODES:
            raise InvalidInput(f"mode must be one of {', '.join(MODES)}, not {str(mode)[:40]!r}")
        if not 1 <= limit <= MAX_LIMIT:
            raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}")
        filters = Filters(
            since=feeds.parse_date(since, "since") if since else None,
            until=feeds.parse_date(until, "until") if until else None,
            category=category or None,
            organization=organization or None,
            author=author or None,
            min_upvotes=min_upvotes,
        )
        if mode != "keyword" and not self.has_vectors():
            raise InvalidInput(f"{mode} search needs vectors: run `paperfeed index` first")
        if mode == "semantic":
            hits = search.semantic_search(
                self.store, self.semantic, query, limit=limit, filters=filters
            )
        elif mode == "hybrid":
            hits = search.hybrid_search(
                self.store, self.semantic, query, limit=limit, filters=filters
            )
        else:
            hits = search.keyword_search(self.store, query, limit=limit, filters=filters)
        if filters.empty:
            hits = search.with_exact_first(self.store, query, hits, limit)
        return hits

    def daily(
        self,
        date: date | str | None = None,
        week: str | None = None,
        month: str | None = None,
        sort: feeds.Sort = "published",
        limit: int | None = None,
        offset: int = 0,
    ) -> list[Paper]:
        """The papers of a day, week or month (default: the latest day with papers), most upvoted
        first, or by trending score."""
        return [p for p, _ in self.daily_scored(date, week, month, sort, limit, offset)[1]]

    def daily_scored(
        self,
        date: date | str | None = None,
        week: str | None = None,
        month: str | None = None,
        sort: feeds.Sort = "published",
        limit: int | None = None,
        offset: int = 0,
    ) -> tuple[feeds.Period | None, list[tuple[Paper, float]]]:
        """Like `daily`, with the period resolved and each paper's score."""
        if sort not in feeds.SORTS:
            raise InvalidInput(f"sort must be one of {', '.join(feeds.SORTS)}, not {str(sort)[:40]!r}")
        period = feeds.resolve_period(self.store, date, week, month)
        if period is None:
            return None, []
        return period, feeds.listing(self.store, period, sort=sort, limit=limit, offset=offset)

    def adjacent_day(self, day: date, direction: Literal[-1, 1]) -> date | None:
        return self.store.adjacent_day(day, direction)

    def stats(self) -> dict[str, Any]:
        stats = self.store.stats()
        log = self.store.import_log(limit=1)
        stats["last_import"] = _log_dict(log[0]) if log else None
        return stats

    def import_log(self, limit: int = 10) -> list[dict[str, Any]]:
        return [_log_dict(e) for e in self.store.import_log(limit)]


def _log_dict(entry: ImportLogEntry) -> dict[str, Any]:
    def iso(d: datetime | None) -> str | None:
        return d.isoformat() if d else None

    return {
        "source": entry.source,
        "started_at": iso(entry.started_at),
        "finished_at": iso(entry.finished_at),
        "counts": entry.counts,
        "error": entry.error,
    }


def open_semantic(config: Config, store: Store) -> SemanticEngine | None:
    """The vectors side of a store: its vectors table and an index file beside the database."""
    from paperfeed.store.sqlite import SQLiteStore

    if not isinstance(store, SQLiteStore):
        return None
    from paperfeed.embed.sqlite_vectors import SQLiteVectors

    directory = store.path.with_name(store.path.name + ".vectors")
    return SemanticEngine(SQLiteVectors(store), directory, config.encoder)


def open(home_or_url: str | Path | None = None) -> Library:  # noqa: A001 - the documented name
    """Open the library in a data directory, or at a database URL (`sqlite:///…`,
    `postgresql://…`); with nothing given, the configured default home."""
    if home_or_url is None:
        return Library(Config.from_env())
    text = str(home_or_url)
    if "://" in text:
        return Library(Config.from_env(database_url=text))
    return Library(Config.from_env(home=text))
