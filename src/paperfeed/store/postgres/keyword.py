"""PostgreSQL keyword search: the same tokens and the same BM25 as SQLite's FTS5.

Each paper's title, abstract and author names go through the shared tokenizer (`store.tokens`,
FTS5's own tokens) in Python; its row in `paper_kw` (one per paper, by `pk`, written in the
same transaction as the paper) keeps

- `kw_terms text[]`: its distinct tokens (GIN-indexed: the posting lists), and `kw_title text[]`,
  those of the title (GIN-indexed, for the title-only step);
- `kw_tf int[]`: per `kw_terms` entry its count in each field, packed (`pack_tf`);
- `kw_len int`: its number of tokens, all fields (BM25's document length).

Ranking reads every match's arrays: in their own narrow table (~2 KB a row, the arrays inline and
uncompressed, several rows a page) that is a fraction of the pages the wide paper rows (one a page
on long abstracts) cost; the paper rows are read only for filters and for the hits shown.

Term statistics live in `kw_df` (per token: papers holding it anywhere, and in the title) and
`kw_totals` (papers, tokens), changed in the same transaction as the rows they count (a bulk load
rebuilds them once at its end). The score is FTS5's `bm25(5, 1, 2)`: per query word,
idf = ln((N - n + 0.5) / (n + 0.5)) (1e-6 when not positive), the word's frequency the sum of its
occurrences weighted by their field (title 5, abstract 1, authors 2), one length normalisation
over the whole row: idf * f * (k1 + 1) / (f + k1 * (1 - b + b * len / avglen)), k1 = 1.2,
b = 0.75. A title-only match counts title occurrences and title document frequencies, as FTS5's
`{title} : ...` does. Query words are only ever bound as parameters, never as query syntax.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Literal

from paperfeed.records import Paper
from paperfeed.store.base import Filters, topped_up
from paperfeed.store.postgres.sql import pg_filter_sql
from paperfeed.store.tokens import query_tokens, tokens

K1, B = 1.2, 0.75
WEIGHTS = (5, 1, 2)  # title, abstract, authors: SQLite's FTS_WEIGHTS
# Work bounds, by match counts (counted cheaply from the GIN index; ranking reads every match's
# arrays). SQLite bounds the same steps by VM instructions (store/sqlite/keyword.py), about
# 17,000 matches ranked; an any-word top-up is allowed as many here.
SEARCH_BUDGET = 5_000
ANY_BUDGET = 15_000
TITLE_BUDGET = 20_000
# As SQLite: words in more than 1 % of papers are dropped when rarer ones remain, once there are
# enough papers for the statistics to mean something; a query of only such words is answered from
# the newest COMMON_WINDOW papers, title matches first, newest first.
COMMON_FRACTION = 0.01
COMMON_WINDOW = 10_000
TERM_STATS_MIN_DOCS = 20_000
KEYWORD_TABLE = "paper_kw"
KEYWORD_COLUMNS = ("kw_terms", "kw_tf", "kw_len", "kw_title")
# A paper's keyword row; `toast_tuple_target`: rows up to a page stay inline and uncompressed
# (ranking reads each match's arrays; a TOAST lookup or a decompression per match is what the
# narrow table is there to avoid).
KEYWORD_TABLE_SQL = """
    CREATE TABLE paper_kw (
        pk BIGINT PRIMARY KEY REFERENCES papers(pk) ON DELETE CASCADE,
        kw_terms TEXT[] NOT NULL, kw_tf INTEGER[] NOT NULL, kw_len INTEGER NOT NULL,
        kw_title TEXT[] NOT NULL
    ) WITH (toast_tuple_target = 8160);
