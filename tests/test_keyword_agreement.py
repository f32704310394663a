"""SQLite and PostgreSQL rank keyword searches alike: the same tokens (`store.tokens`) and the
same BM25 (FTS5's `bm25(5, 1, 2)`), so on the same papers their top 10s agree."""

from __future__ import annotations

import random
from pathlib import Path

from conftest import SAMPLE_DIR

from paperfeed.config import Config
from paperfeed.library import Library
from paperfeed.search import STOPWORDS, keyword_search

FIXTURES = Path(__file__).parent / "fixtures"
FILES = [*sorted(SAMPLE_DIR.glob("*.txt")), FIXTURES / "hf_daily.json",
         FIXTURES / "arxiv_snapshot.jsonl", FIXTURES / "arxiv_atom.xml"]


def fixture_queries(lib: Library, n_words: int = 150, seed: int = 11) -> list[str]:
    """Title fragments (three consecutive title words) of every paper, and 2-4 word queries
    drawn from the papers' abstracts, stopwords left out of the draw."""
    rng = random.Random(seed)
    rows = lib.store.db.query("SELECT title, abstract FROM papers ORDER BY id")
    queries: list[str] = []
    for title, _ in rows:
        words = title.split()
        start = rng.randrange(max(len(words) - 2, 1))
        queries.append(" ".join(words[start:start + 3]))
    vocab = sorted({w.strip(".,;:()").lower() for _, a in rows for w in a.split()} - STOPWORDS)
    vocab = [w for w in vocab if w.isalpha() and len(w) > 3]
    for _ in range(n_words):
        queries.append(" ".join(rng.sample(vocab, rng.randint(2, 4))))
    return queries


def overlap(a: list[str], b: list[str]) -> float:
    if not a and not b:
        return 1.0
    return len(set(a) & set(b)) / max(len(a), len(b))


def test_top10_agreement_on_the_fixtures(pg_server, tmp_path: Path) -> None:
    libs = {
        "sqlite": Library(Config.from_env(home=tmp_path / "s", database_url=None)),
        "postgres": Library(Config.from_env(home=tmp_path / "p",
                                            database_url=pg_server.new_database())),
    }
    try:
        for lib in libs.values():
            lib.import_files(FILES, index=False)
        assert libs["sqlite"].store.count() == libs["postgres"].store.count() > 80
        queries = fixture_queries(libs["sqlite"])
        scores = []  # over the queries either engine answers (two empty lists agree trivially)
        for q in queries:
            tops = [[h.paper.id for h in keyword_search(lib.store, q, limit=10)] for lib in libs.values()]
            if any(tops):
                scores.append(overlap(*tops))
        mean = sum(scores) / len(scores)
        print(f"{len(queries)} queries, {len(scores)} answered, mean top-10 overlap {mean:.3f}")
        assert mean >= 0.9, f"mean top-10 overlap {mean:.3f}"
        # most queries have hits (the drawn words come from the papers)
        assert len(queries) > 200 and len(scores) > 0.7 * len(queries)
    finally:
        for lib in libs.values():
            lib.close()
