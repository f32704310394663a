"""The embedded default store: one SQLite file, WAL mode, an FTS5 keyword index kept in step by
triggers (so a transaction that writes a paper writes its index entry too, or neither)."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal

import orjson

from paperfeed.records import Author, Paper, title_key
from paperfeed.store.base import Filters, ImportLogEntry, Store, UpsertCounts, topped_up
from paperfeed.store.db import FEATURE_MIGRATIONS, Database, Row, Transaction, split_statements
from paperfeed.store.merge import plan_upsert
from paperfeed.store.sqlite_bulk import (
    LOG_CLEANUP,
    LOG_TABLE,
    LOG_TRIGGERS,
    FtsFollower,
    remove_side_file,
    side_path,
    swap_in,
)

# bm25 weights of the FTS columns: title, abstract, author names.
FTS_WEIGHTS = (5.0, 1.0, 2.0)
# Work allowed for one ranked FTS query, in SQLite VM instructions (~17 per matching document;
# 300,000 is about 30 ms on a 2-core cloud machine). See `SQLiteStore.keyword_search`.
SEARCH_BUDGET = 300_000
RECENT_WINDOW = 200_000
COMMON_FRACTION = 0.01
COMMON_WINDOW = 10_000
TERM_STATS_MIN_DOCS = 20_000
TOKENIZER = "porter unicode61 remove_diacritics 2"
STEM_CACHE = 100_000
_STEMS: dict[str, str] = {}  # query word -> its index token under TOKENIZER (see `_stems`)

# Keep the FTS5 index in step with the papers table, row by row (dropped during a bulk load,
# after which the index is rebuilt in one pass: see `SQLiteStore.begin_bulk`).
FTS_TRIGGERS = [
    """
    CREATE TRIGGER IF NOT EXISTS papers_fts_insert AFTER INSERT ON papers BEGIN
        INSERT INTO papers_fts(rowid, title, abstract, author_names)
        VALUES (new.rowid, new.title, new.abstract, new.author_names);
    END;""",
    """
    CREATE TRIGGER IF NOT EXISTS papers_fts_delete AFTER DELETE ON papers BEGIN
        INSERT INTO papers_fts(papers_fts, rowid, title, abstract, author_names)
        VALUES ('delete', old.rowid, old.title, old.abstract, old.author_names);
    END;""",
    """
    CREATE TRIGGER IF NOT EXISTS papers_fts_update AFTER UPDATE OF title, abstract, author_names ON papers BEGIN
        INSERT INTO papers_fts(papers_fts, rowid, title, abstract, author_names)
        VALUES ('delete', old.rowid, old.title, old.abstract, old.author_names);
        INSERT INTO papers_fts(rowid, title, abstract, author_names)
        VALUES (new.rowid, new.title, new.abstract, new.author_names);
    END;""",
]
FTS_TRIGGER_NAMES = ("papers_fts_insert", "papers_fts_delete", "papers_fts_update")

MIGRATIONS: list[str] = [
    # 1: papers, the FTS5 index over them, the import log, a key/value table for service state.
    """
    CREATE TABLE papers (
        rowid INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        title_key TEXT NOT NULL,
        title TEXT NOT NULL,
        abstract TEXT NOT NULL DEFAULT '',
        author_names TEXT NOT NULL DEFAULT '',
        authors TEXT,
        author_count INTEGER,
        organization TEXT,
        organization_name TEXT,
        categories TEXT NOT NULL DEFAULT '',
        published TEXT,
        updated TEXT,
        submitted_to_daily TEXT,
        day TEXT GENERATED ALWAYS AS (coalesce(submitted_to_daily, published)) VIRTUAL,
        upvotes INTEGER,
        comments INTEGER,
        github_repo TEXT,
        github_stars INTEGER,
        project_page TEXT,
        doi TEXT,
        journal_ref TEXT,
        license TEXT,
        version INTEGER,
        sources TEXT NOT NULL DEFAULT '[]',
        title_raw TEXT,
        abstract_raw TEXT,
        extra TEXT,
        added_at TEXT NOT NULL,
        changed_at TEXT NOT NULL
    );
    CREATE INDEX papers_title_key ON papers(title_key);
    CREATE INDEX papers_day ON papers(day, upvotes);
    CREATE INDEX papers_added ON papers(added_at);
    CREATE VIRTUAL TABLE papers_fts USING fts5(
        title, abstract, author_names,
        content='papers', content_rowid='rowid',
        tokenize='porter unicode61 remove_diacritics 2'  -- = TOKENIZER
    );
    """
    + "\n".join(FTS_TRIGGERS)
    + """
    CREATE TABLE import_log (
        rowid INTEGER PRIMARY KEY,
        source TEXT NOT NULL,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        counts TEXT NOT NULL DEFAULT '{}',
        error TEXT
    );
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    """,
    # 2 (issue 3): paper vectors of one encoder (named in meta 'vector_encoder'), float16 blobs.
    # `seq` grows with every write, so (count, max seq) tells a vector index whether it is behind.
    # Changing a paper's title or abstract drops its vector (it is re-embedded); deleting a paper
    # deletes its vector.
    """
    CREATE TABLE embeddings (
        paper_rowid INTEGER PRIMARY KEY REFERENCES papers(rowid) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        vector BLOB NOT NULL
    );
    CREATE INDEX embeddings_seq ON embeddings(seq);
    CREATE TRIGGER embeddings_stale AFTER UPDATE OF title, abstract ON papers
    WHEN old.title IS NOT new.title OR old.abstract IS NOT new.abstract
    BEGIN
        DELETE FROM embeddings WHERE paper_rowid = new.rowid;
    END;
    """,
    # 3 (issue 4): organization pages find an organization's papers by name, any case.
    """
    CREATE INDEX papers_organization ON papers(lower(organization));
    CREATE INDEX papers_organization_name ON papers(lower(organization_name));
    """,
]

_COLUMNS = (
    "id title_key title abstract author_names authors author_count organization "
    "organization_name categories published updated submitted_to_daily upvotes comments "
    "github_repo github_stars project_page doi journal_ref license version sources title_raw "
    "abstract_raw extra "
).split()
_SELECT = "SELECT rowid, " + ", ".join(_COLUMNS) + " FROM papers"
_INSERT = (
    f"INSERT INTO papers ({', '.join(_COLUMNS)}, added_at, changed_at) "
    f"VALUES ({', '.join('?' * (len(_COLUMNS) + 2))})"
)
_UPDATE = (
    "UPDATE papers SET "
    + ", ".join(f"{c} = ?" for c in _COLUMNS)
    + ", changed_at = ? WHERE rowid = ?"
)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _iso(d: date | None) -> str | None:
    return d.isoformat() if d else None


def _day(text: str | None) -> date | None:
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
        _iso(p.published),
        _iso(p.updated),
        _iso(p.submitted_to_daily),
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
    """Rows come from `_SELECT`: rowid first, then `_COLUMNS` in order."""
    (
        _rowid, pid, _key, title, abstract, _names, authors, author_count, organization,
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
        published=_day(published),
        updated=_day(updated),
        submitted_to_daily=_day(submitted),
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


def term_stats(conn: sqlite3.Connection, n: int) -> str:
    """The `fts_common_terms` record of an index of `n` papers (in the connection's main
    database): the terms found in more than `COMMON_FRACTION` of them."""
    conn.execute(
        "CREATE VIRTUAL TABLE IF NOT EXISTS temp.fts_terms USING fts5vocab(main, papers_fts, row)"
    )
    rows = conn.execute(
        "SELECT term, doc FROM temp.fts_terms WHERE doc > ?", (int(n * COMMON_FRACTION),)
    ).fetchall()
    return orjson.dumps({"docs": n, "terms": dict(rows)}).decode()


def _side_term_stats(conn: sqlite3.Connection) -> str | None:
    """Term statistics of a bulk load's side index, computed on the follower's thread while the
    index is copied in (so `after_import` has nothing left to do)."""
    n = conn.execute("SELECT count(*) FROM main.papers_fts_docsize").fetchone()[0]
    return term_stats(conn, n) if n >= TERM_STATS_MIN_DOCS else None


def fts_query(terms: Sequence[str], match: Literal["all", "any"]) -> str:
    """Quote every term as an FTS5 string so no user text is ever read as query syntax."""
    quoted = ['"' + t.replace('"', '""') + '"' for t in terms]
    return (" AND " if match == "all" else " OR ").join(quoted)


def filter_sql(filters: Filters, alias: str = "p") -> tuple[str, list[Any]]:
    """SQL conditions (joined with AND, starting with AND) and their parameters."""
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
        sql.append(f"(' ' || {alias}.categories || ' ') LIKE ? ESCAPE '\\'")
        params.append(pattern.replace("_", "\\_"))
    if filters.organization:
        sql.append(f"(lower({alias}.organization) = lower(?) OR lower({alias}.organization_name) = lower(?))")
        params += [filters.organization, filters.organization]
    if filters.author:
        sql.append(f"{alias}.author_names LIKE ? ESCAPE '\\'")
        escaped = filters.author.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        params.append(f"%{escaped}%")
    if filters.min_upvotes is not None:
        sql.append(f"coalesce({alias}.upvotes, 0) >= ?")
        params.append(filters.min_upvotes)
    return "".join(f" AND {s}" for s in sql), params


class SQLiteStore(Store):
    """Papers in one SQLite file. Each thread gets its own connection (the web app serves from a
    thread pool); WAL lets readers go on while an import writes."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._follower: FtsFollower | None = None  # the keyword index of a bulk load
        self._watch: sqlite3.Connection | None = None  # see `change_token`
        self._migrate()

    # -- connections and transactions ---------------------------------------------------------

    @property
    def conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            # Rows of ~2-3 KB (abstracts) waste half of every 4 KB page; 16 KB pages pack them.
            # Only takes effect when the file is new.
            conn.execute("PRAGMA page_size=16384")
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=30000")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA cache_size=-65536")
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT, rolled back on any exception."""
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def _migrate(self) -> None:
        conn = self.conn
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            with self.transaction() as c:
                for statement in _split_sql(script):
                    c.execute(statement)
                c.execute(f"PRAGMA user_version = {number}")
        with self.transaction() as c:
            c.execute("CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY)")
            done = {r[0] for r in c.execute("SELECT name FROM schema_migrations")}
        for name, script in FEATURE_MIGRATIONS:
            if name in done:
                continue
            with self.transaction() as c:
                for statement in split_statements(script):
                    c.execute(statement)
                c.execute("INSERT INTO schema_migrations (name) VALUES (?)", (name,))

    @property
    def db(self) -> Database:
        """Portable access to the feature tables (see `store.db`)."""
        return SQLiteDatabase(self)

    @property
    def schema_version(self) -> int:
        return self.conn.execute("PRAGMA user_version").fetchone()[0]

    def close(self) -> None:
        if self._follower is not None:  # closed in the middle of a bulk load
            self._follower.abort()
            self._follower = None
        with self._lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
            self._watch = None
        self._local = threading.local()

    # -- writes -------------------------------------------------------------------------------

    def upsert(self, papers: Sequence[Paper]) -> UpsertCounts:
        counts = UpsertCounts()
        if not papers:
            return counts
        now = _now()
        with self.transaction() as conn:
            keys = [title_key(p.title) for p in papers]
            rows = self._rows_where(conn, "id", list({p.id for p in papers}))
            rows += self._rows_where(conn, "title_key", list(set(keys)))
            plan = plan_upsert(papers, keys, ((r[0], r[1], r[2], row_to_paper(r)) for r in rows))
            updates = [(*paper_to_row(p), now, pk) for pk, p in plan.changed.items()]
            if updates:
                conn.executemany(_UPDATE, updates)
            if plan.new:
                conn.executemany(
                    _INSERT,
                    [(*paper_to_row(p, plan.new_keys.get(pid)), now, now) for pid, p in plan.new.items()],
                )
            counts.imported = len(plan.new)
            counts.changed_ids = [*plan.new, *(p.id for p in plan.changed.values())]
            counts.updated = len(updates)
            counts.unchanged = plan.touched - len(updates)
        return counts

    @staticmethod
    def _rows_where(
        conn: sqlite3.Connection, column: str, values: list[Any], columns: str | None = None
    ) -> list[Any]:
        """Rows (all of `_SELECT`'s columns, or the given ones) whose `column` is in `values`."""
        select = f"SELECT {columns} FROM papers" if columns else _SELECT
        rows: list[Any] = []
        for start in range(0, len(values), 900):
            chunk = values[start : start + 900]
            marks = ",".join("?" * len(chunk))
            rows += conn.execute(f"{select} WHERE {column} IN ({marks})", chunk).fetchall()
        return rows

    def delete(self, ids: Iterable[str]) -> int:
        ids = list(ids)
        deleted = 0
        with self.transaction() as conn:
            for start in range(0, len(ids), 900):
                chunk = ids[start : start + 900]
                marks = ",".join("?" * len(chunk))
                deleted += conn.execute(f"DELETE FROM papers WHERE id IN ({marks})", chunk).rowcount
        return deleted

    # -- reads --------------------------------------------------------------------------------

    def get(self, paper_id: str) -> Paper | None:
        row = self.conn.execute(f"{_SELECT} WHERE id = ?", (paper_id,)).fetchone()
        return row_to_paper(row) if row else None

    def get_many(self, paper_ids: Sequence[str]) -> dict[str, Paper]:
        rows = self._rows_where(self.conn, "id", list(paper_ids))
        return {row[1]: row_to_paper(row) for row in rows}

    def find_by_title_key(self, key: str) -> list[Paper]:
        rows = self.conn.execute(f"{_SELECT} WHERE title_key = ?", (key,)).fetchall()
        return [row_to_paper(r) for r in rows]

    def keyword_search(
        self,
        terms: Sequence[str],
        *,
        limit: int = 10,
        filters: Filters = Filters(),
    ) -> list[tuple[Paper, float]]:
        """BM25 top-k under a work budget. FTS5 scores every matching document before it can
        sort, so a query of common words over millions of papers would take seconds. Each step
        below is cut off after `SEARCH_BUDGET` VM instructions (deterministic, unlike a clock):

        0. words that occur in more than `COMMON_FRACTION` of all papers (see
           `refresh_term_stats`) are dropped when rarer words remain: their BM25 weight is
           small, and their posting lists are what makes a query slow; a query of nothing but
           common words ("the model") is answered from the newest `COMMON_WINDOW` papers, title
           matches first, newest first, without bm25 (`_newest_matches`);
        1. papers with every word, ranked over title, abstract and authors;
        2. if that is too much work: papers whose *title* has every word;
        3. if that is still too much: the same among the newest `RECENT_WINDOW` papers;
        then, when step 1 found fewer than `limit`, papers with any of the words fill the list
        (ranked below every all-words hit), if that fits in the budget.
        """
        return self._papers(self.keyword_keys(terms, limit=limit, filters=filters))

    def get_by_keys(self, keys: Sequence[int]) -> dict[int, Paper]:
        return {row[0]: row_to_paper(row) for row in self._rows_where(self.conn, "rowid", list(keys))}

    def keyword_keys(
        self, terms: Sequence[str], *, limit: int = 10, filters: Filters = Filters()
    ) -> list[tuple[int, float]]:
        """(rowid, score) best first: the steps `keyword_search` describes."""
        if not terms or limit <= 0:
            return []
        terms, all_common = self._selective(terms)
        all_words = fts_query(terms, "all")
        if all_common:
            return self._newest_matches(all_words, limit, filters)
        found: list[tuple[int, float]] | None = self._ranked(all_words, limit, filters)
        if found is None:
            title_only = "{title} : (" + all_words + ")"
            found = self._ranked(title_only, limit, filters)
            if found is None:
                floor = max(0, self._max_rowid() - RECENT_WINDOW)
                found = self._ranked(title_only, limit, filters, min_rowid=floor) or []
        elif len(found) < limit and len(terms) > 1:
            found = topped_up(found, self._ranked(fts_query(terms, "any"), limit, filters) or [], limit)
        return found

    def _newest_matches(self, all_words: str, limit: int, filters: Filters) -> list[tuple[int, float]]:
        """A query of nothing but common words: the newest `COMMON_WINDOW` papers that have every
        word, those with every word in the title first. No bm25() here: to weigh a word it reads
        the word's whole posting list (every paper that has it: ~40 ms per word found in most
        papers at a million), while newest-first with a limit stops after `limit` matches."""
        floor = max(0, self._max_rowid() - COMMON_WINDOW)
        found: list[int] = []
        for match in ("{title} : (" + all_words + ")", all_words):
            more = self._newest(match, limit - len(found), filters, floor, exclude=set(found))
            found += more or []
            if len(found) >= limit:
                break
        return [(rowid, float(limit - i)) for i, rowid in enumerate(found)]

    def _newest(
        self, match: str, limit: int, filters: Filters, min_rowid: int, exclude: set[int]
    ) -> list[int] | None:
        """Rowids matching `match` above `min_rowid`, newest first; None when over budget."""
        where, params = filter_sql(filters)
        join = "" if filters.empty else " JOIN papers p ON p.rowid = papers_fts.rowid"
        sql = (
            f"SELECT papers_fts.rowid FROM papers_fts{join} WHERE papers_fts MATCH ?{where} "
            "AND papers_fts.rowid > ? ORDER BY papers_fts.rowid DESC LIMIT ?"
        )
        rows = self._within_budget(sql, [match, *params, min_rowid, limit + len(exclude)])
        return None if rows is None else [r[0] for r in rows if r[0] not in exclude][:limit]

    def _papers(self, found: list[tuple[int, float]]) -> list[tuple[Paper, float]]:
        rows = {r[0]: r for r in self._rows_where(self.conn, "rowid", [r for r, _ in found])}
        return [(row_to_paper(rows[r]), s) for r, s in found if r in rows]

    def _ranked(
        self, match: str, limit: int, filters: Filters, min_rowid: int | None = None
    ) -> list[tuple[int, float]] | None:
        """(rowid, score) best first; None when the query ran out of budget."""
        weights = ", ".join(str(w) for w in FTS_WEIGHTS)
        where, params = filter_sql(filters)
        if min_rowid is not None:
            where += " AND papers_fts.rowid > ?"
            params.append(min_rowid)
        join = "" if filters.empty else " JOIN papers p ON p.rowid = papers_fts.rowid"
        sql = (
            f"SELECT papers_fts.rowid, bm25(papers_fts, {weights}) AS score FROM papers_fts{join} "
            f"WHERE papers_fts MATCH ?{where} ORDER BY score LIMIT ?"
        )
        rows = self._within_budget(sql, [match, *params, limit])
        return None if rows is None else [(r[0], -r[1]) for r in rows]

    def _within_budget(self, sql: str, params: Sequence[Any]) -> list[Row] | None:
        """The query's rows, or None when it ran past `SEARCH_BUDGET` VM instructions."""
        conn = self.conn
        steps = [0]

        def over_budget() -> int:
            steps[0] += 1
            return steps[0] * 10_000 > SEARCH_BUDGET

        conn.set_progress_handler(over_budget, 10_000)
        try:
            return conn.execute(sql, params).fetchall()
        except sqlite3.OperationalError as exc:
            if "interrupted" in str(exc):
                return None
            raise
        finally:
            conn.set_progress_handler(None, 0)

    def _selective(self, terms: Sequence[str]) -> tuple[list[str], bool]:
        """(the words worth searching for, whether every word is a common one)."""
        common = self._common_terms()
        if not common:
            return list(terms), False
        rare = [t for t, stem in zip(terms, self._stems(terms), strict=True) if stem not in common]
        return (rare, False) if rare else (list(terms), True)

    def _stems(self, terms: Sequence[str]) -> list[str]:
        """The index's own tokens for query words (Porter stems), by running them through a temp
        FTS5 table with the same tokenizer: exact, and private to this connection. Remembered
        per process (the tokenizer never changes): a search then runs no statements for it."""
        stems = {t: _STEMS.get(t) for t in terms}
        missing = [t for t, stem in stems.items() if stem is None]
        if missing:
            found = dict(zip(missing, self._stems_now(missing), strict=True))
            stems.update(found)
            if len(_STEMS) > STEM_CACHE:
                _STEMS.clear()
            _STEMS.update(found)
        return [stems[t] for t in terms]

    def _stems_now(self, terms: Sequence[str]) -> list[str]:
        conn = self.conn
        if not getattr(self._local, "stemmer", False):
            conn.execute(
                f"CREATE VIRTUAL TABLE IF NOT EXISTS temp.stemmer USING fts5(t, tokenize='{TOKENIZER}')"
            )
            conn.execute(
                "CREATE VIRTUAL TABLE IF NOT EXISTS temp.stemmer_tokens "
                "USING fts5vocab(temp, stemmer, instance)"
            )
            self._local.stemmer = True
        conn.execute("DELETE FROM temp.stemmer")
        conn.executemany("INSERT INTO temp.stemmer(rowid, t) VALUES (?, ?)", enumerate(terms, 1))
        stems = dict(conn.execute("SELECT doc, term FROM temp.stemmer_tokens"))
        return [stems.get(i, t) for i, t in enumerate(terms, 1)]

    def term_fractions(self, terms: Sequence[str]) -> dict[str, float] | None:
        """From the FTS vocabulary: words in the recorded common-terms list take its count (no
        scan); the others are rare (at most `COMMON_FRACTION` of papers, or a small corpus), so
        counting their posting lists is cheap. The paper count is the largest rowid (no scan;
        deletions make it a slight over-estimate, which is harmless here)."""
        n = self._max_rowid()
        if not terms or n == 0:
            return {t: 0.0 for t in terms}
        stems = self._stems(terms)
        raw = self.get_meta("fts_common_terms")
        common: dict[str, int] = orjson.loads(raw)["terms"] if raw else {}
        ask = sorted({s for s in stems if s not in common})
        docs = dict(common)
        if ask:
            conn = self.conn
            conn.execute(
                "CREATE VIRTUAL TABLE IF NOT EXISTS temp.fts_terms "
                "USING fts5vocab(main, papers_fts, row)"
            )
            for stem in ask:
                row = conn.execute("SELECT doc FROM temp.fts_terms WHERE term = ?", (stem,)).fetchone()
                docs[stem] = row[0] if row else 0
        # BM25's smoothing, (n + 0.5) / (N + 1): ln(1 / f) is then exactly BM25's idf.
        return {t: (docs.get(s, 0) + 0.5) / (n + 1) for t, s in zip(terms, stems, strict=True)}

    def _common_terms(self) -> frozenset[str]:
        raw = self.get_meta("fts_common_terms")
        if not hasattr(self._local, "common") or raw != self._local.common_raw:
            self._local.common_raw = raw
            self._local.common = frozenset(orjson.loads(raw)["terms"]) if raw else frozenset()
        return self._local.common

    def refresh_term_stats(self, *, force: bool = False) -> bool:
        """Record the index terms found in more than `COMMON_FRACTION` of papers (a full scan of
        the FTS vocabulary: ~7 s at a million papers). Done after an import when the corpus has
        grown or shrunk by a fifth since the last time; small corpora need none."""
        n = self.count()
        raw = self.get_meta("fts_common_terms")
        last = orjson.loads(raw)["docs"] if raw else 0
        if not force and (n < TERM_STATS_MIN_DOCS or (last and abs(n - last) < last / 5)):
            return False
        self.set_meta("fts_common_terms", term_stats(self.conn, n))
        return True

    def after_import(self) -> None:
        self.refresh_term_stats()

    # -- bulk loading -------------------------------------------------------------------------

    def begin_bulk(self) -> None:
        """Stop indexing row by row for a large load: the keyword index is built on the other
        core, in a side file, while the load goes on (see `store.sqlite_bulk`). Until `end_bulk`
        (or `heal`) runs, new papers are stored but not yet found by keyword search. A load
        killed half-way leaves `fts_state` set, and the next import (or `heal()`) rebuilds the
        index from the table, so no crash leaves the index out of step."""
        with self.transaction() as c:
            for name in FTS_TRIGGER_NAMES:
                c.execute(f"DROP TRIGGER IF EXISTS {name}")
            c.execute(LOG_TABLE)
            for sql in LOG_TRIGGERS:
                c.execute(sql)
            c.execute(
                "INSERT INTO meta (key, value) VALUES ('fts_state', 'rebuilding') "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value"
            )
        fts_sql = self.conn.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'papers_fts'"
        ).fetchone()[0]
        self.conn.execute("PRAGMA wal_autocheckpoint=0")  # the follower checkpoints meanwhile
        self._follower = FtsFollower(self.path, fts_sql, on_complete=_side_term_stats)
        self._follower.start()

    def end_bulk(self) -> None:
        """Bring the keyword index up to date and index row by row again, atomically: take the
        index the follower built when it is complete, else rebuild it from the table."""
        follower, self._follower = self._follower, None
        self.conn.execute("PRAGMA wal_autocheckpoint=1000")
        if follower is not None:
            swapped = follower.wait_indexed() and self._swap_in_side_index()
            stats = follower.finish()
            remove_side_file(self.path)
            if swapped:
                if stats is not None:
                    self.set_meta("fts_common_terms", stats)
                return
        with self.transaction() as c:
            c.execute("INSERT INTO papers_fts(papers_fts) VALUES ('rebuild')")
            self._leave_bulk(c)
        remove_side_file(self.path)

    def _swap_in_side_index(self) -> bool:
        """Copy the side file's index in (a fresh connection: no FTS5 state cached)."""
        conn = sqlite3.connect(self.path, isolation_level=None)
        try:
            conn.execute("PRAGMA busy_timeout=30000")
            conn.execute("ATTACH DATABASE ? AS side", (str(side_path(self.path)),))
            conn.execute("BEGIN IMMEDIATE")
            try:
                if not swap_in(conn):
                    conn.execute("ROLLBACK")
                    return False
                self._leave_bulk(conn)
                conn.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                raise
            return True
        except sqlite3.Error:  # e.g. the side file is damaged: rebuild from the table instead
            return False
        finally:
            conn.close()

    @staticmethod
    def _leave_bulk(c: sqlite3.Connection) -> None:
        for sql in LOG_CLEANUP + FTS_TRIGGERS:
            c.execute(sql)
        c.execute("DELETE FROM meta WHERE key = 'fts_state'")

    def heal(self) -> bool:
        """Finish a bulk load that was interrupted; True when there was one."""
        if self.get_meta("fts_state") != "rebuilding":
            return False
        self.end_bulk()
        return True

    def change_token(self) -> int:
        """`PRAGMA data_version` of a connection kept for this and nothing else: it moves
        whenever any other connection (every thread's own, another process's) commits, and this
        one never writes. See `paperfeed.search_cache`."""
        with self._lock:
            if self._watch is None:
                self._watch = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
                self._connections.append(self._watch)
            return self._watch.execute("PRAGMA data_version").fetchone()[0]

    def _max_rowid(self) -> int:
        return self.conn.execute("SELECT coalesce(max(rowid), 0) FROM papers").fetchone()[0]

    def papers_between(
        self, start: date, end: date, *, limit: int | None = None, offset: int = 0
    ) -> list[Paper]:
        rows = self.conn.execute(
            f"{_SELECT} WHERE day BETWEEN ? AND ? "
            "ORDER BY coalesce(upvotes, 0) DESC, day DESC, id LIMIT ? OFFSET ?",
            (start.isoformat(), end.isoformat(), -1 if limit is None else limit, offset),
        ).fetchall()
        return [row_to_paper(r) for r in rows]

    def papers_added_between(
        self, after: str, until: str, *, limit: int = 10_000
    ) -> list[tuple[Paper, str]]:
        rows = self.conn.execute(
            f"{_SELECT.replace(' FROM papers', ', added_at FROM papers')} "
            "WHERE added_at > ? AND added_at <= ? ORDER BY added_at DESC, rowid DESC LIMIT ?",
            (after, until, limit),
        ).fetchall()
        return [(row_to_paper(r[:-1]), r[-1]) for r in rows]

    def papers_matching(self, filters: Filters, *, limit: int = 50, offset: int = 0) -> list[Paper]:
        """Organizations are found through their indexes (migration 3). For an author, newest
        papers are scanned with the filter's LIKE under a work budget (quick for a frequent
        name); when that runs out (a rare name: a full scan takes ~3 s at a million papers),
        the name is looked up as a phrase in the FTS index's author column instead."""
        where, params = filter_sql(filters)
        sql = f"{_SELECT} p WHERE 1 = 1{{}}{where} ORDER BY p.day DESC, p.id LIMIT ? OFFSET ?"
        words = "".join(c if c.isalnum() else " " for c in filters.author or "").split()
        conn = self.conn
        if words:
            rows = self._within_budget(sql.format(""), [*params, limit, offset])
            if rows is not None:
                return [row_to_paper(r) for r in rows]
            fts = " AND p.rowid IN (SELECT rowid FROM papers_fts WHERE papers_fts MATCH ?)"
            rows = conn.execute(
                sql.format(fts), ['{author_names} : "' + " ".join(words) + '"', *params, limit, offset]
            ).fetchall()
        else:
            rows = conn.execute(sql.format(""), [*params, limit, offset]).fetchall()
        return [row_to_paper(r) for r in rows]

    def latest_day(self, on_or_before: date | None = None) -> date | None:
        if on_or_before is None:
            row = self.conn.execute("SELECT max(day) FROM papers").fetchone()
        else:
            row = self.conn.execute(
                "SELECT max(day) FROM papers WHERE day <= ?", (on_or_before.isoformat(),)
            ).fetchone()
        return _day(row[0])

    def adjacent_day(self, day: date, direction: Literal[-1, 1]) -> date | None:
        sql = (
            "SELECT max(day) FROM papers WHERE day < ?"
            if direction < 0
            else "SELECT min(day) FROM papers WHERE day > ?"
        )
        return _day(self.conn.execute(sql, (day.isoformat(),)).fetchone()[0])

    def count(self) -> int:
        return self.conn.execute("SELECT count(*) FROM papers").fetchone()[0]

    def stats(self) -> dict[str, Any]:
        conn = self.conn
        papers, with_arxiv, days = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE id NOT LIKE 't-%'), count(DISTINCT day) "
            "FROM papers"
        ).fetchone()
        first, last = conn.execute("SELECT min(day), max(day) FROM papers").fetchone()
        size = sum(
            p.stat().st_size
            for p in (self.path, Path(f"{self.path}-wal"))
            if p.exists()
        )
        return {
            "papers": papers,
            "with_arxiv_id": with_arxiv,
            "days": days,
            "first_day": first,
            "last_day": last,
            "database": str(self.path),
            "database_bytes": size,
            "schema_version": self.schema_version,
        }

    # -- import log and service state ---------------------------------------------------------

    def log_import(self, entry: ImportLogEntry) -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO import_log (source, started_at, finished_at, counts, error) "
                "VALUES (?, ?, ?, ?, ?)",
                (
                    entry.source,
                    entry.started_at.isoformat(timespec="seconds"),
                    entry.finished_at.isoformat(timespec="seconds") if entry.finished_at else None,
                    orjson.dumps(entry.counts).decode(),
                    entry.error,
                ),
            )

    def import_log(self, limit: int = 10) -> list[ImportLogEntry]:
        rows = self.conn.execute(
            "SELECT source, started_at, finished_at, counts, error FROM import_log "
            "ORDER BY rowid DESC LIMIT ?",
            (limit,),
        ).fetchall()
        return [
            ImportLogEntry(
                source=r[0],
                started_at=datetime.fromisoformat(r[1]),
                finished_at=datetime.fromisoformat(r[2]) if r[2] else None,
                counts=orjson.loads(r[3]),
                error=r[4],
            )
            for r in rows
        ]

    def get_meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    def integrity(self) -> dict[str, int]:
        """Row counts of the table and of its FTS index, and FTS5's own integrity check."""
        conn = self.conn
        conn.execute("INSERT INTO papers_fts(papers_fts, rank) VALUES ('integrity-check', 1)")
        return {
            "papers": self.count(),
            "fts_rows": conn.execute("SELECT count(*) FROM papers_fts_docsize").fetchone()[0],
        }


class _SQLiteTransaction(Transaction):
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        return self._conn.execute(sql, tuple(params)).rowcount

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return self._conn.execute(sql, tuple(params)).fetchall()


class SQLiteDatabase(Database):
    dialect = "sqlite"

    def __init__(self, store: SQLiteStore) -> None:
        self._store = store

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        with self._store.transaction() as conn:
            yield _SQLiteTransaction(conn)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Reads need no write lock: run them outside BEGIN IMMEDIATE."""
        return self._store.conn.execute(sql, tuple(params)).fetchall()


def _split_sql(script: str) -> list[str]:
    """Split a migration into statements, keeping trigger bodies whole."""
    statements: list[str] = []
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            statements.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        statements.append(buffer.strip())
    return statements