"""
COPY_KEYWORDS = f"COPY paper_kw (pk, {', '.join(KEYWORD_COLUMNS)}) FROM STDIN"
_FIELD_MAX = (255, 0x7FFF, 255)  # per-field counts kept: title, abstract, authors (`pack_tf`)


def pack_tf(title: int, abstract: int, authors: int) -> int:
    """One token's counts in the three fields as one int: title in bits 0-7, authors 8-15,
    abstract 16-30 (each capped; BM25 has long saturated by then)."""
    return (
        min(title, _FIELD_MAX[0])
        | min(authors, _FIELD_MAX[2]) << 8
        | min(abstract, _FIELD_MAX[1]) << 16
    )


def keyword_row(title: str, abstract: str, author_names: Sequence[str] | str) -> tuple[Any, ...]:
    """The keyword columns (`KEYWORD_COLUMNS`) of a paper's fields: the same as packing each
    distinct token's field counts with `pack_tf`, written out flat because it runs for every
    token of every paper imported (Counter lookups and a call per token made it ~4x slower)."""
    authors = author_names if isinstance(author_names, str) else " ".join(author_names)
    ct, ca, cu = Counter(tokens(title)), Counter(tokens(abstract)), Counter(tokens(authors))
    tmax, amax, umax = _FIELD_MAX
    packed = {t: n if n < tmax else tmax for t, n in ct.items()}
    get = packed.get
    for t, n in ca.items():
        packed[t] = get(t, 0) | (n if n < amax else amax) << 16
    for t, n in cu.items():
        packed[t] = get(t, 0) | (n if n < umax else umax) << 8
    length = ct.total() + ca.total() + cu.total()
    return list(packed), list(packed.values()), length, list(ct)


def paper_keyword_row(p: Paper) -> tuple[Any, ...]:
    return keyword_row(p.title, p.abstract, p.author_names)


class StatsDelta:
    """Changes to the term statistics from rows added (+1) and removed (-1)."""

    def __init__(self) -> None:
        self.df: Counter[str] = Counter()
        self.title_df: Counter[str] = Counter()
        self.docs = 0
        self.tokens = 0

    def add(self, row: tuple[Any, ...], sign: int = 1) -> None:
        terms, _, length, title = row
        self.df.update({t: sign for t in terms})
        self.title_df.update({t: sign for t in title})
        self.docs += sign
        self.tokens += sign * length

    def apply(self, conn: Any) -> None:
        changed = [t for t in self.df.keys() | self.title_df.keys()
                   if self.df[t] or self.title_df[t]]
        if changed:
            conn.execute(
                "INSERT INTO kw_df (token, docs, title_docs) "
                "SELECT * FROM unnest(%s::text[], %s::int[], %s::int[]) "
                "ON CONFLICT (token) DO UPDATE SET docs = kw_df.docs + excluded.docs, "
                "title_docs = kw_df.title_docs + excluded.title_docs",
                (changed, [self.df[t] for t in changed], [self.title_df[t] for t in changed]),
            )
            gone = [t for t in changed if self.df[t] < 0]
            if gone:
                conn.execute("DELETE FROM kw_df WHERE token = ANY(%s) AND docs <= 0", (gone,))
        if self.docs or self.tokens:
            conn.execute("UPDATE kw_totals SET docs = docs + %s, tokens = tokens + %s",
                         (self.docs, self.tokens))


REBUILD_STATS = [
    "DELETE FROM kw_df",
    "INSERT INTO kw_df (token, docs, title_docs) "
    "SELECT t, count(*), count(*) FILTER (WHERE tf & 255 > 0) "
    "FROM paper_kw, unnest(kw_terms, kw_tf) AS u(t, tf) GROUP BY t",
    "UPDATE kw_totals SET docs = (SELECT count(*) FROM paper_kw), "
    "tokens = (SELECT coalesce(sum(kw_len), 0) FROM paper_kw)",
]
INDEXES = {"paper_kw_terms": "kw_terms", "paper_kw_title": "kw_title"}  # GIN, on paper_kw


def fill_keyword_rows(conn: Any, batch: int = 2_000) -> int:
    """Keyword rows for papers that have none (papers written before they existed, or copied in
    by `paperfeed.migrate`); returns how many."""
    # One query, read through a server-side cursor `batch` rows at a time: the anti-join is
    # planned and run once (a query per batch re-ran it over a table growing in the same
    # transaction, without statistics: at 1M papers it crawled).
    done = 0
    with conn.cursor(name="paperfeed_fill_keywords") as papers:
        papers.itersize = batch
        papers.execute(
            "SELECT p.pk, p.title, p.abstract, p.author_names FROM papers p "
            "WHERE NOT EXISTS (SELECT 1 FROM paper_kw k WHERE k.pk = p.pk) ORDER BY p.pk"
        )
        while rows := papers.fetchmany(batch):
            with conn.cursor() as cur, cur.copy(COPY_KEYWORDS) as copy:
                for r in rows:
                    copy.write_row((r[0], *keyword_row(r[1], r[2], r[3])))
            done += len(rows)
    return done


def rebuild_stats(conn: Any) -> None:
    """Term statistics from the rows, in one pass (after a bulk load or a migration)."""
    for sql in REBUILD_STATS:
        conn.execute(sql)


def bm25_idf(hits: float, docs: float) -> float:
    """FTS5's idf: ln((N - n + 0.5) / (n + 0.5)), 1e-6 when not positive."""
    idf = math.log((docs - hits + 0.5) / (hits + 0.5)) if docs > 0 else 0.0
    return idf if idf > 0 else 1e-6


