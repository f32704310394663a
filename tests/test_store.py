"""The store on both backends (SQLite and PostgreSQL, see the `store` fixture): upsert semantics,
merging, the keyword index kept in step, filters, listings; and SQLite-only file properties."""

from __future__ import annotations

import contextlib
import sqlite3
from datetime import date
from pathlib import Path

import pytest

from paperfeed.records import Author, make_paper, title_id
from paperfeed.store.base import Filters, Store
from paperfeed.store.sqlite.store import MIGRATIONS, SQLiteStore


def arxiv(pid: str, title: str, **kw):
    kw.setdefault("abstract", f"An abstract about {title.lower()}.")
    return make_paper(title=title, arxiv_id=pid, source="test", **kw)


def titled(title: str, **kw):
    return make_paper(title=title, source="page", **kw)


@pytest.fixture
def store(any_store: Store) -> Store:
    """A fresh store, once on SQLite and once on PostgreSQL."""
    return any_store


def test_a_new_store_is_migrated_to_the_latest_schema_in_wal_mode(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "p.db")
    assert store.schema_version == len(MIGRATIONS)
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    store.close()
    # Opening again applies nothing twice.
    again = SQLiteStore(tmp_path / "p.db")
    assert again.schema_version == len(MIGRATIONS)
    again.close()


def test_the_same_arxiv_id_merges_and_the_newer_version_wins(store: Store) -> None:
    v2 = arxiv("2501.00001v2", "Better Title", authors=[Author("Ada Lovelace")])
    v1 = arxiv("2501.00001v1", "Old Title", doi="10.1/x")
    assert store.upsert([v2]).imported == 1
    counts = store.upsert([v1])
    assert (counts.imported, counts.updated) == (0, 1)  # the doi was new information
    paper = store.get("2501.00001")
    assert paper is not None
    assert paper.title == "Better Title"  # v1 did not overwrite v2
    assert paper.doi == "10.1/x"  # but filled a gap
    assert paper.version == 2
    assert store.count() == 1


def test_upvotes_take_the_newest_observation(store: Store) -> None:
    store.upsert([arxiv("2501.00002", "Votes", upvotes=10, github_stars=5)])
    store.upsert([arxiv("2501.00002", "Votes", upvotes=7)])
    paper = store.get("2501.00002")
    assert paper.upvotes == 7 and paper.github_stars == 5


def test_a_title_only_record_and_a_later_arxiv_record_become_one_paper(store: Store) -> None:
    page = titled("Scaling Laws for  Quantization-Aware Training", upvotes=4, author_count=3)
    store.upsert([page])
    assert store.get(title_id(page.title)) is not None
    counts = store.upsert([arxiv("2502.11111", "Scaling laws for quantization-aware training")])
    assert counts.updated == 1 and counts.imported == 0
    assert store.count() == 1
    paper = store.get("2502.11111")
    assert paper is not None and paper.upvotes == 4 and paper.author_count == 3
    assert store.get(title_id(page.title)) is None
    # ...and a title-only record arriving after the arXiv one joins it too.
    store.upsert([titled("Scaling Laws for Quantization-Aware Training", upvotes=9)])
    assert store.count() == 1 and store.get("2502.11111").upvotes == 9


def test_two_arxiv_papers_with_the_same_title_stay_two(store: Store) -> None:
    store.upsert([arxiv("2501.00003", "Introduction"), arxiv("2501.00004", "Introduction")])
    assert store.count() == 2


def test_duplicates_inside_one_batch_merge(store: Store) -> None:
    counts = store.upsert(
        [titled("Same Paper Twice", upvotes=1), titled("same paper twice!", upvotes=2),
         arxiv("2501.00005", "Same paper twice")]
    )
    assert counts.imported == 1 and store.count() == 1
    assert store.get("2501.00005").upvotes == 2


def test_reimporting_the_same_records_changes_nothing(store: Store) -> None:
    batch = [arxiv(f"2501.{i:05d}", f"Paper number {i}", upvotes=i) for i in range(50)]
    store.upsert(batch)
    counts = store.upsert(batch)
    assert (counts.imported, counts.updated, counts.unchanged) == (0, 0, 50)


def test_the_fts_index_follows_inserts_updates_and_deletes(store: Store) -> None:
    store.upsert([arxiv("2501.00006", "Quantum widgets")])
    assert [p.id for p, _ in store.keyword_search(["widgets"])] == ["2501.00006"]
    store.upsert([arxiv("2501.00006v2", "Classical gadgets")])
    assert store.keyword_search(["widgets"]) == []
    assert [p.id for p, _ in store.keyword_search(["gadgets"])] == ["2501.00006"]
    assert store.delete(["2501.00006"]) == 1
    assert store.keyword_search(["gadgets"]) == []
    assert store.integrity() == {"papers": 0, "fts_rows": 0}


def test_a_failed_batch_leaves_nothing_half_written(store: Store) -> None:
    good = arxiv("2501.00007", "Fine")
    broken = arxiv("2501.00008", "Broken")
    broken.sources = object()  # cannot be serialised: the write fails mid-batch
    with contextlib.suppress(TypeError):
        store.upsert([good, broken])
    assert store.count() == 0
    assert store.integrity()["fts_rows"] == 0


