"""The Library: the one API that the CLI and the web app are thin faces over.

    import paperfeed
    with paperfeed.open("~/papers") as lib:
        lib.import_files(["arxiv-metadata-oai-snapshot.json.gz"])
        for hit in lib.search("speculative decoding", limit=5):
            print(hit.score, hit.paper.title)
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
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
from paperfeed.signups import Signups
from paperfeed.sources.base import Limits
from paperfeed.store.base import Filters, ImportLogEntry
from paperfeed.store.engines import open_backend

SearchMode = Literal["keyword", "semantic", "hybrid"]
MODES = ("keyword", "semantic", "hybrid")
MAX_LIMIT = 1000
TERMS_FILLED = "paper_terms:checked_from"  # meta: saves from then on are checked by the next fill
TERMS_MARGIN = timedelta(hours=1)


class Library:
    def __init__(self, config: Config | None = None) -> None:
        self.config = config or Config.from_env()
        # The storage engine the configuration names: its store and its vector engine.
        self.backend = open_backend(self.config)
        self.store = self.backend.store
        self.semantic = self.backend.semantic
        import paperfeed.personal  # noqa: F401 - adds the library to a user's data export

        # A bulk import killed half-way leaves the keyword index unfinished: finish it now
        # (rebuilt from the papers table) rather than answer keyword searches with nothing.
        self.store.heal()
        # Users, sessions and local upvotes. Every read below shows displayed upvotes:
        # the imported count plus local votes (see `paperfeed.accounts`).
        self.accounts = Accounts(self.store)
        # Repeated searches are answered from memory until the store changes (search_cache.py).
        self.search_cache = SearchCache(self.config.search_cache, self.store.change_token)
        self._digests: Digests | None = None
        self._signups: Signups | None = None

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
        fill_quality: bool = True,
    ) -> ImportReport:
        """Import files (format detected by content unless given). Bad records are reported in
        the result and skipped; the rest is imported. `index=False` skips embedding. A small
        library's quality set is then filled on the spot (`fill_quality`, which see;
        `fill_quality=False` leaves that to the caller)."""
        embed = self.semantic.embed_ids if index and self.semantic is not None else None
        try:
            report = _import_files(
                self.store, paths, format, progress=progress, on_change=embed,
                bulk_min_bytes=self.config.bulk_min_bytes,
                limits=Limits(self.config.max_record_bytes, self.config.max_document_bytes),
            )
            if index:  # papers a killed run committed but never embedded count as "unchanged"
                self.semantic.catch_up()
                if fill_quality:
                    self.fill_quality()
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

    # -- the reading room: submissions ---------------------------------------------------------

    @property
    def submissions(self) -> Any:
        from paperfeed.submissions import Limits, Submissions

        return Submissions(
            self.store, Limits(self.config.submit_daily_cap, self.config.submit_max_age_days)
        )

    def submit(self, paper_id: str, user: Any = None) -> Any:
        """Put a paper on today's daily list as submitted by `user` (None: the instance owner):
        an arXiv id or URL; fetched from the arXiv API unless the store holds it. Returns a
        `submissions.Submission`; InvalidInput for a bad id or a limit, NotFound for an id arXiv
        does not know, `SourceUnavailable` when the API cannot be reached (nothing is stored)."""
        member = self.user_of(user)
        submission = self.submissions.submit(paper_id, member, self._fetch_arxiv)
        if self.semantic is not None:
            self.semantic.embed_ids([submission.paper.id])
            self.semantic.save()
        return submission

    # -- the reading room: discussion ----------------------------------------------------------

    @property
    def comments(self) -> Any:
        from paperfeed.comments import Comments

        return Comments(self.store.db, self.config.comment_max_chars, self.config.comment_rate)

    def comment(self, paper_id: str, text: str, user: Any = None) -> Any:
        """Post a plain-text comment under a paper as `user` (None: the owner); a `Comment`."""
        paper = self.known_paper(paper_id)
        return self.comments.add(self.user_of(user), paper.id, text)

    def paper_comments(self, paper_id: str) -> list[Any]:
        """A paper's comments, oldest first (deleted ones as `deleted` with no text)."""
        return self.comments.of_paper(self.known_paper(paper_id).id)

    def edit_comment(self, comment_id: str, text: str, user: Any = None) -> Any:
        return self.comments.edit(self.user_of(user), comment_id, text)

    def delete_comment(self, comment_id: str, user: Any = None) -> Any:
        return self.comments.delete(self.user_of(user), comment_id)

    def _fetch_arxiv(self, arxiv_id: str) -> Paper | None:
        """One paper from the arXiv API, not stored, through the harvester's lock, log and
        polite client (fewer retries than a harvest: a member is waiting)."""
        from paperfeed.harvest import check_url, make_client
        from paperfeed.harvest.arxiv_api import fetch_ids
        from paperfeed.harvest.run import run_harvest
        from paperfeed.submissions import SourceUnavailable

        cfg = replace(self.config.harvest, attempts=min(self.config.harvest.attempts, 2))
        url = check_url(cfg.arxiv_api_url, "the arXiv API URL")
        got: list[Any] = []
        params = {"base_url": url, "ids": [arxiv_id], "submit": True}
        with make_client(cfg, self.config.contact, min_interval=cfg.arxiv_interval) as client:
            report = run_harvest(
                self.store, client, "arxiv-api", params,
                lambda ctx: got.extend(fetch_ids(ctx, url, [arxiv_id])),
            )
        if report.error:
            raise SourceUnavailable(
                f"the arXiv API did not answer for {arxiv_id}: {report.error}. Nothing was added; "
                "try again in a while"
            )
        return next((p for p in got if isinstance(p, Paper) and p.id == arxiv_id), None)

    def _harvest(self, params: Any, progress: Any, index: bool, log: Any) -> HarvestReport:
        from paperfeed.harvest import harvest

        embed = self.semantic.embed_ids if index and self.semantic is not None else None
        try:
            report = harvest(
                self.store, self.config.harvest, self.config.contact, params,
                on_change=embed, progress=progress, log=log,
            )
            if index:
                self.fill_quality()
            return report
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
        sized: dict[str, Any] = {"batch": batch} if batch else {}
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
        analysed = self.fill_terms()
        active = sem.view()
        return {
            "encoder": active.name,
            "embedded": embedded,
            "analysed": analysed,
            "switched": active.name != before,
            "vectors": len(active.index),
            **({"ray": cluster} if ray else {}),
        }

    def fill_terms(self, *, since_last: bool = False) -> int:
        """Store the recommender's text analysis of every saved or dismissed paper that lacks
        one (`paperfeed.terms.TermRows`), so that recommending from a library reads its texts'
        terms instead of analysing them again; returns the rows written. Run by `index` (every
        saved paper checked) and before each digest run composes (`since_last`: only what was
        saved or dismissed since an hour before the last fill began, the hour covering saves
        that committed while it ran; checking every saved paper took 7-10 s at 1.5M saved
        rows). A paper without a row is only analysed at request time, never wrong."""
        from paperfeed.embed import paper_text
        from paperfeed.terms import TermRows

        started = datetime.now(UTC)
        rows = TermRows(self.store.db)
        ids = rows.unanalysed(self.store.get_meta(TERMS_FILLED) if since_last else None)
        written = 0
        for start in range(0, len(ids), 2_000):
            texts = self.store.texts_of(ids[start : start + 2_000])
            written += rows.remember({pid: paper_text(t, a) for pid, (t, a) in texts.items()})
        self.store.set_meta(TERMS_FILLED, (started - TERMS_MARGIN).isoformat(timespec="seconds"))
        return written

    def quality_backlog(self) -> int:
        """How many quality vectors `fill_quality` would embed now (0: none, or too many)."""
        if self.semantic is None:
            return 0
        return self.semantic.small_backlog(self.config.quality_at_import, self.store.count())

    def fill_quality(self, progress: Callable[[int], None] | None = None) -> int:
        """Fill the quality set and switch to it when it lacks at most
        `PAPERFEED_QUALITY_AT_IMPORT` vectors (default 1,000: ~40 s on 2 cores), so that a small
        library has the quality rankings right after its import; a larger backlog is left to
        `serve` (in the background) and `index`. Returns the vectors embedded; 0 when there was
        nothing to do, too much, or the quality encoder cannot load (the static set serves)."""
        if self.semantic is None:
            return 0
        return self.semantic.fill_if_small(
            self.config.quality_at_import, self.store.count(), progress
        )

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

    def related(self, paper_id: str, limit: int = 10, *, user: Any = None) -> list[Hit]:
        """The papers most like the given one (see `paperfeed.related`); NotFound for an
        unknown id. With `user`, the papers that user dismissed are left out."""
        from paperfeed.related import related

        if not 1 <= limit <= MAX_LIMIT:
            raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}")
        paper = self.get(paper_id)
        if paper is None:
            raise _no_such_paper(paper_id)
        hidden = self._hidden_for(user)
        # One set for the whole ranking: the active one, read once.
        hits = related(self.store, self.semantic.view(), paper, limit=limit + min(len(hidden), MAX_LIMIT))
        return self._voted_hits([h for h in hits if h.paper.id not in hidden][:limit])

    def _voted_hits(self, hits: list[Hit]) -> list[Hit]:
        papers = self.accounts.with_votes([h.paper for h in hits])
        for hit, paper in zip(hits, papers, strict=True):
            hit.paper = paper
        return hits

    def upvote(self, user_email_or_id: str, paper_id: str) -> bool:
        """Toggle a user's upvote on a paper; returns whether the vote is now on."""
        paper = self.store.get(self._canonical_id(paper_id))
        if paper is None:
            raise _no_such_paper(paper_id)
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
        *,
        user: Any = None,
    ) -> list[Hit]:
        """Ranked papers for a query (see `paperfeed.search`); mode None is hybrid once vectors
        exist, else keyword. Answers repeat from `search_cache` until the store changes. With
        `user`, the papers that user dismissed are left out (the cached list is the unfiltered
        one for the larger limit asked, so the cache key stays true)."""
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
        hidden = self._hidden_for(user)
        wanted = limit + min(len(hidden), MAX_LIMIT) if hidden else limit
        hits = self.search_cache.get(
            (query, mode, wanted, filters), lambda: self._search(query, mode, wanted, filters)
        )
        if hidden:
            hits = [h for h in hits if h.paper.id not in hidden][:limit]
        return hits  # the caller's own copy: the cache keeps results pickled

    def missing_arxiv_id(self, query: str) -> str | None:
        """The arXiv id a query names when that paper is not in the library (its search has no
        results: fetch it with `paperfeed harvest arxiv-api --id ID`); None otherwise."""
        return search.missing_arxiv_id(self.store, query)

    def _search(self, query: str, mode: SearchMode | None, limit: int, filters: Filters) -> list[Hit]:
        if search.missing_arxiv_id(self.store, query):
            return []  # a lookup of one paper: the digits of its id mean nothing to the rankers
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
        *,
        user: Any = None,
    ) -> list[Paper]:
        """The papers of a day, week or month (default: the latest day with papers), most upvoted
        first, or by trending score. With `user`, without the papers that user dismissed."""
        return [p for p, _ in self.daily_scored(date, week, month, sort, limit, offset, user=user)[1]]

    def daily_scored(
        self,
        date: date | str | None = None,
        week: str | None = None,
        month: str | None = None,
        sort: feeds.Sort = "published",
        limit: int | None = None,
        offset: int = 0,
        *,
        user: Any = None,
    ) -> tuple[feeds.Period | None, list[tuple[Paper, float]]]:
        """Like `daily`, with the period resolved and each paper's score."""
        if sort not in feeds.SORTS:
            raise InvalidInput(f"sort must be one of {', '.join(feeds.SORTS)}, not {str(sort)[:40]!r}")
        period = feeds.resolve_period(self.store, date, week, month)
        if period is None:
            return None, []
        hidden = self._hidden_for(user)
        if not hidden:
            return period, self.accounts.listing(period, sort=sort, limit=limit, offset=offset)
        return period, self._without(
            hidden, lambda n: self.accounts.listing(period, sort=sort, limit=n, offset=0), limit, offset
        )

    @staticmethod
    def _without(
        hidden: set[str],
        listing: Callable[[int | None], list[tuple[Paper, float]]],
        limit: int | None,
        offset: int,
    ) -> list[tuple[Paper, float]]:
        """A page of a listing with the hidden papers left out: the first offset + limit +
        len(hidden) of the full listing always hold the page."""
        window = None if limit is None else offset + limit + len(hidden)
        shown = [(p, s) for p, s in listing(window) if p.id not in hidden]
        return shown[offset : None if limit is None else offset + limit]

    def trending(
        self, days: int = 7, limit: int = 50, offset: int = 0, *, user: Any = None
    ) -> list[tuple[Paper, float]]:
        """The papers of the last `days` days with papers (up to the latest such day), by
        trending score (see `feeds`); local votes count. With `user`, without the papers that
        user dismissed."""
        if not 1 <= days <= 366:
            raise InvalidInput("days must be between 1 and 366")
        latest = self.store.latest_day(datetime.now(UTC).date())
        if latest is None:
            return []
        period = feeds.Period("week", latest - timedelta(days=days - 1), latest)
        hidden = self._hidden_for(user)
        if hidden:
            return self._without(
                hidden, lambda n: self.accounts.listing(period, sort="trending", limit=n), limit, offset
            )
        return self.accounts.listing(period, sort="trending", limit=limit, offset=offset)

    def undated(self, limit: int = 50, offset: int = 0) -> list[Paper]:
        """Papers that have no day, so are on no daily list, most upvoted first (local votes
        counted in the shown count)."""
        return self.accounts.with_votes(self.store.papers_undated(limit=limit, offset=offset))

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
            from paperfeed.personal.digest import LibraryForYou

            for_you = LibraryForYou(self.accounts, self.personal, self.recommend,
                                    prepare=functools.partial(self.fill_terms, since_last=True))
            self._digests = Digests(self.config, self.store, self.accounts, for_you,
                                    open_worker=_digests_of_a_worker)
        return self._digests

    @property
    def signups(self) -> Signups:
        """Web sign-up by email link (`paperfeed.signups.Signups`)."""
        if self._signups is None:
            self._signups = Signups(self.config, self.accounts)
        return self._signups

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

    # -- the personal library: collections, feedback, recommendations ---------------------------
    # Every method takes `user`: an email, a user id or a `User`; None is the instance owner (the
    # account the CLI acts for, `Accounts.owner`). Paper ids are checked against the store.

    @property
    def personal(self) -> Any:
        """The personal-library services (`paperfeed.personal.Personal`)."""
        if getattr(self, "_personal", None) is None:
            from paperfeed.personal import Personal

            self._personal = Personal(self.store.db)
        return self._personal

    def user_of(self, user: Any = None) -> Any:
        """The `User` meant by `user` (email, id or User; None: the owner); NotFound if none."""
        from paperfeed.accounts import User

        if user is None:
            return self.accounts.owner()
        if isinstance(user, User):
            return user
        return self.accounts.user(str(user))

    def known_paper(self, paper_id: str) -> Paper:
        """The paper by id (as `get` resolves it), or NotFound."""
        paper = self.store.get(self._given_id(paper_id))
        if paper is None:
            raise _no_such_paper(paper_id)
        return paper

    def known_ids(self, paper_ids: Sequence[Any]) -> list[str]:
        """The ids of these papers, in order, each as `known_paper` resolves it, read in one
        batch (not a whole paper each); NotFound names the first unknown one."""
        wanted = [self._given_id(pid) for pid in paper_ids]
        found = self.store.titles_of(list(dict.fromkeys(wanted)))
        for pid, given in zip(wanted, paper_ids, strict=True):
            if pid not in found:
                raise _no_such_paper(given)
        return wanted

    def _given_id(self, paper_id: Any) -> str:
        """A paper id as a caller gave it (an arXiv URL or version, say), as the store keys it."""
        return self._canonical_id(str(paper_id)[:200])

    def _hidden_for(self, user: Any) -> set[str]:
        """The papers a user dismissed (hidden from them everywhere); none without a user."""
        if user is None:
            return set()
        return self.personal.feedback.dismissed_ids(self.user_of(user).id)

    def collections(self, user: Any = None) -> list[Any]:
        """The user's collections (`personal.Collection`: id, name, created_at, size), by name."""
        return self.personal.collections.of_user(self.user_of(user).id)

    def create_collection(self, name: str, user: Any = None) -> Any:
        return self.personal.collections.create(self.user_of(user).id, name)

    def rename_collection(self, name: str, new_name: str, user: Any = None) -> Any:
        return self.personal.collections.rename(self.user_of(user).id, name, new_name)

    def delete_collection(self, name: str, user: Any = None) -> int:
        """Delete a collection; returns how many papers it held (they stay in the others)."""
        return self.personal.collections.delete(self.user_of(user).id, name)

    def library_add(self, paper_id: str, collection: str, user: Any = None) -> Any:
        """Save a paper to a collection (created if new); undoes a dismissal of it. Returns the
        collection. NotFound for an unknown paper."""
        paper = self.known_paper(paper_id)
        return self.personal.collections.add(self.user_of(user).id, collection, [paper.id])[0]

    def library_remove(self, paper_id: str, collection: str | None = None, user: Any = None) -> int:
        """Take a paper out of one collection, or (None) of all; returns memberships removed."""
        pid = self._given_id(paper_id)
        return self.personal.collections.remove(self.user_of(user).id, pid, collection)

    def library_list(
        self,
        collection: str | None = None,
        user: Any = None,
        sort: Literal["added", "published", "upvotes"] = "added",
    ) -> list[Any]:
        """The saved papers (`personal.SavedPaper`) of a collection or of all, newest saved
        first, or by published date or upvotes."""
        from paperfeed.personal import SavedPaper

        if sort not in ("added", "published", "upvotes"):
            raise InvalidInput("sort must be one of added, published, upvotes")
        uid = self.user_of(user).id
        members = self.personal.collections.memberships(uid, collection)
        ids = [m.paper_id for m in members]
        papers = {p.id: p for p in self.accounts.with_votes(list(self.store.get_many(ids).values()))}
        notes = self.personal.feedback.notes(uid, ids)
        reads = self.personal.feedback.read_ids(uid, ids)
        out = [
            SavedPaper(
                papers[m.paper_id], m.added_at, m.collections, notes.get(m.paper_id), m.paper_id in reads
            )
            for m in members if m.paper_id in papers
        ]
        if sort == "published":
            out.sort(key=lambda s: s.paper.published.toordinal() if s.paper.published else 0, reverse=True)
        elif sort == "upvotes":
            out.sort(key=lambda s: s.paper.upvotes or 0, reverse=True)
        return out

    def set_note(self, paper_id: str, note: str, user: Any = None) -> str:
        """A private note on a paper (empty deletes it); returns the note as kept."""
        paper = self.known_paper(paper_id)
        return self.personal.feedback.set_note(self.user_of(user).id, paper.id, note)

    def note(self, paper_id: str, user: Any = None) -> str | None:
        pid = self._given_id(paper_id)
        return self.personal.feedback.notes(self.user_of(user).id, [pid]).get(pid)

    def mark_read(self, paper_id: str, read: bool = True, user: Any = None) -> bool:
        """Mark a paper read (or unread); returns whether that changed anything."""
        paper = self.known_paper(paper_id)
        return self.personal.feedback.set_read(self.user_of(user).id, paper.id, read)

    def dismiss(self, paper_id: str, user: Any = None) -> bool:
        """"Not interested": hide the paper from the user everywhere, take it out of their
        collections, and count it against similar papers. True when newly dismissed."""
        paper = self.known_paper(paper_id)
        return self.personal.feedback.dismiss(self.user_of(user).id, paper.id)

    def undismiss(self, paper_id: str, user: Any = None) -> bool:
        """Undo "not interested"; True when the paper was dismissed."""
        paper = self.known_paper(paper_id)
        return self.personal.feedback.undismiss(self.user_of(user).id, paper.id)

    def dismissed(self, user: Any = None) -> list[Paper]:
        """The papers the user dismissed, most recent first."""
        rows = self.personal.feedback.dismissed(self.user_of(user).id)
        found = self.store.get_many([pid for pid, _ in rows])
        return [found[pid] for pid, _ in rows if pid in found]

    def reset_feedback(self, user: Any = None, *, saved: bool = False) -> dict[str, int]:
        """"Reset what you taught it": forget every dismissal, and with `saved` empty every
        collection too. Returns how many of each went."""
        return self.personal.feedback.reset(self.user_of(user).id, saved=saved)

    def mark_sent(self, paper_ids: Iterable[str], user: Any = None) -> int:
        """Record recommendations as sent to the user (never recommended again)."""
        return self.personal.feedback.mark_sent(self.user_of(user).id, paper_ids)

    def issue_feed_token(self, user: Any = None) -> str:
        """A new secret token for the user's personal feed (replaces the old one)."""
        return self.personal.tokens.issue(self.user_of(user).id)

    def revoke_feed_token(self, user: Any = None) -> bool:
        return self.personal.tokens.revoke(self.user_of(user).id)

    def feed_token_user(self, token: str | None) -> Any:
        """The `User` a feed token belongs to, or None."""
        uid = self.personal.tokens.user_for(token)
        return self.accounts.user(uid) if uid else None

    def library_export(
        self,
        format: str,  # noqa: A002 - the CLI's own name
        *,
        collection: str | None = None,
        paper_id: str | None = None,
        user: Any = None,
    ) -> str:
        """A collection (or the whole library, or one paper) as `bibtex`, `ris` or `csl-json`."""
        from paperfeed import exports

        writers = {"bibtex": exports.to_bibtex, "ris": exports.to_ris, "csl-json": exports.to_csl_json}
        if format not in writers:
            raise InvalidInput(f"format must be one of {', '.join(writers)}")
        if paper_id is not None and collection is not None:
            raise InvalidInput("export a collection or one paper, not both")
        if paper_id is not None:
            papers = [self.known_paper(paper_id)]
        else:
            papers = [s.paper for s in self.library_list(collection, user)]
        return writers[format](papers)

    def library_import(self, path: Path | str, collection: str, user: Any = None) -> Any:
        """Import a reference manager's file (BibTeX, and whatever else `paperfeed.sources`
        reads) into a collection: entries matched to the store by arXiv id, DOI, then title; the
        rest imported as new papers. Returns a `personal.LibraryImport` report (matched, added,
        duplicates, rejected, each with its place in the file)."""
        from paperfeed.personal import import_into_collection

        uid = self.user_of(user).id
        semantic = self.semantic

        def embed(ids: list[str]) -> None:
            if semantic is not None:
                semantic.embed_ids(ids)

        try:
            report = import_into_collection(
                self.store, self.personal.collections, uid, Path(path), collection, on_change=embed
            )
            self.fill_quality()
            return report
        finally:
            if self.semantic is not None:
                self.semantic.save()

    def recommend(
        self,
        positive: Sequence[str] | None = None,
        negative: Sequence[str] | None = None,
        *,
        collection: str | None = None,
        user: Any = None,
        limit: int = 10,
        since: date | str | None = None,
        among: Sequence[str] | None = None,
        snapshot: Any = None,
    ) -> list[Any]:
        """Recommendations (`recommend.Recommendation`: `.paper`, `.score`, `.reasons`).

        With `positive` (ids), stateless, like Semantic Scholar's list API: from those papers
        and `negative` ones (with `user` given, that user's dismissals are also hidden), the
        best `limit` candidates, ranked, without the relevance floor (the caller asked for a
        list, as S2's clients do). Without, from the stored library: the papers of `collection`
        (None: all collections, "For you") against the user's dismissals, never a paper the user
        saved, dismissed or was sent, and only what clears the relevance floor: [] when there is
        nothing to learn from or nothing clears it ("nothing new for you today"). With `among`
        (paper ids, newest first), only those papers are candidates: the email digest's new
        arrivals, read once per digest run. `snapshot` (`lib.personal.snapshot(user id)`): the
        user's stored library read once for several requests in a row (the digest's sections)."""
        from paperfeed import recommend as engine

        if not 1 <= limit <= MAX_LIMIT:
            raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}")
        day = feeds.parse_date(since, "since") if since else None
        if positive is not None:
            if collection is not None:
                raise InvalidInput("give positive papers or a collection, not both")
            pos = self.known_ids(positive)
            neg = self.known_ids(negative or ())
            exclude = self._hidden_for(user) | set(pos) | set(neg)
        elif snapshot is not None:
            cid = snapshot.collection(collection).id if collection is not None else None
            pos = snapshot.saved.saved_ids(cid)
            neg = sorted(snapshot.dismissed)
            exclude = set(snapshot.saved.saved_ids()) | set(neg) | snapshot.sent
        else:
            uid = self.user_of(user).id
            if collection is not None:
                self.personal.collections.get(uid, collection)  # NotFound for an unknown name
            pos = self.personal.collections.saved_ids(uid, collection)
            fb = self.personal.feedback
            neg = sorted(fb.dismissed_ids(uid))
            exclude = set(self.personal.collections.saved_ids(uid)) | set(neg) | fb.sent_ids(uid)
        hits = engine.recommend(
            self.store, self.semantic, pos, neg, exclude=exclude, limit=limit, since=day,
            among=among, floor=positive is None,
        )
        hits = [h for h in hits if h.paper.id not in exclude]
        voted = self.accounts.with_votes([h.paper for h in hits])
        return [replace(h, paper=p) for h, p in zip(hits, voted, strict=True)]

    def explain(self, collection: str | None = None, user: Any = None) -> Any:
        """What the recommendations learned from the user (`recommend.Explanation`): the saved
        papers that weigh most and the terms it likes and dislikes."""
        from paperfeed import recommend as engine

        uid = self.user_of(user).id
        pos = self.personal.collections.saved_ids(uid, collection)
        neg = sorted(self.personal.feedback.dismissed_ids(uid))
        return engine.explain(self.store, self.semantic, pos, neg)


def _no_such_paper(given: Any) -> NotFound:
    return NotFound(f"no such paper: {str(given)[:80]}")


_WORKER_LIBRARIES: list[Library] = []


def _digests_of_a_worker(config: Config) -> Digests:
    """A digest-composing worker process's `Digests` (`digest.workers`): its own Library over
    the same configuration, open for the worker's life."""
    lib = Library(config)
    _WORKER_LIBRARIES.append(lib)
    return lib.digests


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