class PostgresKeyword:
    """The keyword half of `PostgresStore` (a mixin over its pooled connections); the steps
    mirror SQLite's (`store.sqlite.keyword.SQLiteKeyword`):

    0. words in more than `COMMON_FRACTION` of papers are dropped when rarer ones remain; a query
       of only such words is answered from the newest `COMMON_WINDOW` papers, those with every
       word in the title first, newest first (no BM25, as in SQLite);
    1. papers with every word, ranked by BM25 over all fields, when at most `SEARCH_BUDGET`;
    2. else papers whose title has every word, when at most `TITLE_BUDGET`;
    3. else the newest papers whose title has every word.
    Fewer than `limit` all-words hits are topped up with any-word hits ranked below them (when
    at most `ANY_BUDGET` papers have any of the words)."""

    if TYPE_CHECKING:  # the store's

        def connection(self) -> AbstractContextManager[Any]: ...

    def keyword_keys(
        self, terms: Sequence[str], *, limit: int = 10, filters: Filters = Filters()
    ) -> list[tuple[int, float]]:
        with self.connection() as conn:
            return self._keyword_pks(conn, terms, limit, filters)

    def after_import(self) -> None:
        """Refresh the planner's statistics and vacuum what the import wrote (VACUUM skips pages
        that did not change), then the catalog rows ANALYZE replaced: otherwise the first
        searches after an import write WAL, which the search cache reads as a change: setting
        hint bits on the new rows (checksums are on), and pruning the dead `pg_statistic` /
        `pg_attribute` rows their planning reads. (A role without the right to vacuum the
        catalogs gets a warning and the searches do that pruning, as before.)"""
        with self.connection() as conn:
            conn.execute("VACUUM (ANALYZE) papers, paper_kw, kw_df, kw_totals")
            conn.execute("VACUUM pg_catalog.pg_statistic, pg_catalog.pg_attribute")

    def term_fractions(self, terms: Sequence[str]) -> dict[str, float] | None:
        """The fraction of papers holding each word, smoothed as BM25's idf is: (n + 0.5) /
        (N + 1)."""
        with self.connection() as conn:
            stats = _Stats.read(conn, query_tokens(terms))
        return {
            t: (stats.df.get(tok, 0) + 0.5) / (stats.docs + 1)
            for t, tok in zip(terms, query_tokens(terms), strict=True)
        }

    def _keyword_pks(
        self, conn: Any, terms: Sequence[str], limit: int, filters: Filters
    ) -> list[tuple[int, float]]:
        """(pk, score) best first: the steps the class describes."""
        toks = [t for t in query_tokens(terms) if t]
        if not toks or limit <= 0:
            return []
        stats = _Stats.read(conn, toks)
        if stats.docs >= TERM_STATS_MIN_DOCS:
            cut = int(stats.docs * COMMON_FRACTION)
            rare = [t for t in toks if stats.df.get(t, 0) <= cut]
            if not rare:
                return self._newest(conn, toks, limit, filters)
            toks = rare
        found = self._ranked(conn, stats, toks, "all", limit, filters, SEARCH_BUDGET)
        if found is None:
            found = self._ranked(conn, stats, toks, "title", limit, filters, TITLE_BUDGET)
            if found is None:
                found = self._ranked(conn, stats, toks, "title", limit, filters, None)
        elif len(found) < limit and len(toks) > 1:
            extra = self._best_of_any(conn, stats, toks, limit, filters) or []
            found = topped_up(found, extra, limit)
        return found or []

    def _best_of_any(
        self, conn: Any, stats: _Stats, toks: list[str], limit: int, filters: Filters
    ) -> list[tuple[int, float]] | None:
        """The `limit` best papers with any of the words (None over `ANY_BUDGET`), pruned as
        MaxScore does, with the same result: the papers of the rarest word are ranked first
        (on every word), and the `limit`-th score among them is a floor the answer reaches. A
        word adds less than idf × (k1 + 1) to a paper's score, so a paper holding only the
        commonest words, whose bounds sum below that floor, cannot be among the best: only the
        papers of the other words are ranked then (each match's arrays are read to score it,
        the cost the pruning saves)."""
        order = sorted(toks, key=lambda t: (stats.df.get(t, 0), t))  # rarest first
        first = self._ranked(conn, stats, toks, "any", limit, filters, ANY_BUDGET, order[:1])
        if first is None:  # the rarest word alone is over budget: every word's matches are too
            return None
        if len(first) < limit:
            return self._ranked(conn, stats, toks, "any", limit, filters, ANY_BUDGET)
        floor = first[-1][1] - 1e-9
        bound = {t: bm25_idf(stats.df.get(t, 0), stats.docs) * (K1 + 1) for t in toks}
        keep, below = len(order), 0.0
        while keep > 1 and below + bound[order[keep - 1]] < floor:
            keep -= 1
            below += bound[order[keep]]
        if keep == 1:
            return first
        return self._ranked(conn, stats, toks, "any", limit, filters, ANY_BUDGET, order[:keep])

    def _newest(
        self, conn: Any, toks: list[str], limit: int, filters: Filters
    ) -> list[tuple[int, float]]:
        """Among the newest `COMMON_WINDOW` papers: those with every word in the title, newest
        first, then those with every word anywhere; scored limit, limit - 1, ... The papers are
        walked newest first by key, stopping at `limit` matches (`OFFSET 0` keeps the planner
        from reading the common words' whole posting lists from the GIN index instead)."""
        top = conn.execute("SELECT coalesce(max(pk), 0) FROM paper_kw").fetchone()[0]
        join, where, params = _filtered(filters)
        found: list[int] = []
        for column in ("kw_title", "kw_terms"):
            rows = conn.execute(
                "SELECT k.pk FROM (SELECT * FROM paper_kw WHERE pk > %s ORDER BY pk DESC OFFSET 0) "
                f"k{join} WHERE k.{column} @> %s::text[]{where} AND NOT k.pk = ANY(%s) "
                "ORDER BY k.pk DESC LIMIT %s",
                [top - COMMON_WINDOW, toks, *params, found, limit - len(found)],
            ).fetchall()
            found += [r[0] for r in rows]
            if len(found) >= limit:
                break
        return [(pk, float(limit - i)) for i, pk in enumerate(found)]

    def _ranked(
        self,
        conn: Any,
        stats: _Stats,
        toks: list[str],
        match: Literal["all", "any", "title"],
        limit: int,
        filters: Filters,
        budget: int | None,
        matching: list[str] | None = None,
    ) -> list[tuple[int, float]] | None:
        """(pk, score) best first; None when more than `budget` papers match. With no budget:
        the newest `limit` matches, scored. Scored on `toks`, matched on `matching` (default:
        the same words)."""
        column, op = {"all": ("kw_terms", "@>"), "any": ("kw_terms", "&&"),
                      "title": ("kw_title", "@>")}[match]
        join, where, params = _filtered(filters)
        base = f"FROM paper_kw k{join} WHERE k.{column} {op} %s::text[]{where}"
        matching = toks if matching is None else matching
        args = [matching, *params]
        lateral, score = self._score_sql(stats, len(toks), [t for t in toks],
                                         title_only=match == "title")
        if budget is None:
            rows = conn.execute(
                f"SELECT m.pk, {score.replace('k.', 'm.')} FROM "
                f"(SELECT k.pk, k.kw_terms, k.kw_tf, k.kw_len {base} ORDER BY k.pk DESC LIMIT %s) m "
                f"{lateral.replace('k.', 'm.')}",
                [*args, limit, *toks],
            ).fetchall()
            return sorted(((r[0], float(r[1])) for r in rows), key=lambda r: (-r[1], r[0]))
        if _most_matches(stats, matching, match) > budget:
            n = conn.execute(
                f"SELECT count(*) FROM (SELECT 1 {base} LIMIT %s) m", [*args, budget + 1]
            ).fetchone()[0]
            if n > budget:
                return None
        base = base.replace(" WHERE ", f" {lateral} WHERE ", 1)
        rows = conn.execute(
            f"SELECT k.pk, {score} AS score {base} ORDER BY score DESC, k.pk LIMIT %s",
            [*toks, *args, limit],
        ).fetchall()
        return [(r[0], float(r[1])) for r in rows]

    @staticmethod
    def _score_sql(
        stats: _Stats, n: int, toks: list[str], *, title_only: bool
    ) -> tuple[str, str]:
        """(a LATERAL join reading each word's packed counts from `k.kw_*`, one `%s` per word;
        the BM25 of the row over them): see the module docstring. Only numbers computed here
        are spelled into the SQL."""
        avglen = stats.tokens / stats.docs if stats.docs else 1.0
        norm = f"({K1 * (1 - B):.9f}::float8 + {K1 * B / max(avglen, 1e-9):.12f}::float8 * k.kw_len)"
        wt, wa, wu = WEIGHTS
        # `OFFSET 0` keeps the planner from inlining the subquery, which would spell each
        # word's array look-up into the score once per use (six times a word); the constants
        # are float8, as SQLite's arithmetic is (a decimal literal is numeric, several times
        # slower per row)
        lateral = "CROSS JOIN LATERAL (SELECT " + ", ".join(
            f"k.kw_tf[array_position(k.kw_terms, %s::text)] AS tf{i}" for i in range(n)
        ) + " OFFSET 0) x"
        parts = []
        for i, t in enumerate(toks):
            hits = stats.title_df.get(t, 0) if title_only else stats.df.get(t, 0)
            idf = bm25_idf(hits, stats.docs)
            tf = f"x.tf{i}"
            f = (f"({wt} * ({tf} & 255))" if title_only else
                 f"({wt} * ({tf} & 255) + {wu} * (({tf} >> 8) & 255) + {wa} * ({tf} >> 16))")
            parts.append(
                f"coalesce({idf:.12f}::float8 * {f} * {K1 + 1}::float8 / ({f} + {norm}), 0)"
            )
        return lateral, " + ".join(parts)


