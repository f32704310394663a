"""PostgreSQL's search cache keys on the store's data version (`store.postgres.data_version`),
bumped by triggers in the transaction of every write to what searches answer from: papers (and
their keyword statistics), vector sets, local upvotes. Writes to anything else in the database
(accounts, sessions, comments, subscriptions, rate counters), vacuum, and writes to another
database of the same server move the cluster's WAL position but leave the cache alone; an import,
a vote, new vectors or a hand-run UPDATE empty it. On the real server (tests/pg.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from conftest import SAMPLE_DIR
from test_search_cache import QUERY, SAMPLE_QUERY, ids, other, snapshot

from paperfeed.config import Config
from paperfeed.library import Library


@pytest.fixture
def pg_lib(pg_server: Any, home: Path) -> Iterator[Library]:
    url = pg_server.new_database()
    with Library(Config.from_env(home=home, database_url=url)) as lib:
        lib.import_files(sorted(SAMPLE_DIR.glob("*.txt")))
        yield lib
    pg_server.drop_database(url)


def sql(url: str, statement: str, params: tuple[Any, ...] = ()) -> Any:
    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(statement, params)
        return cur.fetchone() if cur.description else None


def cached(lib: Library, query: str = SAMPLE_QUERY) -> bool:
    """Search; whether the cache answered."""
    lib.search(query, mode="keyword", limit=20)
    return lib.search_cache.last_was_hit()


def test_writes_to_anything_but_search_data_leave_the_cache(pg_server: Any, pg_lib: Library) -> None:
    lib = pg_lib
    url = lib.config.database_url
    assert url is not None
    cached(lib)
    assert cached(lib)  # held (no waiting for hint bits to settle)
    token = lib.store.change_token()
    wal = sql(url, "SELECT pg_current_wal_insert_lsn()::text")[0]

    # The same database, tables no result holds: an account, a log-in's session, a comment,
    # a subscription, a rate counter, a meta key of no vector set.
    user = lib.accounts.signup("ada@example.org", "correct horse battery")
    lib.accounts.login("ada@example.org", "correct horse battery")
    paper = lib.search(SAMPLE_QUERY, mode="keyword", limit=1)[0].paper
    lib.comment(paper.id, "A comment, which no search result shows.", user)
    lib.subscribers.add("grace@example.org", ["quantization"], confirmed=True)
    lib.store.set_meta("harvest:test", "state")
    # Maintenance, as autovacuum does it; and another database on the same server.
    sql(url, "VACUUM (ANALYZE) papers")
    elsewhere = pg_server.new_database()
    try:
        sql(elsewhere, "CREATE TABLE busy (n INTEGER)")
        sql(elsewhere, "INSERT INTO busy SELECT generate_series(1, 1000)")
    finally:
        pg_server.drop_database(elsewhere)

    assert sql(url, "SELECT pg_current_wal_insert_lsn()::text")[0] != wal  # the cluster wrote
    assert lib.store.change_token() == token
    assert cached(lib)


def test_every_write_to_search_data_empties_it(pg_lib: Library, tmp_path: Path) -> None:
    lib = pg_lib
    url = lib.config.database_url
    assert url is not None
    cached(lib, QUERY)
    assert cached(lib, QUERY)
    seen = [lib.store.change_token()]

    def moved() -> bool:
        token = lib.store.change_token()
        fresh = token not in seen
        seen.append(token)
        return fresh and not cached(lib, QUERY) and cached(lib, QUERY)

    with other(lib) as importer:  # another connection: a paper import, without vectors
        importer.import_files([snapshot(tmp_path / "new.jsonl", "Zyxwvut quantization")], index=False)
    assert moved()
    assert ids(lib.search(QUERY, mode="keyword", limit=20))[0] == "2403.99999"

    assert lib.index()["vectors"] == 87 and moved()  # its vector

    with other(lib) as worker:  # a local upvote, shown in every result
        worker.accounts.signup("ada@example.org", "correct horse battery")
        assert worker.upvote("ada@example.org", "2403.99999")
    assert moved()
    assert lib.search(QUERY, mode="keyword", limit=20)[0].paper.upvotes == 1

    sql(url, "UPDATE papers SET title = title || ' (revised)' WHERE id = %s", ("2403.99999",))  # by hand
    assert moved()
    assert lib.search(QUERY, mode="keyword", limit=20)[0].paper.title.endswith("(revised)")

    lib.store.delete(["2403.99999"])
    assert moved() and "2403.99999" not in ids(lib.search(QUERY, mode="keyword", limit=20))


def test_a_write_that_rolls_back_moves_nothing(pg_lib: Library) -> None:
    lib = pg_lib
    url = lib.config.database_url
    assert url is not None
    token = lib.store.change_token()
    with psycopg.connect(url) as conn:
        conn.execute("UPDATE papers SET upvotes = 1000")
        conn.execute("UPDATE paper_votes SET count = 5")
        assert lib.store.change_token() == token  # not before it commits: the data is not seen
        conn.rollback()
    assert lib.store.change_token() == token
