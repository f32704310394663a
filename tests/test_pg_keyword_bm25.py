"""PostgreSQL keyword search on the shared tokens: the keyword rows and term statistics stay
exact through upserts, updates, deletes and bulk loads, and stores made before them (tsvector
columns; token columns on the paper rows) are migrated in place."""

from __future__ import annotations

from pathlib import Path

import psycopg
from conftest import SAMPLE_DIR

from paperfeed.config import Config
from paperfeed.library import Library
from paperfeed.records import make_paper
from paperfeed.store.postgres.keyword import keyword_row, paper_keyword_row
from paperfeed.store.postgres.store import (
    KEYWORD_MIGRATION,
    KEYWORD_TABLE_MIGRATION,
    MIGRATIONS,
    PostgresStore,
)
from paperfeed.store.rows import COLUMNS, now, paper_to_row


def stats(store: PostgresStore) -> tuple[dict[str, tuple[int, int]], tuple[int, int]]:
    with store.connection() as conn:
        df = {r[0]: (r[1], r[2]) for r in conn.execute("SELECT token, docs, title_docs FROM kw_df")}
        totals = conn.execute("SELECT docs, tokens FROM kw_totals").fetchone()
    return df, tuple(totals)


def recounted(store: PostgresStore) -> tuple[dict[str, tuple[int, int]], tuple[int, int]]:
    """The statistics counted afresh from the rows."""
    with store.connection() as conn:
        df = {r[0]: (r[1], r[2]) for r in conn.execute(
            "SELECT t, count(*), count(*) FILTER (WHERE tf & 255 > 0) "
            "FROM paper_kw, unnest(kw_terms, kw_tf) AS u(t, tf) GROUP BY t")}
        totals = conn.execute("SELECT count(*), coalesce(sum(kw_len), 0) FROM paper_kw").fetchone()
    return df, tuple(totals)


def test_statistics_follow_upserts_updates_and_deletes(pg_server) -> None:
    store = PostgresStore(pg_server.new_database())
    try:
        store.upsert([make_paper(title=f"Graph networks {i}", arxiv_id=f"2501.0000{i}", source="t",
                                 abstract="Graphs of graphs, and networks." * (i + 1))
                      for i in range(5)])
        store.upsert([make_paper(title="Quantum annealing", arxiv_id="2501.00001", source="t",
                                 abstract="Annealing schedules.", version=2)])
        store.delete(["2501.00003"])
        got = stats(store)
        assert got == recounted(store)
        assert got[0]["graph"][0] == 3 and got[0]["quantum"] == (1, 1) and got[1][0] == 4
        assert [store.get_by_keys([k])[k].id for k, _ in store.keyword_keys(["annealing"])] == ["2501.00001"]
        store.delete(["2501.00001"])
        assert "quantum" not in stats(store)[0]
    finally:
        store.close()


def test_nul_characters_in_paper_text_are_stored_and_found(pg_server) -> None:
    """PostgreSQL text holds no NUL: a paper's fields get U+FFFD, its tokens never hold one (NUL
    separates words, as in FTS5), and its words are found."""
    store = PostgresStore(pg_server.new_database())
    try:
        store.upsert([make_paper(title="Null\x00bytes in titles", arxiv_id="2501.00009", source="t",
                                 abstract="Zero\x00width tokens\x00here.")])
        paper = store.get_many(["2501.00009"])["2501.00009"]
        assert paper.title == "Null\ufffdbytes in titles"
        with store.connection() as conn:
            terms = conn.execute("SELECT kw_terms FROM paper_kw").fetchone()[0]
        assert {"null", "byte", "zero", "width", "token"} <= set(terms)
        assert not any("\x00" in t or "\ufffd" in t for t in terms)
        assert [k for k, _ in store.keyword_keys(["bytes", "width"])] == [paper_pk(store)]
    finally:
        store.close()


def paper_pk(store: PostgresStore) -> int:
    return store.query("SELECT pk FROM papers")[0][0]