def test_title_matches_rank_above_abstract_matches(store: Store) -> None:
    store.upsert([
        arxiv("2501.00009", "Something else", abstract="We study diffusion models at length."),
        arxiv("2501.00010", "Diffusion models", abstract="A short abstract."),
    ])
    assert [p.id for p, _ in store.keyword_search(["diffusion"])][0] == "2501.00010"


def test_filters_apply_to_keyword_search(store: Store) -> None:
    store.upsert([
        arxiv("2501.00011", "Graph networks A", categories=["cs.LG"], published=date(2025, 1, 2),
              authors=[Author("Grace Hopper")], organization="acme", upvotes=3),
        arxiv("2501.00012", "Graph networks B", categories=["math.CO"], published=date(2024, 1, 2),
              authors=[Author("Alan Turing")], upvotes=30),
    ])

    def ids(**kw) -> list[str]:
        return sorted(p.id for p, _ in store.keyword_search(["graph"], filters=Filters(**kw)))

    assert ids(category="cs") == ["2501.00011"]
    assert ids(category="math.CO") == ["2501.00012"]
    assert ids(since=date(2025, 1, 1)) == ["2501.00011"]
    assert ids(until=date(2024, 12, 31)) == ["2501.00012"]
    assert ids(author="turing") == ["2501.00012"]
    assert ids(organization="ACME") == ["2501.00011"]
    assert ids(min_upvotes=10) == ["2501.00012"]
    assert ids(category="cs_LG") == []  # LIKE wildcards in user text are literal


def test_papers_between_orders_a_day_by_upvotes(store: Store) -> None:
    d = date(2025, 3, 3)
    store.upsert([
        arxiv("2503.00001", "Low", submitted_to_daily=d, upvotes=1),
        arxiv("2503.00002", "High", submitted_to_daily=d, upvotes=50),
        arxiv("2503.00003", "Other day", published=date(2025, 3, 2), upvotes=99),
    ])
    assert [p.id for p in store.papers_between(d, d)] == ["2503.00002", "2503.00001"]
    assert store.latest_day() == d
    assert store.adjacent_day(d, -1) == date(2025, 3, 2)
    assert store.adjacent_day(d, 1) is None


def test_the_database_is_plain_sqlite_others_can_read(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "p.db")
    store.upsert([arxiv("2501.00013", "Readable")])
    store.close()
    with sqlite3.connect(tmp_path / "p.db") as conn:
        assert conn.execute("SELECT title FROM papers").fetchone() == ("Readable",)


def test_common_words_are_dropped_when_rarer_ones_remain(tmp_path: Path, monkeypatch) -> None:
    """At scale, posting lists of words in most papers make FTS5 slow; they carry little BM25
    weight, so once term statistics exist they are left out of queries that have rarer words."""
    import paperfeed.store.sqlite.keyword as sqlite_store

    monkeypatch.setattr(sqlite_store, "TERM_STATS_MIN_DOCS", 0)
    monkeypatch.setattr(sqlite_store, "COMMON_WINDOW", 50)
    store = SQLiteStore(tmp_path / "p.db")
    papers = [arxiv(f"2501.{i:05d}", f"A model of things {i}") for i in range(300)]
    papers += [arxiv(f"2502.{i:05d}", f"A zebra study {i}", abstract="No m-word here.") for i in range(3)]
    store.upsert(papers)
    assert store.refresh_term_stats()
    assert "model" in store._common_terms() and "zebra" not in store._common_terms()
    # "model" is dropped: the zebra papers match although their text lacks it.
    assert {p.id for p, _ in store.keyword_search(["zebra", "models"])} == {
        "2502.00000", "2502.00001", "2502.00002"
    }
    # A query of only common words is ranked among the newest COMMON_WINDOW papers.
    newest = {p.id for p in papers[-50:]}
    hits = store.keyword_search(["model"], limit=20)
    assert len(hits) == 20 and {p.id for p, _ in hits} <= newest
    # ... papers with the words in their title first, newest first (no bm25: see
    # `_newest_matches`); scores fall with the rank, as hybrid fusion expects.
    store.upsert([arxiv(f"2503.{i:05d}", f"Zebra notes {i}", abstract="A model inside.") for i in range(3)])
    hits = store.keyword_search(["model"], limit=60)
    ids = [p.id for p, _ in hits]
    assert ids[:3] == ["2501.00299", "2501.00298", "2501.00297"]
    assert set(ids[-3:]) == {"2503.00000", "2503.00001", "2503.00002"}  # newest, but abstract only
    assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)


def test_a_bulk_load_indexes_in_one_pass_and_an_interrupted_one_heals(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "p.db")
    store.begin_bulk()
    store.upsert([arxiv("2501.00020", "Bulk loaded widgets")])
    assert store.keyword_search(["widgets"]) == []  # not indexed until the load ends
    store.close()
    # The process died here. The next one to import heals the index first.
    again = SQLiteStore(tmp_path / "p.db")
    assert again.heal() is True
    assert [p.id for p, _ in again.keyword_search(["widgets"])] == ["2501.00020"]
    assert again.heal() is False
    # Row-by-row indexing is back.
    again.upsert([arxiv("2501.00021", "More widgets")])
    assert len(again.keyword_search(["widgets"])) == 2
    assert again.integrity() == {"papers": 2, "fts_rows": 2}
