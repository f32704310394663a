"""Both engines behind one interface: `open_backend(config)` gives a store and its vector engine,
and the SQL they share (`store.common`) behaves the same on each."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from paperfeed.config import Config
from paperfeed.errors import InvalidInput
from paperfeed.records import Paper, title_key
from paperfeed.store.backend import Backend
from paperfeed.store.base import ImportLogEntry
from paperfeed.store.common import SqlStore
from paperfeed.store.engines import open_backend


def paper(pid: str, day: str, title: str) -> Paper:
    return Paper(id=pid, title=title, abstract=f"About {title}.", published=date.fromisoformat(day))


def test_open_backend_gives_a_store_and_its_vectors(home: Path, database_url: str, backend: str) -> None:
    opened = open_backend(Config(home=home, database_url=database_url))
    try:
        assert isinstance(opened, Backend) and isinstance(opened.store, SqlStore)
        assert opened.semantic.vectors.store is opened.store
        assert type(opened.store).__module__ == f"paperfeed.store.{backend}.store"
        if backend == "postgres":  # only an SQLite library is a migration source
            assert opened.migrate_rows() == 0
            with pytest.raises(InvalidInput, match="migrate copies an SQLite library"):
                opened.migrate_to("postgresql://127.0.0.1:1/none")
        else:
            assert opened.migrate_rows() >= 0
    finally:
        opened.close()


def test_the_shared_sql_behaves_alike_on_both(home: Path, database_url: str) -> None:
    opened = open_backend(Config(home=home, database_url=database_url))
    store = opened.store
    try:
        store.upsert([
            paper("2501.00001", "2025-01-02", "Alpha"), paper("2501.00002", "2025-01-05", "Beta"),
            paper("2501.00003", "2025-01-05", "Gamma"),
        ])
        assert store.count() == 3
        assert store.get("2501.00002").title == "Beta" and store.get("nope") is None
        assert [p.id for p in store.find_by_title_key(title_key("Alpha"))] == ["2501.00001"]
        assert store.latest_day() == date(2025, 1, 5)
        assert store.latest_day(date(2025, 1, 4)) == date(2025, 1, 2)
        assert store.adjacent_day(date(2025, 1, 5), -1) == date(2025, 1, 2)
        assert store.adjacent_day(date(2025, 1, 2), 1) == date(2025, 1, 5)
        assert store.adjacent_day(date(2025, 1, 5), 1) is None
        assert [p.id for p in store.papers_between(date(2025, 1, 1), date(2025, 1, 31))] == [
            "2501.00002", "2501.00003", "2501.00001"
        ]
        assert [p.id for p in store.papers_between(date(2025, 1, 1), date(2025, 1, 31), limit=1, offset=1)] == [
            "2501.00003"
        ]
        arrived = store.papers_added_between("", "9999")
        assert sorted(p.id for p, _ in arrived) == ["2501.00001", "2501.00002", "2501.00003"]
        store.set_meta("k", "v1")
        store.set_meta("k", "v2\x00")  # PostgreSQL text holds no NUL: written and read alike
        assert store.get_meta("k") in ("v2\x00", "v2\ufffd") and store.get_meta("missing") is None
        started = datetime(2025, 1, 1, 12, tzinfo=UTC)
        for source in ("a.json", "b.json"):
            store.log_import(ImportLogEntry(source, started, started, {"imported": 1}))
        assert [e.source for e in store.import_log(limit=5)] == ["b.json", "a.json"]
        assert [(p.id, s > 0) for p, s in store.keyword_search(["gamma"])] == [("2501.00003", True)]
    finally:
        opened.close()
