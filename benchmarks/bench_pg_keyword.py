"""PostgreSQL keyword ranking vs SQLite's BM25: top-10 agreement and latency of ranking
variants, on the same papers in both backends.

    python benchmarks/bench_pg_keyword.py --home H --pg-root R [--pg-db paperfeed_bench]
    python benchmarks/bench_pg_keyword.py --build 50000 --home /tmp/k --pg-root /tmp/k-pg

`--build N` first imports the first N records of the synthetic snapshot into both (when empty).
Each variant replaces `PostgresStore._score_sql` (the score of one match); everything else (word
selection, budgets, fallbacks) is the store's own. Also reports, per query, which step of the
keyword search each backend answered from (all words / title only / newest), since a query that
one backend ranks fully and the other only by title cannot agree whatever the formula.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from bench_backends import SNAPSHOT, jaccard, load, log, pct, queries, timed  # noqa: E402
from pg import PgServer  # noqa: E402

from paperfeed.config import Config  # noqa: E402
from paperfeed.library import Library  # noqa: E402
from paperfeed.store.postgres.keyword import TS_CONFIG, TS_WEIGHTS  # noqa: E402
from paperfeed.store.postgres.store import PostgresStore  # noqa: E402
from paperfeed.store.sqlite.store import SQLiteStore  # noqa: E402

ScoreSql = Callable[[str, Sequence[str], dict[str, float]], str]
TITLE_WEIGHTS = "'{0.1, 0.2, 0.4, 1.0}'"


def ts_rank(normalization: int, fn: str = "ts_rank") -> ScoreSql:
    def score(column: str, terms: Sequence[str], idf: dict[str, float]) -> str:
        weights = f"'{TS_WEIGHTS}'" if column == "tsv" else TITLE_WEIGHTS
        return " + ".join(
            f"{idf[t]:.6f} * {fn}({weights}, p.{column}, plainto_tsquery('{TS_CONFIG}', %s), {normalization})"
            for t in terms
        )
    return score


def bm25ish(avg_len: float, k1: float = 1.2, b: float = 0.75, scale: float = 8.2) -> ScoreSql:
    """BM25's saturation and length normalisation around ts_rank: f = scale * ts_rank(no
    normalisation) (a single abstract occurrence ~1, a title one ~5, as FTS5's weighted term
    counts), the document's length taken as its number of distinct lexemes."""
    def score(column: str, terms: Sequence[str], idf: dict[str, float]) -> str:
        weights = f"'{TS_WEIGHTS}'" if column == "tsv" else TITLE_WEIGHTS
        norm = f"{k1 * (1 - b):.6f} + {k1 * b / avg_len:.8f} * length(p.{column})"
        parts = []
        for t in terms:
            f = f"{scale} * ts_rank({weights}, p.{column}, plainto_tsquery('{TS_CONFIG}', %s), 0)"
            parts.append(f"(SELECT {idf[t]:.6f} * {k1 + 1} * f / (f + {norm}) FROM (SELECT {f} AS f) s)")
        return " + ".join(parts)
    return score


def exact_term_stats(original: Callable) -> Callable:
    """`_term_stats` with the words the planner's statistics do not list (all given the same
    floor fraction) counted exactly from the GIN index, up to the floor's count."""
    def term_stats(self: PostgresStore, conn: object, terms: Sequence[str]) -> tuple[list[float], float]:
        fractions, docs = original(self, conn, terms)
        floor = min(fractions, default=0.0)
        out = []
        for t, f in zip(terms, fractions, strict=True):
            if f <= floor:
                cap = max(int(2 * f * docs), 1)
                n = conn.execute(
                    "SELECT count(*) FROM (SELECT 1 FROM papers WHERE tsv @@ "
                    f"plainto_tsquery('{TS_CONFIG}', %s)"
                    " LIMIT %s) m", (t, cap)).fetchone()[0]
                f = max(n, 0.5) / docs
            out.append(f)
        return out, docs
    return term_stats


def record_steps(store: object, log_to: list[str]) -> None:
    """Wrap the store's `_ranked` to note each ranking step tried and whether it answered."""
    inner = store._ranked

    def ranked(*args, **kwargs):
        out = inner(*args, **kwargs)
        log_to.append("x" if out is None else "ok")
        return out

    store._ranked = ranked


