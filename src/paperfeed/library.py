"""The Library: the one API that the CLI and the web app are thin faces over.

    import paperfeed
    with paperfeed.open("~/papers") as lib:
        lib.import_files(["arxiv-metadata-oai-snapshot.json.gz"])
        for hit in lib.search("speculative decoding", limit=5):
            print(hit.score, hit.paper.title)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from paperfeed import feeds, search
from paperfeed.accounts import Accounts
from paperfeed.config import Config
from paperfeed.digest import Digests, Subscriptions
from paperfeed.errors import InvalidInput, NotFound
from paperfeed.harvest.run import HarvestReport
from paperfeed.harvest.run import Progress as HarvestProgress
from paperfeed.importer import ImportReport, Progress
from paperfeed.importer import import_files as _import_files
from paperfeed.records import Paper, parse_arxiv_id
from paperfeed.search import Hit
from paperfeed.search_cache import SearchCache
from paperfeed.store.base import Filters, ImportLogEntry
from paperfeed.store.engines import open_backend

SearchMode = Literal["keyword", "semantic", "hybrid"]
MODES = ("keyword", "semantic", "hybrid")
MAX_LIMIT = 1000


class Library:
    def __init__(self, config: Config | None = None) -> None:
        self.config = config or Config.from_env()
        # The storage engine the configuration names: its store and its vector engine.
        self.backend = open_backend(self.config)
        self.store = self.backend.store
        self.semantic = self.backend.semantic
        # A bulk import killed half-way leaves the keyword index unfinished: finish it now
        # (rebuilt from the papers table) rather than answer keyword searches with nothing.
        self.store.heal()
        # Users, sessions and local upvotes. Every read below shows displayed upvotes:
        # the imported count plus local votes (see `paperfeed.accounts`).
        self.accounts = Accounts(self.store)
        # Repeated searches are answered from memory until the store changes (search_cache.py).
        self.search_cache = SearchCache(self.config.search_cache, self.store.change_token)
        self._digests: Digests | None = None

    # -- context manager ----------------------------------------------------------------------

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.backend.close()

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
            report = _import_files(
                self.store, paths, format, progress=progress, on_change=embed,
                bulk_min_bytes=self.config.bulk_min_bytes,
            )
            if index:  # papers a killed run committed but never embedded count as "unchanged"
                self.semantic.catch_up()
            return report
        finally:
            if self.semantic is not None:
                self.semantic.save()

    # -- harvesting ----------------------------------------------------------------------------

    def harvest_arxiv(
        self,
        set: str | None = None,  # noqa: A002 - OAI-PMH's own name
        from_: date | str | None = None,
        until: date | str | None = None,
        metadata_prefix: str = "arXiv",
        base_url: str | None = None,
        *,
        progress: HarvestProgress | None = None,
        index: bool = True,
        log: Callable[[str], None] | None = None,
    ) -> HarvestReport:
        """Harvest arXiv over OAI-PMH (`ListRecords`). Without `from_`, starts from the last
        complete harvest of the same set; an interrupted harvest resumes. A failed harvest
        returns a report whose `error` says why (and is in the harvest log)."""
        from paperfeed.harvest import OaiParams

        params = OaiParams(
            base_url=base_url or self.config.harvest.oai_url,
            set=set or None,
            from_=feeds.parse_date(from_, "from") if from_ else None,
            until=feeds.parse_date(until, "until") if until else None,
            metadata_prefix=metadata_prefix,
        )
        return self._harvest(params, progress, index, log)

    def harvest_arxiv_api(
        self,
        query: str | None = None,
        ids: Iterable[str] = (),
        max_results: int = 100,
        base_url: str | None = None,
        *,
        page_size: int = 100,
        progress: HarvestProgress | None = None,
        index: bool = True,
        log: Callable[[str], None] | None = None,
    ) -> HarvestReport:
        """Fetch papers from the arXiv API by search query (`cat:cs.LG AND ti:quantization`) and/or
        by ids, at most one request every `PAPERFEED_ARXIV_INTERVAL` (3) seconds."""
        from paperfeed.harvest import ApiParams

        params = ApiParams(
            base_url=base_url or self.config.harvest.arxiv_api_url,
            query=query or None,
            ids=tuple(ids),
            max_results=max_results,
            page_size=min(max_results, page_size),
        )
        return self._harvest(params, progress, index, log)

    def harvest_hf(
        self,
        date: date | str | None = None,
        since: date | str | None = None,
        until: date | str | None = None,
        endpoint: str | None = None,
        *,
        progress: HarvestProgress | None = None,
        index: bool = True,
        log: Callable[[str], None] | None = None,
    ) -> HarvestReport:
        """Harvest Hugging Face daily papers of a day, or of the days since one (default: the
        last 7 days, to refresh upvotes), adding new papers and updating known ones."""
        from paperfeed.harvest import HfParams

        params = HfParams(
            endpoint=endpoint or self.config.harvest.hf_endpoint,
            date=feeds.parse_date(date, "date") if date else None,
            since=feeds.parse_date(since, "since") if since else None,
            until=feeds.parse_date(until, "until") if until else None,
        )
        return self._harvest(params, progress, index, log)

    def _harvest(self, params: Any, progress: Any, index: bool, log: Any) -> HarvestReport:
        from paperfeed.harvest import harvest

        embed = self.semantic.embed_ids if index and self.semantic is not None else None
        try:
            return harvest(
                self.store, self.config.harvest, self.config.contact, params,
                on_change=embed, progress=progress, log=log,
            )
        finally:
            if self.semantic is not None:
                self.semantic.save()

    def harvest_log(self, limit: int = 10, source: str | None = None) -> list[dict[str, Any]]:
        """The latest harvest runs, newest first: source, parameters, times, status, counts, error."""
        from paperfeed.harvest import HarvestLog

        return [e.to_dict() for e in HarvestLog(self.store.db).entries(limit, source)]

    # -- vectors -------------------------------------------------------------------------------

    def index(
        self,
        encoder: str | None = None,
        progress: Callable[[int], None] | None = None,
        ray: str | None = None,
        batch: int | None = None,
    ) -> dict[str, Any]:
        """Complete every vector set and return when they are: the static set, then the quality
        encoder's (or `encoder`'s: another encoder than the active set's is filled beside it and
        switched to once complete, the old set dropped after). `ray` (a cluster address, `auto`
        or `local`) spreads the quality embedding over a Ray cluster. `batch`: papers per encoder
        call (per Ray task); the same batches give the same vectors."""
        sem = self.semantic
        target = sem.target(encoder)
        before = sem.active_name()
        cluster: dict[str, Any] = {}
        sized = {"batch": batch} if batch else {}
        if ray:
            from paperfeed.embed.distributed import embed_missing_ray

            # The cluster fills the target set; the instant set (if another) is filled here first.
            embedded = 0 if target == sem.default_encoder else sem.static.embed_missing(progress)
            cluster = embed_missing_ray(sem.vector_set(target), ray, progress, **sized)
            embedded += cluster.pop("embedded")
            cluster.pop("encoder", None)
            sem.settle(target)
        else:
            embedded = sum(sem.fill(target, progress, **sized).values())
        self.store.after_import()  # search statistics, for stores imported before they existed
        active = sem.view()
        return {
            "encoder": active.name,
            "embedded": embedded,
            "switched": active.name != before,
            "vectors": len(active.index),
            **({"ray": cluster} if ray else {}),
        }

    def missing_vectors(self, encoder: str | None = None) -> int:
        """How many vectors `index` would embed: the static set's and the target set's missing."""
        sem = self.semantic
        papers = self.store.count()
        target = sem.target(encoder)
        missing = sem.missing(sem.default_encoder, papers)
        if target != sem.default_encoder:
            missing += sem.missing(target, papers)
        return missing

    def vector_status(self) -> dict[str, Any]:
        """Each vector set's coverage, the active set, and why the quality set is not usable
        (a missing or corrupt model file), if it is not."""
        status = self.semantic.status(self.store.count())
        status["warning"] = self.vector_warning()
        return status

    def vector_warning(self) -> str | None:
        """Why the quality encoder cannot be used (its model file missing or corrupt), or None."""
        target = self.semantic.target()
        if target != self.semantic.default_encoder and not self.semantic.available(target):
            return self.semantic.warning
        return None

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
        # One set for the whole ranking: the active one, read once.
        return self._voted_hits(related(self.store, self.semantic.view(), paper, limit=limit))

    def _voted_hits(self, hits: list[Hit]) -> list[Hit]:
        papers = self.accounts.with_votes([h.paper for h in hits])
        for hit, paper in zip(hits, papers, strict=True):
            hit.paper = paper
        return hits

    def upvote(self, user_email_or_id: str, paper_id: str) -> bool:
        """Toggle a user's upvote on a paper; returns whether the vote is now on."""
        paper = self.store.get(self._canonical_id(paper_id))
        if paper is None:
            raise NotFound(f"no such paper: {paper_id[:80]}")
        return self.accounts.toggle_vote(self.accounts.user(user_email_or_id), paper)

    # -- reading ------------------------------------------------------------------------------

    def get(self, paper_id: str) -> Paper | None:
        """A paper by id: arXiv id with or without version, an arXiv URL, or a title id."""
        paper = self.store.get(self._canonical_id(paper_id))
        return self.accounts.with_votes([paper])[0] if paper else None

    @staticmethod
    def _canonical_id(paper_id: str) -> str:
        parsed = parse_arxiv_id(paper_id)
        return parsed[0] if parsed else paper_id.strip()

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
        """Ranked papers for a query (see `paperfeed.search`); mode None is hybrid once vectors
        exist, else keyword. Answers repeat from `search_cache` until the store changes."""
        if mode is not None and mode not in MODES:
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
        query = " ".join(query.split())  # runs of white space mean one space to every ranker
        hits = self.search_cache.get(
            (query, mode, limit, filters), lambda: self._search(query, mode, limit, filters)
        )
        return hits  # the caller's own copy: the cache keeps results pickled

    def _search(self, query: str, mode: SearchMode | None, limit: int, filters: Filters) -> list[Hit]:
        semantic = self.semantic.view()  # the active vector set, read once for this query
        if mode is None:  # hybrid once vectors exist
            mode = "hybrid" if semantic.has_vectors() else "keyword"
        elif mode != "keyword" and not semantic.has_vectors():
            raise InvalidInput(f"{mode} search needs vectors: run `paperfeed index` first")
        if mode == "semantic":
            hits = search.semantic_search(
                self.store, semantic, query, limit=limit, filters=filters
            )
        elif mode == "hybrid":
            hits = search.hybrid_search(
                self.store, semantic, query, limit=limit, filters=filters
            )
        else:
            hits = search.keyword_search(self.store, query, limit=limit, filters=filters)
        if filters.empty:
            hits = search.with_exact_first(self.store, query, hits, limit)
        return self._voted_hits(hits)

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
        return period, self.accounts.listing(period, sort=sort, limit=limit, offset=offset)

    def trending(self, days: int = 7, limit: int = 50, offset: int = 0) -> list[tuple[Paper, float]]:
        """The papers of the last `days` days with papers (up to the latest such day), by
        trending score (see `feeds`); local votes count."""
        if not 1 <= days <= 366:
            raise InvalidInput("days must be between 1 and 366")
        latest = self.store.latest_day(datetime.now(UTC).date())
        if latest is None:
            return []
        period = feeds.Period("week", latest - timedelta(days=days - 1), latest)
        return self.accounts.listing(period, sort="trending", limit=limit, offset=offset)

    def papers_by(
        self,
        *,
        organization: str | None = None,
        author: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[Paper]:
        """An organization's or an author's papers (author: a part of the name), newest first."""
        if not (organization or author):
            raise InvalidInput("name an organization or an author")
        if not 1 <= limit <= MAX_LIMIT or offset < 0:
            raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}")
        filters = Filters(organization=organization or None, author=author or None)
        papers = self.store.papers_matching(filters, limit=limit, offset=offset)
        return self.accounts.with_votes(papers)

    def adjacent_day(self, day: date, direction: Literal[-1, 1]) -> date | None:
        return self.store.adjacent_day(day, direction)

    def stats(self) -> dict[str, Any]:
        stats = self.store.stats()
        log = self.store.import_log(limit=1)
        stats["last_import"] = _log_dict(log[0]) if log else None
        stats["harvests"] = self._latest_harvests()
        stats["vector_sets"] = self.vector_status()
        return stats

    def freshness(self) -> dict[str, Any]:
        """How fresh the data is, cheap enough for a status line (unlike `stats`, which scans
        the whole store): paper count, newest day, last import, newest harvest per source."""
        log = self.store.import_log(limit=1)
        last_day = self.store.latest_day()
        return {
            "papers": self.store.count(),
            "last_day": last_day.isoformat() if last_day else None,
            "last_import": _log_dict(log[0]) if log else None,
            "harvests": self._latest_harvests(),
            "vector_warning": self.vector_warning(),
        }

    def _latest_harvests(self) -> dict[str, dict[str, Any]]:
        """The newest harvest run of each source, for `stats` and the status line."""
        from paperfeed.harvest import HarvestLog

        return {s: e.to_dict() for s, e in HarvestLog(self.store.db).latest_by_source().items()}

    def import_log(self, limit: int = 10) -> list[dict[str, Any]]:
        return [_log_dict(e) for e in self.store.import_log(limit)]

    # -- subscriptions and email digests --------------------------------------------------------

    @property
    def digests(self) -> Digests:
        """Digests: subscribe / confirm / unsubscribe, compose, preview and send
        (`paperfeed.digest.Digests`); `lib.subscribers` manages the subscriber rows."""
        if self._digests is None:
            self._digests = Digests(self.config, self.store, self.accounts)
        return self._digests

    @property
    def subscribers(self) -> Subscriptions:
        """Subscribers (`paperfeed.digest.Subscriptions`): add, list, get, remove."""
        return self.digests.subscribers

    # -- moving to PostgreSQL ------------------------------------------------------------------

    def migrate_rows(self) -> int:
        """How many rows `migrate_to` copies (papers, vectors, feature tables)."""
        return self.backend.migrate_rows()

    def migrate_to(
        self, url: str, progress: Callable[[int], None] | None = None
    ) -> dict[str, Any]:
        """Copy this (SQLite) library into the PostgreSQL database at `url`: papers, vectors and
        every feature table; returns what was copied and a per-table count on both sides."""
        return self.backend.migrate_to(url, progress)


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


def open(home_or_url: str | Path | None = None) -> Library:  # noqa: A001 - the documented name
    """Open the library in a data directory, or at a database URL (`sqlite:///…`,
    `postgresql://…`); with nothing given, the configured default home."""
    if home_or_url is None:
        return Library(Config.from_env())
    text = str(home_or_url)
    if "://" in text:
        return Library(Config.from_env(database_url=text))
    return Library(Config.from_env(home=text))