def _filtered(filters: Filters) -> tuple[str, str, list[Any]]:
    """(the join to the paper rows, when there are filters: they test the paper's columns; the
    conditions; their parameters)."""
    where, params = pg_filter_sql(filters)
    return (" JOIN papers p ON p.pk = k.pk" if where else ""), where, params


def _most_matches(stats: _Stats, toks: list[str], match: Literal["all", "any", "title"]) -> int:
    """An upper bound on the papers a match can find, from the statistics alone: a paper with
    every word is among those of its rarest word; one with any word, among all the words'. When
    it is within budget, the matches need not be counted."""
    df = stats.title_df if match == "title" else stats.df
    counts = [df.get(t, 0) for t in toks]
    return sum(counts) if match == "any" else min(counts)


class _Stats:
    """Term statistics for some tokens: papers, tokens, and per token its document frequencies
    (anywhere, in the title)."""

    def __init__(self, docs: int, tokens: int, df: dict[str, int], title_df: dict[str, int]):
        self.docs, self.tokens, self.df, self.title_df = docs, tokens, df, title_df

    @classmethod
    def read(cls, conn: Any, toks: Sequence[str]) -> _Stats:
        """One round trip: the totals, joined to the words' rows (none for unknown words)."""
        rows = conn.execute(
            "SELECT k.docs, k.tokens, d.token, d.docs, d.title_docs FROM kw_totals k "
            "LEFT JOIN kw_df d ON d.token = ANY(%s)",
            (list(toks),),
        ).fetchall()
        found = [r for r in rows if r[2] is not None]
        return cls(rows[0][0], rows[0][1], {r[2]: r[3] for r in found}, {r[2]: r[4] for r in found})
