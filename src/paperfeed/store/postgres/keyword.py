"""PostgreSQL keyword search: a weighted `tsvector` (title A, abstract B, authors C; English
stemming) kept by a generated column with a GIN index, each word's `ts_rank` weighted by its IDF,
with the work bounded by match counts. Query words are only ever passed to `plainto_tsquery` one
by one, never as query syntax."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Literal

from paperfeed.store.base import Filters, topped_up
from paperfeed.store.postgres.sql import pg_filter_sql

# ts_rank weights are {D, C, B, A}: authors (C) 0.4, abstract (B) 0.2, title (A) 1.0 = 2:1:5.
TS_WEIGHTS = "{0.0, 0.4, 0.2, 1.0}"
TS_CONFIG = "english"
# A ranked query scores every matching paper before it can sort; a query of common words over
# millions of papers would take seconds. Like SQLite's budget, ranking is bounded by the number of
# matches (counted cheaply from the GIN index): above it, title matches, then the newest ones.
SEARCH_BUDGET = 2_000
TITLE_BUDGET = 20_000
# As SQLite (store/sqlite/keyword.py): words in more than 1 % of papers are dropped when rarer ones
# remain, once there are enough papers for the statistics to mean something.
COMMON_FRACTION = 0.01
COMMON_WINDOW = 10_000
TERM_STATS_MIN_DOCS = 20_000
# A query of common words only is ranked among the newest COMMON_WINDOW papers: through the GIN
# index, unless even its rarest word is in more than this fraction of papers; then reading the
# window by key is faster (the crossover measured at 1M papers, BENCHMARKS.md).
SCAN_WINDOW_FRACTION = 0.1
TERM_STATS_TTL = 60.0  # seconds a server keeps the lexeme statistics (`_lexeme_stats`)


def _bm25_idf(fraction: float, docs: float) -> float:
    """BM25's idf, ln(1 + (N - n + 0.5) / (n + 0.5)), from the fraction n/N of papers with the
    word."""
    n = fraction * docs
    return math.log(1 + (docs - n + 0.5) / (n + 0.5))


def tsquery(n: int, match: Literal["all", "any"]) -> str:
    """A tsquery of n plain words, each through plainto_tsquery (never user syntax): AND or OR."""
    op = " && " if match == "all" else " || "
    return "(" + op.join([f"plainto_tsquery('{TS_CONFIG}', %s)"] * n) + ")"


class PostgresKeyword:
    """The keyword half of `PostgresStore` (a mixin over its pooled connections).

    Ranked like SQLite's keyword search: each word's ts_rank weighted by its IDF (BM25-like),
    with the work bounded by match counts (counted cheaply from the GIN index; ranking reads
    every match's tsvector):

    0. words in more than `COMMON_FRACTION` of papers are dropped when rarer words remain (as
       SQLite does, from the planner's lexeme statistics); a query of only common words is
       ranked among the newest `COMMON_WINDOW` papers;
    1. papers with every word (title, abstract, authors), when at most `SEARCH_BUDGET`;
    2. else papers whose title has every word, when at most `TITLE_BUDGET`;
    3. else the newest papers whose title has every word.
    Fewer than `limit` all-words hits are topped up with any-word hits ranked below them."""

    _stats_cache: tuple[float, tuple[dict[str, float], float, float]] | None

    if TYPE_CHECKING:  # the store's

        def connection(self) -> AbstractContextManager[Any]: ...

    def keyword_keys(
        self, terms: Sequence[str], *, limit: int = 10, filters: Filters = Filters()
    ) -> list[tuple[int, float]]:
        with self.connection() as conn:
            return self._keyword_pks(conn, terms, limit, filters)

    def _keyword_pks(
        self, conn: Any, terms: Sequence[str], limit: int, filters: Filters
    ) -> list[tuple[int, float]]:
        """(pk, score) best first: the steps `keyword_search` describes."""
        terms = list(terms)
        if not terms or limit <= 0:
            return []
        fractions, docs = self._term_stats(conn, terms)
        idf = {t: _bm25_idf(f, docs) for t, f in zip(terms, fractions, strict=True)}
        if docs >= TERM_STATS_MIN_DOCS:
            rare = [t for t, f in zip(terms, fractions, strict=True) if f <= COMMON_FRACTION]
            if not rare:
                top = conn.execute("SELECT coalesce(max(pk), 0) FROM papers").fetchone()[0]
                return self._ranked(conn, "tsv", terms, idf, "all", limit, filters,
                                    COMMON_WINDOW, min_pk=top - COMMON_WINDOW,
                                    scan_window=min(fractions) > SCAN_WINDOW_FRACTION) or []
            terms = rare
        found = self._ranked(conn, "tsv", terms, idf, "all", limit, filters, SEARCH_BUDGET)
        if found is None:
            found = self._ranked(conn, "title_tsv", terms, idf, "all", limit, filters,
                                 TITLE_BUDGET)
            if found is None:
                found = self._ranked(conn, "title_tsv", terms, idf, "all", limit, filters, None) or []
        elif len(found) < limit and len(terms) > 1:
            extra = self._ranked(conn, "tsv", terms, idf, "any", limit, filters,
                                 SEARCH_BUDGET) or []
            found = topped_up(found, extra, limit)
        return found

    def _ranked(
        self,
        conn: Any,
        column: str,
        terms: Sequence[str],
        idf: dict[str, float],
        match: Literal["all", "any"],
        limit: int,
        filters: Filters,
        budget: int | None,
        min_pk: int | None = None,
        scan_window: bool = False,
    ) -> list[tuple[int, float]] | None:
        """(pk, score) best first; None when more than `budget` papers match. With no budget:
        the newest `limit` matches (no ranking work beyond them), scored. `min_pk`: only papers
        after it; `scan_window`: read those papers by key instead of using the GIN index."""
        query = tsquery(len(terms), match)
        where, params = pg_filter_sql(filters)
        source, window = "papers p", []
        if min_pk is not None and scan_window:
            # Only the newest papers, for very common words: read them by key and test each.
            # Left to itself the planner ANDs the key range with a GIN bitmap of every paper that
            # has the words (hundreds of thousands at 1M): up to 10x slower (BENCHMARKS.md).
            source, window = "(SELECT * FROM papers WHERE pk > %s OFFSET 0) p", [min_pk]
        elif min_pk is not None:
            where += " AND p.pk > %s"
            params.append(min_pk)
        base = f"FROM {source} WHERE p.{column} @@ {query}{where}"
        args = [*window, *terms, *params]
        score = self._score_sql(column, terms, idf)
        if budget is None:
            rows = conn.execute(
                f"SELECT pk, {score.replace('p.', 'm.')} FROM "
                f"(SELECT p.pk, p.{column} {base} ORDER BY p.pk DESC LIMIT %s) m",
                [*terms, *args, limit],
            ).fetchall()
            return sorted(((r[0], float(r[1])) for r in rows), key=lambda r: (-r[1], r[0]))
        n = conn.execute(
            f"SELECT count(*) FROM (SELECT 1 {base} LIMIT %s) m", [*args, budget + 1]
        ).fetchone()[0]
        if n > budget:
            return None
        rows = conn.execute(
            f"SELECT p.pk, {score} AS score {base} ORDER BY score DESC, p.pk LIMIT %s",
            [*terms, *args, limit],
        ).fetchall()
        return [(r[0], float(r[1])) for r in rows]

    @staticmethod
    def _score_sql(column: str, terms: Sequence[str], idf: dict[str, float]) -> str:
        """The score of a match (SQL over `p.<column>`, one `%s` per term): each word's ts_rank
        weighted by its IDF."""
        weights = f"'{TS_WEIGHTS}'" if column == "tsv" else "'{0.1, 0.2, 0.4, 1.0}'"
        return " + ".join(
            f"{idf[t]:.6f} * ts_rank({weights}, p.{column}, plainto_tsquery('{TS_CONFIG}', %s), 1)"
            for t in terms
        )

    def term_fractions(self, terms: Sequence[str]) -> dict[str, float] | None:
        """From the planner's statistics, as the keyword ranking weighs words (`_term_stats`)."""
        if not terms:
            return {}
        with self.connection() as conn:
            fractions, docs = self._term_stats(conn, list(terms))
        # BM25's smoothing, (n + 0.5) / (N + 1), as the SQLite store reports it.
        return {t: (f * docs + 0.5) / (docs + 1) for t, f in zip(terms, fractions, strict=True)}

    def _term_stats(self, conn: Any, terms: Sequence[str]) -> tuple[list[float], float]:
        """(the fraction of papers holding each word, the number of papers), from the planner's
        statistics: `pg_stats.most_common_elems` of the tsvector (ANALYZE keeps them: no scan);
        a word not among them is rarer than the rarest listed (half its fraction)."""
        freq, floor, docs = self._lexeme_stats(conn)
        lexemes = conn.execute(
            "SELECT array_to_string(tsvector_to_array(to_tsvector(%s::regconfig, t)), ' ') "
            "FROM unnest(%s::text[]) WITH ORDINALITY AS u(t, i) ORDER BY i",
            (TS_CONFIG, list(terms)),
        ).fetchall()
        return [
            max((freq.get(x, floor) for x in (lex or "").split()), default=floor)
            for (lex,) in lexemes
        ], docs

    def _lexeme_stats(self, conn: Any) -> tuple[dict[str, float], float, float]:
        """(lexeme -> fraction of papers, the fraction assumed for unlisted ones, papers), read
        from `pg_stats` at most every `TERM_STATS_TTL` seconds: fetching and parsing the list on
        every query cost more than the ranking. Another server's import shows within the TTL."""
        cached = self._stats_cache
        now = time.monotonic()
        if cached is not None and now - cached[0] < TERM_STATS_TTL:
            return cached[1]
        row = conn.execute(
            "SELECT s.most_common_elems::text::text[], s.most_common_elem_freqs, "
            "(SELECT reltuples FROM pg_class WHERE relname = 'papers') "
            "FROM pg_stats s WHERE s.tablename = 'papers' AND s.attname = 'tsv'"
        ).fetchone()
        freq: dict[str, float] = {}
        floor, docs = 0.0, 1.0
        if row and row[0]:
            freq = dict(zip(row[0], row[1][: len(row[0])], strict=False))
            floor = min(freq.values(), default=0.0) / 2
            docs = max(float(row[2] or 1.0), 1.0)
        self._stats_cache = (now, (freq, floor, docs))
        return freq, floor, docs

    def after_import(self) -> None:
        """Refresh the planner's statistics (and with them the lexeme frequencies `_term_stats`
        reads); ANALYZE samples a fixed number of rows, so this is quick at any size."""
        with self.connection() as conn:
            conn.execute("ANALYZE papers")
        self._stats_cache = None