def test_bulk_load_rebuilds_indexes_and_statistics(pg_server, tmp_path: Path) -> None:
    url = pg_server.new_database()
    env = {"PAPERFEED_BULK_MIN_BYTES": "1"}
    with Library(Config.from_env(home=tmp_path, database_url=url, env=env)) as lib:
        lib.import_files(sorted(SAMPLE_DIR.glob("*.txt")), index=False)
        store = lib.store
        assert isinstance(store, PostgresStore)
        with store.connection() as conn:
            indexes = {r[0] for r in conn.execute("SELECT indexname FROM pg_indexes")}
        assert {"paper_kw_terms", "paper_kw_title"} <= indexes
        got = stats(store)
        assert got == recounted(store) and got[1][0] == store.count() > 80
        assert not store.heal()


def test_a_store_from_before_the_token_columns_is_migrated(pg_server, tmp_path: Path) -> None:
    """A database at the schema before the keyword migration (tsvector columns, vector sets) with
    papers in it: opening it fills the token columns from the rows, builds the indexes and
    statistics, and ranks as a fresh store does."""
    old_url, fresh_url = pg_server.new_database(), pg_server.new_database()
    with Library(Config.from_env(home=tmp_path / "fresh", database_url=fresh_url)) as lib:
        lib.import_files(sorted(SAMPLE_DIR.glob("*.txt")), index=False)
        papers = [lib.store.get_by_keys([k])[k] for k in range(1, lib.store.count() + 1)]
        expected = {q: lib.store.keyword_keys(q.split()) for q in ("language models", "video diffusion")}
    with psycopg.connect(old_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        for number, script in enumerate(MIGRATIONS[: MIGRATIONS.index(KEYWORD_MIGRATION)], start=1):
            conn.execute(script)
            conn.execute("INSERT INTO schema_version VALUES (%s)", (number,))
        stamp = now()
        with conn.cursor() as cur, cur.copy(
            f"COPY papers ({', '.join(COLUMNS)}, added_at, changed_at) FROM STDIN"
        ) as copy:
            for p in papers:
                row = list(paper_to_row(p))
                row[5] = row[5].decode() if isinstance(row[5], bytes) else row[5]
                copy.write_row((*row, stamp, stamp))
        assert conn.execute("SELECT count(*) FROM papers WHERE tsv IS NOT NULL").fetchone()[0] == len(papers)
    store = PostgresStore(old_url)
    try:
        assert store.schema_version == len(MIGRATIONS)
        assert store.integrity() == {"papers": len(papers), "fts_rows": len(papers)}
        assert stats(store) == recounted(store)
        for q, keys in expected.items():
            assert keys and store.keyword_keys(q.split()) == keys
    finally:
        store.close()


def keyword_rows(store: PostgresStore) -> dict[str, tuple[object, ...]]:
    """Each paper's keyword row, by paper id (papers without one are missing)."""
    with store.connection() as conn:
        return {r[0]: tuple(r[1:]) for r in conn.execute(
            "SELECT p.id, k.kw_terms, k.kw_tf, k.kw_len, k.kw_title "
            "FROM papers p JOIN paper_kw k ON k.pk = p.pk")}


def test_keyword_rows_follow_updates_and_deletes(pg_server) -> None:
    """One keyword row per paper, always the tokens of its current fields: a new version's
    text replaces the old tokens, an unchanged re-import leaves them, a delete removes them."""
    store = PostgresStore(pg_server.new_database())
    try:
        first = [make_paper(title=f"Sparse attention {i}", arxiv_id=f"2502.0000{i}", source="t",
                            abstract=f"Attention heads, pruned {i} times.") for i in range(4)]
        store.upsert(first)
        newer = make_paper(title="Dense retrieval", arxiv_id="2502.00001", source="t",
                           abstract="Retrieval with dense vectors.", version=2)
        store.upsert([newer, first[2]])
        rows = keyword_rows(store)
        assert set(rows) == {p.id for p in first}
        current = store.get_many(list(rows))
        assert all(rows[i] == paper_keyword_row(current[i]) for i in rows)
        assert "retriev" in rows["2502.00001"][0] and "spars" not in rows["2502.00001"][0]
        assert [store.get_by_keys([k])[k].id for k, _ in store.keyword_keys(["retrieval"])] == [
            "2502.00001"]
        # New votes only: the keyword row is not rewritten (same row version), the counts hold.
        with store.connection() as conn:
            version = conn.execute("SELECT k.xmin::text FROM paper_kw k JOIN papers p "
                                   "ON p.pk = k.pk WHERE p.id = '2502.00003'").fetchone()[0]
        voted = store.get_many(["2502.00003"])["2502.00003"]
        voted.upvotes = (voted.upvotes or 0) + 41
        assert store.upsert([voted]).updated == 1
        with store.connection() as conn:
            assert conn.execute("SELECT k.xmin::text FROM paper_kw k JOIN papers p "
                                "ON p.pk = k.pk WHERE p.id = '2502.00003'").fetchone()[0] == version
        assert store.get_many(["2502.00003"])["2502.00003"].upvotes == voted.upvotes
        assert stats(store) == recounted(store)
        assert store.keyword_keys(["sparse", "attention"], limit=10) and all(
            store.get_by_keys([k])[k].id != "2502.00001"
            for k, _ in store.keyword_keys(["sparse", "attention"], limit=10))
        assert store.delete(["2502.00000", "2502.00001", "no-such-id"]) == 2
        assert set(keyword_rows(store)) == {"2502.00002", "2502.00003"}
        assert store.integrity() == {"papers": 2, "fts_rows": 2}
        assert stats(store) == recounted(store)
        # A paper deleted by other SQL takes its keyword row with it.
        store.execute("DELETE FROM papers WHERE id = %s", ("2502.00002",))
        assert set(keyword_rows(store)) == {"2502.00003"}
    finally:
        store.close()


def test_a_store_with_token_columns_on_the_paper_rows_is_migrated(pg_server, tmp_path: Path) -> None:
    """A database at the schema before the side table (token arrays on the paper rows, as the
    previous release wrote them, with their GIN indexes): opening it moves every paper's arrays
    into `paper_kw` as they were, drops the old columns and indexes, keeps the term statistics,
    and ranks as before."""
    old_url, fresh_url = pg_server.new_database(), pg_server.new_database()
    with Library(Config.from_env(home=tmp_path / "fresh", database_url=fresh_url)) as lib:
        lib.import_files(sorted(SAMPLE_DIR.glob("*.txt")), index=False)
        papers = [lib.store.get_by_keys([k])[k] for k in range(1, lib.store.count() + 1)]
        queries = ("language models", "video diffusion", "reinforcement learning agents")
        expected = {q: lib.store.keyword_keys(q.split()) for q in queries}
    with psycopg.connect(old_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        for number, script in enumerate(
            MIGRATIONS[: MIGRATIONS.index(KEYWORD_TABLE_MIGRATION)], start=1
        ):
            conn.execute(script)
            conn.execute("INSERT INTO schema_version VALUES (%s)", (number,))
        # What the previous release wrote: the row with its keyword columns, GIN on both arrays,
        # statistics counted from the rows.
        conn.execute("CREATE INDEX papers_kw ON papers USING gin(kw_terms)")
        conn.execute("CREATE INDEX papers_kw_title ON papers USING gin(kw_title)")
        stamp = now()
        with conn.cursor() as cur, cur.copy(
            f"COPY papers ({', '.join(COLUMNS)}, kw_terms, kw_tf, kw_len, kw_title, added_at, "
            "changed_at) FROM STDIN"
        ) as copy:
            for p in papers:
                row = list(paper_to_row(p))
                row[5] = row[5].decode() if isinstance(row[5], bytes) else row[5]
                copy.write_row((*row, *keyword_row(p.title, p.abstract, p.author_names), stamp,
                                stamp))
        conn.execute(
            "INSERT INTO kw_df SELECT t, count(*), count(*) FILTER (WHERE tf & 255 > 0) "
            "FROM papers, unnest(kw_terms, kw_tf) AS u(t, tf) GROUP BY t")
        conn.execute("UPDATE kw_totals SET docs = (SELECT count(*) FROM papers), "
                     "tokens = (SELECT sum(kw_len) FROM papers)")
        before = {r[0]: tuple(r[1:]) for r in conn.execute(
            "SELECT id, kw_terms, kw_tf, kw_len, kw_title FROM papers")}
        old_stats = sorted(conn.execute("SELECT * FROM kw_df").fetchall())
    store = PostgresStore(old_url)
    try:
        assert store.schema_version == len(MIGRATIONS)
        assert keyword_rows(store) == before and len(before) == len(papers) > 80
        with store.connection() as conn:
            columns = {r[0] for r in conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = 'papers'")}
            indexes = {r[0] for r in conn.execute("SELECT indexname FROM pg_indexes")}
            assert sorted(conn.execute("SELECT * FROM kw_df").fetchall()) == old_stats
        assert not columns & {"kw_terms", "kw_tf", "kw_len", "kw_title"}
        assert {"paper_kw_terms", "paper_kw_title"} <= indexes
        assert not indexes & {"papers_kw", "papers_kw_title"}
        assert stats(store) == recounted(store)
        assert not store.heal()
        for q, keys in expected.items():
            assert keys and store.keyword_keys(q.split()) == keys
        # and it goes on as a store made at this schema: writes keep the keyword rows in step
        store.upsert([make_paper(title="Language models of rivers", arxiv_id="2503.00001",
                                 source="t", abstract="Rivers.")])
        assert stats(store) == recounted(store)
        assert len(keyword_rows(store)) == len(papers) + 1
    finally:
        store.close()


def test_the_pruned_any_word_ranking_is_the_full_one(pg_server, monkeypatch) -> None:
    """The any-word top-up skips the papers that hold only the commonest words when their
    score bounds cannot reach the best papers of the rarer words (MaxScore): the same papers,
    scores and order as ranking every match."""
    import random

    import paperfeed.store.postgres.keyword as kw

    store = PostgresStore(pg_server.new_database())
    rng = random.Random(3)
    filler = ["model", "data", "method", "result", "study", "approach", "network", "task"]
    papers = []
    for i in range(300):
        words = rng.sample(filler, 4)
        title = " ".join(words)
        abstract = " ".join(rng.choices(filler, k=30))
        if i % 10 == 0:  # 30 papers with the rare word in the title
            title = f"Zeolite {title}"
        if i % 6:  # 250 with a common word in the abstract
            abstract += " common"
        papers.append(make_paper(title=title, abstract=abstract, arxiv_id=f"2502.{i:05d}", source="t"))
    try:
        store.upsert(papers)
        calls: list[list[str] | None] = []
        ranked = kw.PostgresKeyword._ranked

        def spy(self, conn, stats, toks, match, limit, filters, budget, matching=None,  # type: ignore[no-untyped-def]
                without=None):
            if match == "any":
                calls.append((matching, without))
            return ranked(self, conn, stats, toks, match, limit, filters, budget, matching,
                          without)

        monkeypatch.setattr(kw.PostgresKeyword, "_ranked", spy)
        words = ["zeolit", "common"]  # as stemmed
        with store.connection() as conn:
            stats_ = kw._Stats.read(conn, words)
            pruned = store._best_of_any(conn, stats_, words, 10, kw.Filters())
            assert calls == [(["zeolit"], None)], "only the rare word's papers ranked: the "\
                "common word alone cannot reach the tenth of them"
            full = store._ranked(conn, stats_, words, "any", 10, kw.Filters(), kw.ANY_BUDGET)
            assert pruned and pruned == full
            # fewer papers of the rare word than asked: every match is ranked
            calls.clear()
            many = store._best_of_any(conn, stats_, words, 40, kw.Filters())
            # then the other word's papers, those without the rare word only (disjoint passes)
            assert calls == [(["zeolit"], None), (["zeolit", "common"], "zeolit")]
            every = store._ranked(conn, stats_, words, "any", 40, kw.Filters(), kw.ANY_BUDGET)
        assert many == every and len(many) == 40
        # more words, other depths: the two passes merged are always the full ranking
        for words in (["zeolit", "common", "model"], ["common", "model", "task"], ["task", "zeolit"]):
            with store.connection() as conn:
                stats_ = kw._Stats.read(conn, words)
                for limit in (1, 5, 10, 40, 299):
                    merged = store._best_of_any(conn, stats_, words, limit, kw.Filters())
                    assert merged == store._ranked(conn, stats_, words, "any", limit, kw.Filters(),
                                                   kw.ANY_BUDGET), (words, limit)
    finally:
        store.close()


def test_a_word_whose_hash_another_token_shares_is_looked_up_by_its_text(pg_server) -> None:
    """Ranking finds a word's counts in a row by its hash (`kw_h`); two tokens with the same
    hash are told apart by their text, so scores are exactly those of looking every word up by
    text. The naive hash look-up (the check turned off) would credit a paper holding only the
    other token with the word: the case this test builds."""
    import paperfeed.store.postgres.keyword as kw

    store = PostgresStore(pg_server.new_database())
    try:
        with store.connection() as conn:
            a, b = conn.execute(
                "SELECT min(t), max(t) FROM (SELECT 'q' || g AS t FROM generate_series(1, 400000) g) "
                "s GROUP BY hashtext(t) HAVING count(*) > 1 ORDER BY 1 LIMIT 1").fetchone()
        assert a != b
        store.upsert([
            make_paper(title=f"Plain {b} gamma", abstract="gamma rays", arxiv_id="2503.00001",
                       source="t"),  # the other token only
            make_paper(title=f"Study {a}", abstract=f"{a} gamma", arxiv_id="2503.00002", source="t"),
            make_paper(title=f"{b} before {a}", abstract=f"{a} {a} gamma", arxiv_id="2503.00003",
                       source="t"),  # both: the other token first in the row
            *[make_paper(title=f"Filler {i}", abstract="gamma", arxiv_id=f"2503.001{i:02d}",
                         source="t") for i in range(20)],
        ])
        words = [a, "gamma"]
        with store.connection() as conn:
            got = kw._Stats.read(conn, words)
            assert got.shared == {a} and set(got.hashes) == set(words)
            by_text = kw._Stats(got.docs, got.tokens, got.df, got.title_df)  # no hashes known
            naive = kw._Stats(got.docs, got.tokens, got.df, got.title_df, got.hashes, set())
            ranked = {name: store._ranked(conn, s, words, "any", 30, kw.Filters(), kw.ANY_BUDGET)
                      for name, s in (("real", got), ("text", by_text), ("naive", naive))}
            gamma = kw._Stats.read(conn, ["gamma"])
            assert not gamma.shared  # an ordinary word: found by hash
            assert store._ranked(conn, gamma, ["gamma"], "any", 30, kw.Filters(), None) == \
                store._ranked(conn, kw._Stats(gamma.docs, gamma.tokens, gamma.df, gamma.title_df),
                              ["gamma"], "any", 30, kw.Filters(), None)
        assert ranked["real"] == ranked["text"] and len(ranked["real"]) == 23
        assert ranked["naive"] != ranked["real"]
        pk = {store.get_by_keys([k])[k].id: k for k, _ in ranked["real"]}
        score = dict(ranked["real"])
        # the paper with only the other token scores as one with the common word alone would
        assert score[pk["2503.00001"]] < score[pk["2503.00002"]]
        # the papers with both words first, then the top-up: the other token's paper among them
        assert set(keyword_ids(store, words)[:2]) == {"2503.00002", "2503.00003"}
        with store.connection() as conn:
            hashes = conn.execute("SELECT kw_h = paperfeed_token_hashes(kw_terms), "
                                  "cardinality(kw_h) = cardinality(kw_terms) FROM paper_kw").fetchall()
        assert hashes and all(r == (True, True) for r in hashes)
    finally:
        store.close()


def keyword_ids(store: PostgresStore, words: list[str]) -> list[str]:
    return [store.get_by_keys([k])[k].id for k, _ in store.keyword_keys(words, limit=30)]
