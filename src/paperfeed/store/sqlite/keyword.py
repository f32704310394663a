"""SQLite keyword search: an FTS5 index over title, abstract and author names (kept in step by
triggers), ranked by BM25 with per-column weights under a work budget."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

import orjson

from paperfeed.store.base import Filters, topped_up
from paperfeed.store.db import Row
from paperfeed.store.rows import filter_sql
from paperfeed.store.tokens import query_tokens

# bm25 weights of the FTS columns: title, abstract, author names.
FTS_WEIGHTS = (5.0, 1.0, 2.0)
# Work allowed for one ranked FTS query, in SQLite VM instructions (~17 per matching document;
# 300,000 is about 30 ms on a 2-core cloud machine). See `SQLiteStore.keyword_search`.
SEARCH_BUDGET = 300_000
RECENT_WINDOW = 200_000
COMMON_FRACTION = 0.01
COMMON_WINDOW = 10_000
TERM_STATS_MIN_DOCS = 20_000
TOKENIZER = "porter unicode61 remove_diacritics 2"

# Keep the FTS5 index in step with the papers table, row by row (dropped during a bulk load,
# after which the index is rebuilt in one pass: see `SQLiteStore.begin_bulk`).
FTS_TRIGGERS = [
    """
    CREATE TRIGGER IF NOT EXISTS papers_fts_insert AFTER INSERT ON papers BEGIN
        INSERT INTO papers_fts(rowid, title, abstract, author_names)
        VALUES (new.rowid, new.title, new.abstract, new.author_names);
    END;""",
    """
    CREATE TRIGGER IF NOT EXISTS papers_fts_delete AFTER DELETE ON papers BEGIN
        INSERT INTO papers_fts(papers_fts, rowid, title, abstract, author_names)
        VALUES ('delete', old.rowid, old.title, old.abstract, old.author_names);
    END;""",
    """
    CREATE TRIGGER IF NOT EXISTS papers_fts_update AFTER UPDATE OF title, abstract, author_names ON papers BEGIN
        INSERT INTO papers_fts(papers_fts, rowid, title, abstract, author_names)
        VALUES ('delete', old.rowid, old.title, old.abstract, old.author_names);
        INSERT INTO papers_fts(rowid, title, abstract, author_names)
        VALUES (new.rowid, new.title, new.abstract, new.author_names);
    END;""",
]
FTS_TRIGGER_NAMES = ("papers_fts_insert", "papers_fts_delete", "papers_fts_update")


def term_stats(conn: sqlite3.Connection, n: int) -> str:
    """The `fts_common_terms` record of an index of `n` papers (in the connection's main
    database): the terms found in more than `COMMON_FRACTION` of them."""
    conn.execute(
        "CREATE VIRTUAL TABLE IF NOT EXISTS temp.fts_terms USING fts5vocab(main, papers_fts, row)"
    )
    rows = conn.execute(
        "SELECT term, doc FROM temp.fts_terms WHERE doc > ?", (int(n * COMMON_FRACTION),)
    ).fetchall()
    return orjson.dumps({"docs": n, "terms": dict(rows)}).decode()



def fts_query(terms: Sequence[str], match: Literal["all", "any"]) -> str:
    """Quote every term as an FTS5 string so no user text is ever read as query syntax."""
    quoted = ['"' + t.replace('"', '""') + '"' for t in terms]
    return (" AND " if match == "all" else " OR ").join(quoted)



class SQLiteKeyword:
    """The keyword half of `SQLiteStore` (a mixin over its connection and meta table).

    BM25 top-k under a work budget. FTS5 scores every matching document before it can sort, so a
    query of common words over millions of papers would take seconds. Each step below is cut off
    after `SEARCH_BUDGET` VM instructions (deterministic, unlike a clock):

    0. words that occur in more than `COMMON_FRACTION` of all papers (see `refresh_term_stats`)
       are dropped when rarer words remain: their BM25 weight is small, and their posting lists
       are what makes a query slow; a query of nothing but common words ("the model") is
       answered from the newest `COMMON_WINDOW` papers, title matches first, newest first,
       without bm25 (`_newest_matches`);
    1. papers with every word, ranked over title, abstract and authors;
    2. if that is too much work: papers whose *title* has every word;
    3. if that is still too much: the same among the newest `RECENT_WINDOW` papers;
    then, when step 1 found fewer than `limit`, papers with any of the words fill the list
    (ranked below every all-words hit), if that fits in the budget.
    """

    _local: threading.local

    if TYPE_CHECKING:  # the store's

        @property
        def conn(self) -> sqlite3.Connection: ...

        def get_meta(self, key: str) -> str | None: ...
        def set_meta(self, key: str, value: str) -> None: ...
        def count(self) -> int: ...

    def keyword_keys(
        self, terms: Sequence[str], *, limit: int = 10, filters: Filters = Filters()
    ) -> list[tuple[int, float]]:
        """(rowid, score) best first: the steps `keyword_search` describes."""
        if not terms or limit <= 0:
            return []
        terms, all_common = self._selective(terms)
        all_words = fts_query(terms, "all")
        if all_common:
            return self._newest_matches(all_words, limit, filters)
        found: list[tuple[int, float]] | None = self._ranked(all_words, limit, filters)
        if found is None:
            title_only = "{title} : (" + all_words + ")"
            found = self._ranked(title_only, limit, filters)
            if found is None:
                floor = max(0, self._max_rowid() - RECENT_WINDOW)
                found = self._ranked(title_only, limit, filters, min_rowid=floor) or []
        elif len(found) < limit and len(terms) > 1:
            found = topped_up(found, self._ranked(fts_query(terms, "any"), limit, filters) or [], limit)
        return found

    def _newest_matches(self, all_words: str, limit: int, filters: Filters) -> list[tuple[int, float]]:
        """A query of nothing but common words: the newest `COMMON_WINDOW` papers that have every
        word, those with every word in the title first. No bm25() here: to weigh a word it reads
        the word's whole posting list (every paper that has it: ~40 ms per word found in most
        papers at a million), while newest-first with a limit stops after `limit` matches."""
        floor = max(0, self._max_rowid() - COMMON_WINDOW)
        found: list[int] = []
        for match in ("{title} : (" + all_words + ")", all_words):
            more = self._newest(match, limit - len(found), filters, floor, exclude=set(found))
            found += more or []
            if len(found) >= limit:
                break
        return [(rowid, float(limit - i)) for i, rowid in enumerate(found)]

    def _newest(
        self, match: str, limit: int, filters: Filters, min_rowid: int, exclude: set[int]
    ) -> list[int] | None:
        """Rowids matching `match` above `min_rowid`, newest first; None when over budget."""
        where, params = filter_sql(filters)
        join = "" if filters.empty else " JOIN papers p ON p.rowid = papers_fts.rowid"
        sql = (
            f"SELECT papers_fts.rowid FROM papers_fts{join} WHERE papers_fts MATCH ?{where} "
            "AND papers_fts.rowid > ? ORDER BY papers_fts.rowid DESC LIMIT ?"
        )
        rows = self._within_budget(sql, [match, *params, min_rowid, limit + len(exclude)])
        return None if rows is None else [r[0] for r in rows if r[0] not in exclude][:limit]

    def _ranked(
        self, match: str, limit: int, filters: Filters, min_rowid: int | None = None
    ) -> list[tuple[int, float]] | None:
        """(rowid, score) best first; None when the query ran out of budget."""
        weights = ", ".join(str(w) for w in FTS_WEIGHTS)
        where, params = filter_sql(filters)
        if min_rowid is not None:
            where += " AND papers_fts.rowid > ?"
            params.append(min_rowid)
        join = "" if filters.empty else " JOIN papers p ON p.rowid = papers_fts.rowid"
        sql = (
            f"SELECT papers_fts.rowid, bm25(papers_fts, {weights}) AS score FROM papers_fts{join} "
            f"WHERE papers_fts MATCH ?{where} ORDER BY score LIMIT ?"
        )
        rows = self._within_budget(sql, [match, *params, limit])
        return None if rows is None else [(r[0], -r[1]) for r in rows]

    def _within_budget(self, sql: str, params: Sequence[Any]) -> list[Row] | None:
        """The query's rows, or None when it ran past `SEARCH_BUDGET` VM instructions."""
        conn = self.conn
        steps = [0]

        def over_budget() -> int:
            steps[0] += 1
            return steps[0] * 10_000 > SEARCH_BUDGET

        conn.set_progress_handler(over_budget, 10_000)
        try:
            return conn.execute(sql, params).fetchall()
        except sqlite3.OperationalError as exc:
            if "interrupted" in str(exc):
                return None
            raise
        finally:
            conn.set_progress_handler(None, 0)

    def _selective(self, terms: Sequence[str]) -> tuple[list[str], bool]:
        """(the words worth searching for, whether every word is a common one)."""
        common = self._common_terms()
        if not common:
            return list(terms), False
        rare = [t for t, stem in zip(terms, self._stems(terms), strict=True) if stem not in common]
        return (rare, False) if rare else (list(terms), True)

    def term_fractions(self, terms: Sequence[str]) -> dict[str, float] | None:
        """From the FTS vocabulary: words in the recorded common-terms list take its count (no
        scan); the others are rare (at most `COMMON_FRACTION` of papers, or a small corpus), so
        counting their posting lists is cheap. The paper count is the largest rowid (no scan;
        deletions make it a slight over-estimate, which is harmless here)."""
        n = self._max_rowid()
        if not terms or n == 0:
            return {t: 0.0 for t in terms}
        stems = self._stems(terms)
        raw = self.get_meta("fts_common_terms")
        common: dict[str, int] = orjson.loads(raw)["terms"] if raw else {}
        ask = sorted({s for s in stems if s not in common})
        docs = dict(common)
        if ask:
            conn = self.conn
            conn.execute(
                "CREATE VIRTUAL TABLE IF NOT EXISTS temp.fts_terms "
                "USING fts5vocab(main, papers_fts, row)"
            )
            for stem in ask:
                row = conn.execute("SELECT doc FROM temp.fts_terms WHERE term = ?", (stem,)).fetchone()
                docs[stem] = row[0] if row else 0
        # BM25's smoothing, (n + 0.5) / (N + 1): ln(1 / f) is then exactly BM25's idf.
        return {t: (docs.get(s, 0) + 0.5) / (n + 1) for t, s in zip(terms, stems, strict=True)}

    def _stems(self, terms: Sequence[str]) -> list[str]:
        """The index's own tokens for query words: the shared tokenizer (`store.tokens`) gives
        exactly FTS5's."""
        return query_tokens(terms)

    def _common_terms(self) -> frozenset[str]:
        raw = self.get_meta("fts_common_terms")
        if not hasattr(self._local, "common") or raw != self._local.common_raw:
            self._local.common_raw = raw
            self._local.common = frozenset(orjson.loads(raw)["terms"]) if raw else frozenset()
        return self._local.common

    def refresh_term_stats(self, *, force: bool = False) -> bool:
        """Record the index terms found in more than `COMMON_FRACTION` of papers (a full scan of
        the FTS vocabulary: ~7 s at a million papers). Done after an import when the corpus has
        grown or shrunk by a fifth since the last time; small corpora need none."""
        n = self.count()
        raw = self.get_meta("fts_common_terms")
        last = orjson.loads(raw)["docs"] if raw else 0
        if not force and (n < TERM_STATS_MIN_DOCS or (last and abs(n - last) < last / 5)):
            return False
        self.set_meta("fts_common_terms", term_stats(self.conn, n))
        return True

    def after_import(self) -> None:
        self.refresh_term_stats()

    def _max_rowid(self) -> int:
        return self.conn.execute("SELECT coalesce(max(rowid), 0) FROM papers").fetchone()[0]

