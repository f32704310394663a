"""Copy an SQLite library into PostgreSQL: `paperfeed migrate --to postgresql://…`.

What is copied: papers (with their store keys, so vectors stay attached), the import log, the
service state in `meta`, the vectors (float16 → pgvector `halfvec`, the HNSW index built once at
the end, which is several times faster than growing it row by row), and every feature table that a
migration in `store.db.FEATURE_MIGRATIONS` creates (users, sessions, votes, subscriptions, outbox,
harvest log, ...: found by name in the DDL, copied column by column, so a table added by a later
feature is copied without touching this module).

It can be re-run: papers and vectors resume after the highest key already copied, the small tables
are replaced whole, each in one transaction. The report ends with a verification: the row count of
every table on both sides.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from paperfeed.errors import InvalidInput
from paperfeed.store.db import FEATURE_MIGRATIONS
from paperfeed.store.postgres.keyword import INDEXES as KEYWORD_INDEXES
from paperfeed.store.postgres.sql import nul_free
from paperfeed.store.postgres.store import PostgresStore
from paperfeed.store.sqlite.store import SQLiteStore

BATCH = 5_000
_TABLE_RE = re.compile(r"CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?([A-Za-z_][A-Za-z0-9_]*)", re.I)
_DROP_RE = re.compile(r"DROP\s+TABLE\s+(?:IF\s+EXISTS\s+)?([A-Za-z_][A-Za-z0-9_]*)", re.I)
_PAPER_COLUMNS = (
    "id title_key title abstract author_names authors author_count organization "
    "organization_name categories published updated submitted_to_daily upvotes comments "
    "github_repo github_stars project_page doi journal_ref license version sources title_raw "
    "abstract_raw extra added_at changed_at"
).split()

Progress = Callable[[int], None]


@dataclass
class MigrationReport:
    """Rows copied by this run and the verification: table -> (rows in SQLite, rows in PostgreSQL)."""

    copied: dict[str, int] = field(default_factory=dict)
    verified: dict[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(a == b for a, b in self.verified.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "copied": self.copied,
            "verified": {t: {"sqlite": a, "postgresql": b} for t, (a, b) in self.verified.items()},
        }


def feature_tables() -> list[str]:
    """Every table the feature migrations create (and a later one does not drop), in creation
    order."""
    names: list[str] = []
    for _, script in FEATURE_MIGRATIONS:
        names += [n for n in _TABLE_RE.findall(script) if n not in names]
        names = [n for n in names if n not in _DROP_RE.findall(script)]
    return names


def rows_to_copy(source: SQLiteStore) -> int:
    """How many rows a full copy moves (for a progress bar)."""
    conn = source.conn
    total = conn.execute("SELECT count(*) FROM papers").fetchone()[0]
    for _, table in _vector_tables(source):
        total += conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    for table in feature_tables():
        total += conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
    return total


def migrate(source: SQLiteStore, target_url: str, progress: Progress | None = None) -> MigrationReport:
    if not target_url.startswith(("postgresql:", "postgres:")):
        raise InvalidInput("--to must be a postgresql://… URL")
    target = PostgresStore(target_url)
    report = MigrationReport()
    tick = progress or (lambda n: None)
    try:
        report.copied["papers"] = _copy_papers(source, target, tick)
        report.copied["import_log"] = _replace_table(source, target, "import_log",
                                                     ["source", "started_at", "finished_at",
                                                      "counts", "error"], order="rowid")
        report.copied["vectors"] = _copy_vectors(source, target, tick)
        for table in feature_tables():
            columns = [r[1] for r in source.conn.execute(f'PRAGMA table_info("{table}")')]
            report.copied[table] = _replace_table(source, target, table, columns)
            tick(report.copied[table])
        meta = source.conn.execute("SELECT key, value FROM meta").fetchall()
        with target.transaction() as conn, conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO meta (key, value) VALUES (%s, %s) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                meta,
            )
        for table in ["papers", "import_log", "meta", *feature_tables()]:
            report.verified[table] = (_count(source, table), _pg_count(target, table))
        tables = _vector_tables(source)
        report.verified["vectors"] = (
            sum(_count(source, t) for _, t in tables),
            sum(_pg_count(target, t) if _pg_has(target, t) else 0 for _, t in tables),
        )
    finally:
        target.close()
    return report


def _count(source: SQLiteStore, table: str) -> int:
    return source.conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]


def _pg_count(target: Any, table: str) -> int:
    with target.connection() as conn:
        return conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]


def _pg_has(target: Any, table: str) -> bool:
    with target.connection() as conn:
        return conn.execute("SELECT to_regclass(%s) IS NOT NULL", (table,)).fetchone()[0]


def _batches(source: SQLiteStore, sql: str, after: int) -> Iterator[list[tuple[Any, ...]]]:
    """Rows of `sql` (keyset-paged on its first column, `?` = the last key) in batches."""
    while rows := source.conn.execute(sql, (after, BATCH)).fetchall():
        yield rows
        after = rows[-1][0]


def _copy_papers(source: SQLiteStore, target: Any, tick: Progress) -> int:
    """Papers keep their keys (rowid → pk), in key order, one transaction per batch; a re-run
    resumes after the highest key already there."""
    with target.connection() as conn:
        after = conn.execute("SELECT coalesce(max(pk), 0) FROM papers").fetchone()[0]
        # Into an empty table, building the keyword indexes once at the end is several times
        # faster than updating them row by row (a killed run leaves them dropped: the next run
        # makes them again, below).
        if after == 0:
            for index in KEYWORD_INDEXES:
                conn.execute(f"DROP INDEX IF EXISTS {index}")
    tick(after and _count_upto(source, "papers", "rowid", after))
    cols = ", ".join(_PAPER_COLUMNS)
    copied = 0
    for rows in _batches(
        source, f"SELECT rowid, {cols} FROM papers WHERE rowid > ? ORDER BY rowid LIMIT ?", after
    ):
        with (
            target.transaction() as conn,
            conn.cursor() as cur,
            cur.copy(f"COPY papers (pk, {cols}) FROM STDIN") as copy,
        ):
            for row in rows:  # SQLite may hold JSON as bytes (authors): PostgreSQL has TEXT
                copy.write_row(nul_free([v.decode() if isinstance(v, bytes) else v for v in row]))
        copied += len(rows)
        tick(len(rows))
    # The copied rows' keyword tokens, the keyword indexes and term statistics.
    target.rebuild_keywords()
    with target.connection() as conn:  # new papers get keys after the copied ones
        conn.execute(
            "SELECT setval(pg_get_serial_sequence('papers', 'pk'), "
            "greatest((SELECT coalesce(max(pk), 0) FROM papers), 1))"
        )
    return copied


def _index_build_memory(conn: Any) -> None:
    """At least 1 GB of `maintenance_work_mem` for the GIN and HNSW builds, or the server's own
    setting when it is higher (1M vectors' HNSW graph needs more than 1 GB to build in memory)."""
    kb = conn.execute(
        "SELECT setting::bigint FROM pg_settings WHERE name = 'maintenance_work_mem'"
    ).fetchone()[0]
    if kb < 1024 * 1024:
        conn.execute("SET maintenance_work_mem = '1GB'")


def _count_upto(source: SQLiteStore, table: str, key: str, upto: int) -> int:
    return source.conn.execute(f"SELECT count(*) FROM {table} WHERE {key} <= ?", (upto,)).fetchone()[0]


def _vector_tables(source: SQLiteStore) -> list[tuple[str, str]]:
    """(encoder, table) of every vector set of the source."""
    from paperfeed.store.sqlite.vectors import SQLiteVectorSets, table_name

    return [(name, table_name(name)) for name in SQLiteVectorSets(source).names()]


def _copy_vectors(source: SQLiteStore, target: Any, tick: Progress) -> int:
    """Every vector set, each into its own pgvector table."""
    from paperfeed.store.postgres.vectors import PgVectorSets
    from paperfeed.store.sqlite.vectors import SQLiteVectorSets

    sets = SQLiteVectorSets(source)
    pg_sets = PgVectorSets(target)
    copied = 0
    for name, table in _vector_tables(source):
        encoder = sets.open_set(name).encoder()
        if encoder is not None:
            copied += _copy_set(source, target, pg_sets.open_set(name), encoder, table, tick)
    return copied


def _copy_set(
    source: SQLiteStore, target: Any, vectors: Any, encoder: tuple[str, int], table: str,
    tick: Progress,
) -> int:
    from pgvector import HalfVector

    from paperfeed.store.postgres.vectors import HNSW_EF_CONSTRUCTION, HNSW_M

    vectors.set_encoder(*encoder)  # makes the table (a no-op when a previous run did)
    with target.connection() as conn:
        after = conn.execute(f"SELECT coalesce(max(paper_pk), 0) FROM {table}").fetchone()[0]
        to_copy = source.conn.execute(
            f"SELECT count(*) FROM {table} WHERE paper_rowid > ?", (after,)
        ).fetchone()[0]
        if to_copy:  # one HNSW build at the end beats growing the graph row by row
            conn.execute(f"DROP INDEX IF EXISTS {table}_hnsw")
    tick(after and _count_upto(source, table, "paper_rowid", after))
    copied = 0
    for rows in _batches(
        source,
        f"SELECT paper_rowid, seq, vector FROM {table} WHERE paper_rowid > ? "
        "ORDER BY paper_rowid LIMIT ?",
        after,
    ):
        with (
            target.transaction() as conn,
            conn.cursor() as cur,
            cur.copy(f"COPY {table} (paper_pk, seq, vector) FROM STDIN WITH (FORMAT BINARY)") as copy,
        ):
            copy.set_types(["bigint", "bigint", "halfvec"])
            for key, seq, blob in rows:
                vec = np.frombuffer(blob, dtype=np.float16).astype(np.float32)
                copy.write_row((key, seq, HalfVector(vec)))
        copied += len(rows)
        tick(len(rows))
    with target.connection() as conn:
        _index_build_memory(conn)
        conn.execute(
            f"CREATE INDEX IF NOT EXISTS {table}_hnsw ON {table} USING hnsw (vector halfvec_ip_ops) "
            f"WITH (m = {HNSW_M}, ef_construction = {HNSW_EF_CONSTRUCTION})"
        )
    return copied


def _replace_table(
    source: SQLiteStore, target: Any, table: str, columns: list[str], order: str | None = None
) -> int:
    """Replace the target table's rows with the source's, in one transaction."""
    names = ", ".join(f'"{c}"' for c in columns)
    rows = source.conn.execute(
        f'SELECT {names} FROM "{table}"' + (f" ORDER BY {order}" if order else "")
    ).fetchall()
    with target.transaction() as conn, conn.cursor() as cur:
        cur.execute(f'DELETE FROM "{table}"')
        if rows:
            marks = ", ".join(["%s"] * len(columns))
            cur.executemany(f'INSERT INTO "{table}" ({names}) VALUES ({marks})', nul_free(rows))
    return len(rows)
