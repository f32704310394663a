"""The PostgreSQL backend: the Library behaves alike on both backends (the `any_*` fixtures run each
test on SQLite and on a real PostgreSQL 18 + pgvector), and what only PostgreSQL has: versioned
migrations applied once by servers starting together, the portable SQL layer's placeholder
rewriting, vectors in pgvector, concurrent writers."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import SAMPLE_DIR

from paperfeed.config import Config
from paperfeed.errors import InvalidInput
from paperfeed.library import Library
from paperfeed.records import make_paper
from paperfeed.store.db import FEATURE_MIGRATIONS, new_id
from paperfeed.store.postgres.sql import to_pyformat
from paperfeed.store.postgres.store import MIGRATIONS, PostgresStore

QUERIES = ["diffusion language models", "reinforcement learning for reasoning", "video generation",
           "speculative decoding", "mixture of experts", "image editing"]


def arxiv(pid: str, title: str, **kw):
    kw.setdefault("abstract", f"An abstract about {title.lower()}.")
    return make_paper(title=title, arxiv_id=pid, source="test", **kw)


# -- one suite, two backends ---------------------------------------------------------------------


def test_the_sample_imports_lists_and_finds_alike(any_sample_lib: Library) -> None:
    lib = any_sample_lib
    assert lib.stats()["papers"] == 86
    latest = lib.daily()
    assert latest and all(p.day == latest[0].day for p in latest)
    votes = [p.upvotes or 0 for p in latest]
    assert votes == sorted(votes, reverse=True)
    title = latest[0].title
    assert lib.search(title, mode="keyword")[0].paper.id == latest[0].id  # exact title first
    hits = lib.search("video generation", mode="keyword", limit=5)
    text = (hits[0].paper.title + hits[0].paper.abstract).lower()
    assert "video" in text and "generat" in text  # papers with every word come first
    assert lib.search("video", mode="keyword", since="2100-01-01") == []


def test_semantic_hybrid_and_related_work_on_both(any_sample_lib: Library) -> None:
    lib = any_sample_lib
    assert lib.has_vectors() and lib.missing_vectors() == 0
    assert lib.index()["vectors"] == 86
    semantic = lib.search("language models that reason step by step", mode="semantic", limit=5)
    assert len(semantic) == 5
    assert [h.score for h in semantic] == sorted((h.score for h in semantic), reverse=True)
    hybrid = lib.search("outliers in large language models", mode="hybrid", limit=5)
    assert hybrid and "keyword" in hybrid[0].why
    paper = semantic[0].paper
    related = lib.related(paper.id, limit=5)
    assert len(related) == 5 and paper.id not in {h.paper.id for h in related}
    # A filter still fills the list from the vector index.
    cat = lib.search("language models", mode="semantic", limit=3, min_upvotes=1)
    assert all((h.paper.upvotes or 0) >= 1 for h in cat)


def test_a_changed_abstract_is_re_embedded_and_a_deleted_paper_loses_its_vector(
    any_lib: Library,
) -> None:
    lib = any_lib
    lib.store.upsert([arxiv("2501.00001", "Widgets", abstract="About widgets.")])
    lib.index()
    assert lib.missing_vectors() == 0
    lib.store.upsert([arxiv("2501.00001v2", "Widgets", abstract="About gadgets now.")])
    assert lib.missing_vectors() == 1
    assert lib.index()["embedded"] == 1
    lib.store.delete(["2501.00001"])
    assert lib.semantic.vectors.fingerprint().count == 0


def test_the_portable_layer_runs_the_same_sql_on_both(any_lib: Library) -> None:
    db = any_lib.store.db
    applied = {r[0] for r in db.query("SELECT name FROM schema_migrations")}
    assert applied == {name for name, _ in FEATURE_MIGRATIONS}
    db.execute("CREATE TABLE IF NOT EXISTS t_portable (id TEXT PRIMARY KEY, note TEXT, n INTEGER)")
    key = new_id()
    with db.transaction() as tx:
        tx.execute("INSERT INTO t_portable (id, note, n) VALUES (?, '50% off? yes', ?)", (key, 1))
        row = tx.query_one(
            "INSERT INTO t_portable (id, note, n) VALUES (?, ?, ?) ON CONFLICT (id) "
            "DO UPDATE SET n = t_portable.n + excluded.n RETURNING n", (key, "x", 2),
        )
    assert row == (3,)
    assert db.query("SELECT note FROM t_portable WHERE note LIKE '%off?%'") == [("50% off? yes",)]
    with pytest.raises(RuntimeError), db.transaction() as tx:
        tx.execute("UPDATE t_portable SET n = 100")
        raise RuntimeError("rolled back")
    assert db.query_one("SELECT n FROM t_portable") == (3,)


def test_keyword_rankings_of_the_two_engines_largely_agree(
    pg_server, tmp_path: Path
) -> None:
    """Top-10 agreement of keyword search (SQLite BM25 vs PostgreSQL ts_rank) and of semantic
    search (the same vectors: identical up to ANN approximations) on the bundled sample."""
    libs = [
        Library(Config.from_env(home=tmp_path / "a")),
        Library(Config.from_env(home=tmp_path / "b", database_url=pg_server.new_database())),
    ]
    try:
        for lib in libs:
            lib.import_files(sorted(SAMPLE_DIR.glob("*.txt")))
        overlap = {"keyword": 0.0, "semantic": 0.0}
        for mode in overlap:
            for q in QUERIES:
                a, b = ({h.paper.id for h in lib.search(q, mode=mode, limit=10)} for lib in libs)
                overlap[mode] += len(a & b) / max(len(a | b), 1) / len(QUERIES)
        # The same vectors, but the relevance floor weighs query words by each engine's own term
        # statistics (PostgreSQL's are the planner's estimates), so a query near the floor may be
        # answered on one engine and not the other: most queries still agree exactly.
        assert overlap["semantic"] >= 0.6
        assert overlap["keyword"] >= 0.4
    finally:
        for lib in libs:
            lib.close()


# -- PostgreSQL only -------------------------------------------------------------------------------


def test_migrations_apply_once_even_when_servers_start_together(pg_server) -> None:
    url = pg_server.new_database()
    with ThreadPoolExecutor(4) as pool:
        stores = list(pool.map(lambda _: PostgresStore(url, max_size=2), range(4)))
    try:
        assert all(s.schema_version == len(MIGRATIONS) for s in stores)
        with stores[0].connection() as conn:
            assert conn.execute("SELECT count(*) FROM schema_version").fetchone()[0] == len(MIGRATIONS)
            # the keyword statistics exist once (migration 5)
            assert conn.execute("SELECT count(*) FROM kw_totals").fetchone()[0] == 1
    finally:
        for s in stores:
            s.close()


def test_concurrent_imports_of_the_same_papers_never_duplicate(pg_server) -> None:
    url = pg_server.new_database()
    store = PostgresStore(url, max_size=8)
    try:
        batches = [
            [arxiv(f"2502.{i:05d}", f"Paper {i}", upvotes=k) for i in range(200)] for k in range(6)
        ]
        with ThreadPoolExecutor(6) as pool:
            results = list(pool.map(store.upsert, batches))
        assert store.count() == 200
        assert sum(r.imported for r in results) == 200
        assert store.integrity() == {"papers": 200, "fts_rows": 200}
    finally:
        store.close()


def test_placeholders_are_rewritten_outside_quotes_only() -> None:
    assert to_pyformat("SELECT '?', \"a?\" FROM t WHERE x = ? AND y LIKE 'a%'") == (
        "SELECT '?', \"a?\" FROM t WHERE x = %s AND y LIKE 'a%%'"
    )


def test_an_unreachable_database_is_a_clear_error_not_a_traceback(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="cannot use postgresql://u:\\*\\*\\*@127.0.0.1:1/x"):
        PostgresStore("postgresql://u:secret@127.0.0.1:1/x")
    proc = subprocess.run(
        [str(Path(sys.executable).with_name("paperfeed")), "--database", "postgresql://127.0.0.1:1/x", "stats"],
        capture_output=True, text=True,
    )
    assert proc.returncode == 2 and "cannot use" in proc.stderr and "Traceback" not in proc.stderr
