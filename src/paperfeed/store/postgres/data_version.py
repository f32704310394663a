"""The PostgreSQL store's data version: counters that move, in the writing transaction, exactly
when data a search answers from changes. The search cache keys on them (`change_token`).

One row per kind in `data_version`, bumped by statement-level triggers (so every writer counts:
this code, `paperfeed migrate`'s COPY, an older or newer app server, a hand-run SQL statement):

- `papers`: the papers table, its keyword rows (`paper_kw`) and statistics (`kw_df`, `kw_totals`);
- `votes`: `paper_votes`, the local upvotes every result shows (and `min_upvotes` filters on);
- `vectors`: each vector set's table (`vec_<encoder>`, given its trigger when it is made), and the
  meta keys naming the sets and the active one (`vector_*`).

What else the database holds (accounts, sessions, comments, subscriptions, rate counters) is not
in a search result and moves nothing; neither do vacuum, hint bits or writes to other databases
of the cluster, which all moved the WAL position the cache was keyed on before. A bump becomes
visible when its transaction commits, together with the data: a reader that saw the old version
saw the old data. One row per kind, so a long import (holding the `papers` row until it commits)
never makes a vote wait.

Kept alike with SQLite's `PRAGMA data_version`, which moves when another connection commits to
the store's database (and nothing outside it).
"""

from __future__ import annotations

from typing import Any

KINDS = ("papers", "vectors", "votes")
TABLES = {"papers": "papers", "paper_kw": "papers", "kw_df": "papers", "kw_totals": "papers",
          "paper_votes": "votes"}
VECTOR_META = "vector_"  # meta keys of the vector sets (store.vector_common)

_SETUP = [
    "CREATE TABLE IF NOT EXISTS data_version (kind TEXT PRIMARY KEY, version BIGINT NOT NULL)",
    "INSERT INTO data_version (kind, version) VALUES " + ", ".join(f"('{k}', 0)" for k in KINDS)
    + " ON CONFLICT (kind) DO NOTHING",
    """CREATE OR REPLACE FUNCTION paperfeed_bump_data_version() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE data_version SET version = version + 1 WHERE kind = TG_ARGV[0];
        RETURN NULL;
    END $$""",
    f"""CREATE OR REPLACE FUNCTION paperfeed_bump_vector_meta() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF (TG_OP = 'DELETE' AND starts_with(OLD.key, '{VECTOR_META}'))
           OR (TG_OP <> 'DELETE' AND starts_with(NEW.key, '{VECTOR_META}')) THEN
            UPDATE data_version SET version = version + 1 WHERE kind = 'vectors';
        END IF;
        RETURN NULL;
    END $$""",
]


def trigger_name(table: str) -> str:
    return f"{table}_data_version"


def setup(conn: Any) -> None:
    """Inside the migrating transaction (after every migration): the table, its functions, and
    the triggers of the tables there are that lack theirs (DDL only for what is missing, so an
    app server starting beside a long import does not wait for it)."""
    if conn.execute("SELECT to_regclass('data_version') IS NULL").fetchone()[0]:
        for statement in _SETUP:
            conn.execute(statement)
    have = _triggers(conn)
    for table, kind in TABLES.items():
        if table not in have and conn.execute("SELECT to_regclass(%s) IS NOT NULL", (table,)).fetchone()[0]:
            _add(conn, table, kind)
    if "meta" not in have:
        conn.execute(
            f"CREATE TRIGGER {trigger_name('meta')} AFTER INSERT OR UPDATE OR DELETE ON meta "
            "FOR EACH ROW EXECUTE FUNCTION paperfeed_bump_vector_meta()"
        )
    sets = conn.execute(
        "SELECT 'vec_' || regexp_replace(substr(key, 12), '[^a-zA-Z0-9]', '_', 'g') FROM meta "
        "WHERE starts_with(key, 'vector_set:')"
    ).fetchall()
    for (table,) in sets:  # sets made before the data version
        if table not in have and conn.execute("SELECT to_regclass(%s) IS NOT NULL", (table,)).fetchone()[0]:
            _add(conn, table, "vectors")


def keep_set(conn: Any, table: str) -> None:
    """A vector set's table counts in the data version (if it does not yet)."""
    if table not in _triggers(conn, table):
        _add(conn, table, "vectors")


def read(conn: Any) -> tuple[int, ...]:
    """The versions, in `KINDS` order."""
    return tuple(int(r[0]) for r in conn.execute("SELECT version FROM data_version ORDER BY kind").fetchall())


def _triggers(conn: Any, table: str | None = None) -> set[str]:
    """The tables (of the current schema) that have their data-version trigger."""
    rows = conn.execute(
        "SELECT c.relname, t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
        "WHERE c.relnamespace = current_schema()::regnamespace AND NOT t.tgisinternal "
        "AND (%s::text IS NULL OR c.relname = %s)",
        (table, table),
    ).fetchall()
    return {name for name, trigger in rows if trigger == trigger_name(name)}


def _add(conn: Any, table: str, kind: str) -> None:
    conn.execute(
        f"CREATE TRIGGER {trigger_name(table)} AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
        f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION paperfeed_bump_data_version('{kind}')"
    )
