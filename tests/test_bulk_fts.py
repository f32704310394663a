"""The keyword index of a bulk load, built beside the load in a side file (store.sqlite.bulk):
it must end up exactly the index the table would give, whatever the load did to rows the
follower had already indexed, and any failure must fall back to a rebuild from the table."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import orjson
import pytest

from paperfeed.importer import import_files
from paperfeed.records import make_paper
from paperfeed.store.sqlite import bulk as sqlite_bulk
from paperfeed.store.sqlite import keyword as sqlite_keyword
from paperfeed.store.sqlite.bulk import FtsFollower, side_path
from paperfeed.store.sqlite.store import SQLiteStore


def arxiv(pid: str, title: str, abstract: str = "") -> object:
    return make_paper(title=title, abstract=abstract or f"About {title.lower()}.", arxiv_id=pid,
                      source="test")


def found(store: SQLiteStore, word: str) -> set[str]:
    return {p.id for p, _ in store.keyword_search([word], limit=50)}


def fts_sql(store: SQLiteStore) -> str:
    return store.conn.execute("SELECT sql FROM sqlite_master WHERE name = 'papers_fts'").fetchone()[0]


def test_the_follower_ends_with_the_index_of_the_table_after_updates_deletes_and_reused_rowids(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_bulk, "STEP_ROWS", 3)
    store = SQLiteStore(tmp_path / "p.db")
    store.upsert([arxiv("2501.00000", "Walrus present before the load")])
    store.begin_bulk()
    store._follower.abort()  # drive a follower step by step instead of the thread
    store._follower = None
    follower = FtsFollower(store.path, fts_sql(store))
    conn = follower.connect()
    marks = (0, 0)

    def step() -> None:
        nonlocal marks
        row, seq, _ = FtsFollower.step(conn, *marks)
        marks = (row, seq)

    store.upsert([arxiv(f"2501.0000{i}", f"Zebra paper {i}") for i in range(1, 6)])
    step()  # rows 1-3 of 6 indexed
    assert marks[0] == 3
    # Change an indexed row (twice between two steps) and one not indexed yet.
    store.upsert([arxiv("2501.00001v2", "Giraffe paper one")])
    store.upsert([arxiv("2501.00001v3", "Okapi paper one")])
    store.upsert([arxiv("2501.00005v2", "Giraffe paper five")])
    step()
    step()
    assert marks[0] == 6
    # Delete the newest (indexed) row and insert one that reuses its rowid, between two steps.
    store.delete(["2501.00005"])
    store.upsert([arxiv("2501.00006", "Narwhal paper six")])
    step()
    # Delete the newest row, step (the mark moves back), then reuse its rowid.
    store.delete(["2501.00006"])
    step()
    assert marks[0] == 5
    store.upsert([arxiv("2501.00008", "Narwhal paper eight")])
    store.delete(["2501.00002"])
    step()
    step()
    conn.close()
    assert store._swap_in_side_index()
    assert store.integrity() == {"papers": 5, "fts_rows": 5}
    assert found(store, "zebra") == {"2501.00003", "2501.00004"}
    assert found(store, "okapi") == {"2501.00001"}
    assert found(store, "giraffe") == set()
    assert found(store, "narwhal") == {"2501.00008"}
    assert found(store, "walrus") == {"2501.00000"}
    # Out of bulk mode: row-by-row indexing again, the log gone.
    store.upsert([arxiv("2501.00007", "Zebra paper seven")])
    assert "2501.00007" in found(store, "zebra")
    tables = {r[0] for r in store.conn.execute("SELECT name FROM sqlite_master")}
    assert "fts_bulk_log" not in tables and "papers_fts_bulk_update" not in tables
    assert store.get_meta("fts_state") is None
    store.close()


def write_snapshot(path: Path, n: int) -> None:
    """Every fifth record is a later version of an earlier paper with a new title."""
    with path.open("wb") as f:
        for i in range(n):
            pid, version = (i // 5, 2) if i % 5 == 4 else (i, 1)
            rec = {
                "id": f"2402.{pid:05d}",
                "title": f"Study {pid} of {'okapis' if version == 2 else 'zebras'} v{version}",
                "abstract": f"We look at animals number {pid} and {i % 7} others.",
                "authors_parsed": [["Author", "A.", ""]],
                "versions": [{"version": f"v{v}", "created": "Mon, 1 Jan 2024 10:00:00 GMT"}
                             for v in range(1, version + 1)],
            }
            f.write(orjson.dumps(rec) + b"\n")


def store_rows(store: SQLiteStore) -> list[tuple]:
    return store.conn.execute("SELECT id, title, abstract, author_names FROM papers ORDER BY id").fetchall()


def test_a_bulk_import_gives_the_store_and_index_of_a_row_by_row_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_bulk, "STEP_ROWS", 500)  # many steps, updates between them
    monkeypatch.setattr(sqlite_keyword, "TERM_STATS_MIN_DOCS", 100)
    snapshot = tmp_path / "s.jsonl"
    write_snapshot(snapshot, 6_000)
    by_row = SQLiteStore(tmp_path / "row" / "p.db")
    import_files(by_row, [snapshot], bulk_min_bytes=None)
    bulk = SQLiteStore(tmp_path / "bulk" / "p.db")
    report = import_files(bulk, [snapshot], bulk_min_bytes=1)
    assert report.summary()["rejected"] == 0
    assert report.summary()["updated"] > 500  # rows changed after the follower indexed them
    assert store_rows(bulk) == store_rows(by_row)
    papers = by_row.count()
    assert bulk.integrity() == by_row.integrity() == {"papers": papers, "fts_rows": papers}
    for word in ("okapis", "zebras", "animals"):
        assert found(bulk, word) == found(by_row, word)
    assert not side_path(bulk.path).exists()
    # The follower computed the common-word statistics of its index; they are those of the table.
    stats = bulk.get_meta("fts_common_terms")
    assert stats is not None and orjson.loads(stats)["docs"] == papers
    assert bulk.refresh_term_stats(force=True)
    assert bulk.get_meta("fts_common_terms") == stats
    by_row.close()
    bulk.close()


def test_a_failed_follower_falls_back_to_a_rebuild(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object) -> tuple[int, int, bool]:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(FtsFollower, "step", staticmethod(broken))
    store = SQLiteStore(tmp_path / "p.db")
    store.begin_bulk()
    store.upsert([arxiv(f"2503.{i:05d}", f"Tapir {i}") for i in range(20)])
    store.end_bulk()
    assert store.integrity() == {"papers": 20, "fts_rows": 20}
    assert len(found(store, "tapir")) == 20
    assert not side_path(store.path).exists()
    store.close()


def test_a_side_index_that_misses_papers_is_not_swapped_in(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "p.db")
    store.begin_bulk()
    store._follower.abort()
    store._follower = None
    conn = FtsFollower(store.path, fts_sql(store)).connect()  # an empty side index
    conn.close()
    store.upsert([arxiv("2504.00001", "Lemur")])
    assert store._swap_in_side_index() is False
    store.end_bulk()  # rebuilds from the table
    assert found(store, "lemur") == {"2504.00001"}
    assert store.integrity() == {"papers": 1, "fts_rows": 1}
    store.close()


def test_closing_in_the_middle_of_a_bulk_load_stops_the_follower(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "p.db")
    store.begin_bulk()
    store.upsert([arxiv("2505.00001", "Bulk loaded quokkas")])
    follower = store._follower
    store.close()
    assert follower is not None and not follower._thread.is_alive()
    assert not side_path(store.path).exists()
    again = SQLiteStore(tmp_path / "p.db")
    assert again.heal() is True
    assert found(again, "quokkas") == {"2505.00001"}
    again.close()
