"""A PostgreSQL database from before vector sets (schema version 4: papers with tsvector columns,
one `embeddings` table of the encoder named in meta `vector_encoder`), built as that version made
it on the real server (tests/pg.py), then opened by the current code: the schema upgrades, the
table becomes its encoder's set and the active one, and every paper and vector arrives intact
(the same float16 values, the same write numbers, nothing re-embedded), searching as a database
made by the current code does."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pytest
from conftest import SAMPLE_DIR
from pgvector import HalfVector
from pgvector.psycopg import register_vector

from paperfeed.config import Config
from paperfeed.embed import get_encoder
from paperfeed.embed.base import paper_text
from paperfeed.library import Library
from paperfeed.records import Paper
from paperfeed.store.base import Filters
from paperfeed.store.postgres.sql import nul_free
from paperfeed.store.postgres.store import MIGRATIONS
from paperfeed.store.rows import COLUMNS, paper_to_row
from paperfeed.store.vector_common import table_name

ENCODER = "minilm-static"  # the bundled encoder, instant
LEGACY_VERSION = 4  # the schema version before vector sets (migration 5 made them)
QUERIES = ["depth estimation", "speculative decoding", "video generation", "mixture of experts"]


@pytest.fixture
def urls(pg_server: Any) -> Iterator[tuple[str, str]]:
    """Two fresh databases: one for the old layout, one made by the current code to compare."""
    made = [pg_server.new_database(), pg_server.new_database()]
    yield made[0], made[1]
    for url in made:
        pg_server.drop_database(url)


def open_lib(home: Path, url: str) -> Library:
    return Library(Config.from_env(home=home, database_url=url, env={"PAPERFEED_QUALITY_ENCODER": "none"}))


def sample_papers(home: Path) -> list[Paper]:
    """The bundled sample as the importer parses it (through a throwaway SQLite library)."""
    with Library(Config.from_env(home=home, env={"PAPERFEED_QUALITY_ENCODER": "none"})) as lib:
        lib.import_files(sorted(SAMPLE_DIR.glob("*.txt")))
        papers = lib.store.papers_matching(Filters(), limit=10_000)
    assert len(papers) == 86
    return papers


def build_legacy(url: str, papers: list[Paper], *, hnsw: bool) -> dict[str, tuple[int, np.ndarray]]:
    """The old layout, as version 4 and the one-table vector code wrote it: each paper's
    (write number, vector), by paper id. Vectors are written in two batches (write numbers 1
    and 2), so the upgrade has a write history to keep. Without `hnsw`, as an interrupted
    `paperfeed migrate` of that version left it: it dropped `embeddings_hnsw` before copying
    the vectors and made it again only at the end."""
    encoder = get_encoder(ENCODER)
    vectors = encoder.encode([paper_text(p.title, p.abstract) for p in papers])
    written: dict[str, tuple[int, np.ndarray]] = {}
    with psycopg.connect(url, autocommit=True) as conn:
        register_vector(conn)
        with conn.transaction():
            conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
            for number, script in enumerate(MIGRATIONS[:LEGACY_VERSION], start=1):
                conn.execute(script)
                conn.execute("INSERT INTO schema_version (version) VALUES (%s)", (number,))
            insert = (f"INSERT INTO papers ({', '.join(COLUMNS)}, added_at, changed_at) VALUES "
                      f"({', '.join(['%s'] * (len(COLUMNS) + 2))}) RETURNING pk")
            keys = []
            for p in papers:
                row = list(paper_to_row(p))
                row[5] = row[5].decode() if isinstance(row[5], bytes) else row[5]
                keys.append(conn.execute(insert, (*nul_free(tuple(row)), "2025-01-01T00:00:00",
                                                  "2025-01-01T00:00:00")).fetchone()[0])
            dim = vectors.shape[1]
            conn.execute(
                f"CREATE TABLE embeddings (paper_pk BIGINT PRIMARY KEY REFERENCES papers(pk) "
                f"ON DELETE CASCADE, seq BIGINT NOT NULL, vector halfvec({dim}) NOT NULL)"
            )
            conn.execute("CREATE INDEX embeddings_seq ON embeddings(seq)")
            if hnsw:
                conn.execute("CREATE INDEX embeddings_hnsw ON embeddings USING hnsw (vector halfvec_ip_ops) "
                             "WITH (m = 16, ef_construction = 64)")
            half = len(papers) // 2
            for i, (p, key, vec) in enumerate(zip(papers, keys, vectors, strict=True)):
                seq = 1 if i < half else 2
                conn.execute("INSERT INTO embeddings (paper_pk, seq, vector) VALUES (%s, %s, %s)",
                             (key, seq, HalfVector(vec)))
                written[p.id] = (seq, vec.astype(np.float16).astype(np.float32))
            conn.execute("INSERT INTO meta (key, value) VALUES ('vector_encoder', %s), ('vector_seq', '2')",
                         (f"{ENCODER}:{dim}",))
    return written


def ids(lib: Library, query: str, mode: str) -> list[str]:
    return [h.paper.id for h in lib.search(query, mode=mode, limit=10)]


def catalog(url: str, sql: str) -> Any:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(sql).fetchone()[0]


@pytest.mark.parametrize("hnsw", [True, False], ids=["complete", "interrupted-migrate"])
def test_an_old_embeddings_table_becomes_the_active_set_with_every_vector(
    tmp_path: Path, urls: tuple[str, str], hnsw: bool
) -> None:
    legacy_url, fresh_url = urls
    papers = sample_papers(tmp_path / "sqlite")
    written = build_legacy(legacy_url, papers, hnsw=hnsw)

    with open_lib(tmp_path / "fresh", fresh_url) as fresh:  # the same papers, the current way
        fresh.import_files(sorted(SAMPLE_DIR.glob("*.txt")))
        expected = {q: ids(fresh, q, "semantic") for q in QUERIES}
        expected_kw = {q: ids(fresh, q, "keyword") for q in QUERIES}

    for opening in range(2):  # the upgrade, then an ordinary opening of the upgraded database
        with open_lib(tmp_path / "legacy", legacy_url) as lib:
            assert lib.store.count() == len(papers)
            stored = lib.store.get_many([p.id for p in papers])
            for p in papers:
                got = stored[p.id]
                assert (got.title, got.abstract, got.authors, got.published, got.upvotes) == (
                    p.title, p.abstract, p.authors, p.published, p.upvotes), p.id

            assert lib.semantic.active_name() == ENCODER
            vectors = lib.semantic.view().vectors
            assert vectors.count_missing() == 0
            assert vectors.latest_seq() == 2  # nothing was re-embedded
            fingerprint = vectors.fingerprint()
            assert (fingerprint.count, fingerprint.seq) == (len(papers), 2)
            keys = {pid: int(pk) for pk, pid in catalog_rows(legacy_url, "SELECT pk, id FROM papers")}
            got_keys, got = vectors.get_vectors([keys[p.id] for p in papers])
            by_key = dict(zip((int(k) for k in got_keys), got, strict=True))
            for p in papers:
                assert np.array_equal(by_key[keys[p.id]], written[p.id][1]), p.id
            seqs = dict(catalog_rows(legacy_url, f"SELECT p.id, e.seq FROM {table_name(ENCODER)} e "
                                                 "JOIN papers p ON p.pk = e.paper_pk"))
            assert seqs == {pid: seq for pid, (seq, _) in written.items()}

            assert catalog(legacy_url, "SELECT to_regclass('embeddings') IS NULL")
            for index in ("_hnsw", "_seq"):  # the set's indexes, whatever the old table had
                found = f"SELECT to_regclass('{table_name(ENCODER)}{index}') IS NOT NULL"
                assert catalog(legacy_url, found), index
            old_keys = "SELECT count(*) FROM meta WHERE key IN ('vector_encoder', 'vector_seq')"
            assert catalog(legacy_url, old_keys) == 0
            assert catalog(legacy_url, "SELECT max(version) FROM schema_version") == len(MIGRATIONS)

            for q in QUERIES:  # ranks as a database made by the current code does
                assert ids(lib, q, "semantic") == expected[q], (opening, q)
                assert ids(lib, q, "keyword") == expected_kw[q], (opening, q)

    # The upgraded set is kept like any other: a paper whose text changes loses its vector in
    # it (the trigger of migration 5), and indexing embeds just that one again.
    with open_lib(tmp_path / "legacy", legacy_url) as lib:
        changed = papers[0]
        lib.store.upsert([dataclasses.replace(changed, abstract=changed.abstract + " Revised.")])
        vectors = lib.semantic.view().vectors
        assert vectors.count_missing() == 1
        lib.index()
        assert vectors.count_missing() == 0 and vectors.latest_seq() == 3


def catalog_rows(url: str, sql: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(sql).fetchall()
