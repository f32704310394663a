"""The embedded default store: one SQLite file, WAL mode, an FTS5 keyword index kept in step by
triggers (so a transaction that writes a paper writes its index entry too, or neither). Keyword
search is `store.sqlite.keyword`, bulk loads `store.sqlite.bulk`, vectors `store.sqlite.vectors`;
what SQLite does as PostgreSQL does is `store.common`."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from paperfeed.records import Paper, title_key
from paperfeed.store.base import Filters, UpsertCounts
from paperfeed.store.common import SqlStore
from paperfeed.store.db import FEATURE_MIGRATIONS, Database, Row, Transaction, split_statements
from paperfeed.store.merge import plan_upsert
from paperfeed.store.rows import COLUMNS, filter_sql, now, paper_to_row, row_to_paper
from paperfeed.store.sqlite.bulk import FtsFollower, SQLiteBulk
from paperfeed.store.sqlite.keyword import FTS_TRIGGERS, SQLiteKeyword

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
    # 2: paper vectors of one encoder (named in meta 'vector_encoder'), float16 blobs.
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
    # 3: organization pages find an organization's papers by name, any case.
    """
    CREATE INDEX papers_organization ON papers(lower(organization));
    CREATE INDEX papers_organization_name ON papers(lower(organization_name));
    """,
    # 4: the recommender's stored analysis of a paper (the feature table `paper_terms`, made by
    # the feature migrations that follow on every open) goes when its text changes or the
    # paper goes, so a row can be trusted without reading the text again (`terms.TermRows`).
    """
    CREATE TRIGGER paper_terms_stale AFTER UPDATE OF title, abstract ON papers
    WHEN old.title IS NOT new.title OR old.abstract IS NOT new.abstract
    BEGIN
        DELETE FROM paper_terms WHERE paper_id = old.id;
    END;
    CREATE TRIGGER paper_terms_gone AFTER DELETE ON papers
    BEGIN
        DELETE FROM paper_terms WHERE paper_id = old.id;
    END;
    """,
]
_SELECT = "SELECT rowid, " + ", ".join(COLUMNS) + " FROM papers"
_INSERT = (
    f"INSERT INTO papers ({', '.join(COLUMNS)}, added_at, changed_at) "
    f"VALUES ({', '.join('?' * (len(COLUMNS) + 2))})"
)
_UPDATE = (
    "UPDATE papers SET "
    + ", ".join(f"{c} = ?" for c in COLUMNS)
    + ", changed_at = ? WHERE rowid = ?"
)


class SQLiteStore(SQLiteKeyword, SQLiteBulk, SqlStore):
    """Papers in one SQLite file. Each thread gets its own connection (the web app serves from a
    thread pool); WAL lets readers go on while an import writes."""

    key_column = "rowid"
    no_limit = -1

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

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Rows of one statement (SQLite SQL) on this thread's connection, outside any write
        transaction: for this backend's own modules (vectors, migration)."""
        return self.conn.execute(sql, tuple(params)).fetchall()

    @contextmanager
    def read_snapshot(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: every statement inside sees one snapshot, no write lock taken."""
        conn = self.conn
        conn.execute("BEGIN")
        try:
            yield conn
        finally:
            conn.execute("COMMIT")

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
        lock, self._bulk_lock = getattr(self, "_bulk_lock", None), None
        if lock is not None:  # the load is over for this process: the next open may heal it
            os.close(lock)
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
        now_ = now()
        with self.transaction() as conn:
            keys = [title_key(p.title) for p in papers]
            rows = self._rows_where(conn, "id", list({p.id for p in papers}))
            rows += self._rows_where(conn, "title_key", list(set(keys)))
            plan = plan_upsert(papers, keys, ((r[0], r[1], r[2], row_to_paper(r)) for r in rows))
            updates = [(*paper_to_row(p), now_, pk) for pk, p in plan.changed.items()]
            if updates:
                conn.executemany(_UPDATE, updates)
            if plan.new:
                conn.executemany(
                    _INSERT,
                    [(*paper_to_row(p, plan.new_keys.get(pid)), now_, now_) for pid, p in plan.new.items()],
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
    def get_many(self, paper_ids: Sequence[str]) -> dict[str, Paper]:
        rows = self._rows_where(self.conn, "id", list(paper_ids))
        return {row[1]: row_to_paper(row) for row in rows}

    def titles_of(self, paper_ids: Sequence[str]) -> dict[str, str]:
        return dict(self._rows_where(self.conn, "id", list(paper_ids), "id, title"))

    def title_key_owners(self, keys: Sequence[str]) -> set[tuple[str, str]]:
        return set(self._rows_where(self.conn, "title_key", list(dict.fromkeys(keys)), "title_key, id"))

    def texts_of(self, paper_ids: Sequence[str]) -> dict[str, tuple[str, str]]:
        rows = self._rows_where(self.conn, "id", list(paper_ids), "id, title, abstract")
        return {pid: (title, abstract) for pid, title, abstract in rows}

    def get_by_keys(self, keys: Sequence[int]) -> dict[int, Paper]:
        return {row[0]: row_to_paper(row) for row in self._rows_where(self.conn, "rowid", list(keys))}

    def change_token(self) -> int:
        """`PRAGMA data_version` of a connection kept for this and nothing else: it moves
        whenever any other connection (every thread's own, another process's) commits, and this
        one never writes. See `paperfeed.search_cache`."""
        with self._lock:
            if self._watch is None:
                self._watch = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
                self._connections.append(self._watch)
            return self._watch.execute("PRAGMA data_version").fetchone()[0]
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