def build(home: Path, url: str, n: int) -> None:
    path = home.parent / f"head-{n}.jsonl"
    if not path.exists():
        with SNAPSHOT.open("rb") as src, path.open("wb") as dst:
            for _, line in zip(range(n), src, strict=False):
                dst.write(line)
    for cfg in (Config.from_env(home=home), Config.from_env(home=home / "pg", database_url=url)):
        with Library(cfg) as lib:
            if lib.store.count() == 0:
                t = time.time()
                lib.import_files([path], index=False)
                log("built", cfg.database_url or home, lib.store.count(), round(time.time() - t), "s")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--home", type=Path, required=True)
    ap.add_argument("--pg-root", type=Path, required=True)
    ap.add_argument("--pg-db", default="paperfeed_bench")
    ap.add_argument("--build", type=int, default=0)
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--variants", default="ts_rank_n1,ts_rank_n0,ts_rank_n2,ts_rank_n8,bm25ish")
    ap.add_argument("--stats-targets", default="", help="e.g. 100,1000: ALTER + ANALYZE, then the variants")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    server = PgServer(durable=True, root=args.pg_root).start()
    try:
        import psycopg

        with psycopg.connect(server.admin_url, autocommit=True) as conn:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (args.pg_db,)).fetchone():
                conn.execute(f"CREATE DATABASE {args.pg_db} TEMPLATE paperfeed_template")
        url = server.url(args.pg_db)
        if args.build:
            build(args.home, url, args.build)
        with (Library(Config.from_env(home=args.home)) as sq,
              Library(Config.from_env(home=args.home / "pg", database_url=url)) as pg):
            assert isinstance(sq.store, SQLiteStore) and isinstance(pg.store, PostgresStore)
            texts, _ = queries(sq, args.queries)
            with pg.store.connection() as conn:
                avg_len = float(conn.execute(
                    "SELECT avg(length(tsv)) FROM papers TABLESAMPLE SYSTEM (5)"
                ).fetchone()[0])
            variants: dict[str, ScoreSql] = {
                "ts_rank_n1": ts_rank(1), "ts_rank_n0": ts_rank(0), "ts_rank_n2": ts_rank(2),
                "ts_rank_n8": ts_rank(8), "ts_rank_cd_n1": ts_rank(1, "ts_rank_cd"),
                "bm25ish": bm25ish(avg_len),
            }
            expected = {q: [h.paper.id for h in sq.search(q, mode="keyword", limit=10)] for q in texts}
            steps: dict[str, Counter] = {}
            for name, store in (("sqlite", sq.store), ("postgresql", pg.store)):
                per_query: Counter = Counter()
                for q in texts:
                    trail: list[str] = []
                    record_steps(store, trail)
                    sq.search(q, mode="keyword", limit=10) if name == "sqlite" else pg.search(
                        q, mode="keyword", limit=10)
                    del store._ranked
                    per_query[" ".join(trail)] += 1
                steps[name] = per_query
            log("steps", {k: dict(v) for k, v in steps.items()})
            result: dict = {"papers": pg.store.count(), "avg_lexemes": round(avg_len, 1), "steps": {
                k: dict(v) for k, v in steps.items()}, "variants": {}}
            original, original_stats = PostgresStore._score_sql, PostgresStore._term_stats
            for target in args.stats_targets.split(","):
                if target:  # the tsvector's statistics target: how many lexemes pg_stats lists
                    with pg.store.connection() as conn:
                        conn.execute(f"ALTER TABLE papers ALTER COLUMN tsv SET STATISTICS {int(target)}")
                    t = time.perf_counter()
                    pg.store.after_import()  # ANALYZE, and the store forgets its cached statistics
                    result[f"analyze_s_target_{target}"] = round(time.perf_counter() - t, 1)
                    log("statistics target", target, "ANALYZE", result[f"analyze_s_target_{target}"], "s")
                for name in args.variants.split(","):
                    exact = name.endswith("+exact_idf")
                    PostgresStore._score_sql = staticmethod(variants[name.removesuffix("+exact_idf")])
                    PostgresStore._term_stats = exact_term_stats(original_stats) if exact else original_stats
                    for q in texts[:10]:
                        pg.search(q, mode="keyword")
                    ms = timed(lambda q: pg.search(q, mode="keyword", limit=10), texts)
                    agree = [jaccard(expected[q], [h.paper.id for h in pg.search(q, mode="keyword", limit=10)])
                             for q in texts]
                    key = f"{name} (statistics {target})" if target else name
                    result["variants"][key] = {
                        "top10_jaccard": round(statistics.mean(agree), 3),
                        "p50_ms": pct(ms, 50), "p99_ms": pct(ms, 99), "load": load(),
                    }
                    log(key, result["variants"][key])
            PostgresStore._score_sql, PostgresStore._term_stats = original, original_stats
    finally:
        server.stop()
    print(json.dumps(result, indent=2))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
