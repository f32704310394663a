"""The keyword index of a bulk load, built on the second core while the load goes on.

A bulk load (`SQLiteStore.begin_bulk` .. `end_bulk`) writes papers with the FTS5 triggers off.
Tokenising and indexing the papers is as much CPU as reading and writing them, and SQLite lets
one connection write a database file at a time, so the index is built in a *side file*
(`paperfeed.db-fts-bulk`) by a thread with its own connection, which follows the papers table
as the load commits: each step, in one read snapshot of the main file, indexes the rows added
since the last step (`INSERT INTO papers_fts ... SELECT ... FROM src.papers`, all inside SQLite,
which releases the GIL, so the thread runs beside the Python reader and writer).

Rows changed or deleted after the follower indexed them are found in `fts_bulk_log`, which two
bulk-only triggers fill with the *old* text of a row in the same transaction as the change: the
follower deletes the text it indexed (FTS5 external content needs the old values to delete) and
indexes the row as it is now. At the end, `swap_in` copies the side file's FTS5 tables into the
main file in one transaction, together with restoring the triggers and clearing the bulk marker.

Nothing here weakens crash safety: until that transaction commits, the main file says the load
is unfinished (`fts_state`), and the next import rebuilds the index from the table as before
(`SQLiteStore.heal`); the side file is scratch (no journal, no fsync) and is thrown away.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from paperfeed.store.sqlite import keyword
from paperfeed.store.sqlite.keyword import FTS_TRIGGER_NAMES, FTS_TRIGGERS, term_stats

# Bulk-only triggers: the old text of a row that changes or goes, for the follower.
LOG_TABLE = """
    CREATE TABLE IF NOT EXISTS fts_bulk_log (
        seq INTEGER PRIMARY KEY,
        doc INTEGER NOT NULL,
        title TEXT,
        abstract TEXT,
        author_names TEXT
    )"""
LOG_TRIGGERS = [
    """
    CREATE TRIGGER IF NOT EXISTS papers_fts_bulk_update
    AFTER UPDATE OF title, abstract, author_names ON papers BEGIN
        INSERT INTO fts_bulk_log (doc, title, abstract, author_names)
        VALUES (old.rowid, old.title, old.abstract, old.author_names);
    END;""",
    """
    CREATE TRIGGER IF NOT EXISTS papers_fts_bulk_delete AFTER DELETE ON papers BEGIN
        INSERT INTO fts_bulk_log (doc, title, abstract, author_names)
        VALUES (old.rowid, old.title, old.abstract, old.author_names);
    END;""",
]
LOG_CLEANUP = [
    "DROP TRIGGER IF EXISTS papers_fts_bulk_update",
    "DROP TRIGGER IF EXISTS papers_fts_bulk_delete",
    "DROP TABLE IF EXISTS fts_bulk_log",
]
FTS_SHADOW_TABLES = ("data", "idx", "docsize")

# Rows indexed per step at most: bounds how long a step holds its read snapshot of the main
# file (which keeps the writer's checkpoints from finishing) and the index's pending memory.
STEP_ROWS = 20_000
IDLE_WAIT_S = 0.05
# Checkpoints (copying the WAL into the database file) are the follower's job during a bulk
# load, off the writer's thread: after each step, a passive one (never blocks the writer). The
# follower reads the main file almost all the time, so the WAL could never start over and would
# grow to the size of the load; when it has grown past this, the follower checkpoints it back to
# nothing (TRUNCATE waits for the writer's transaction in flight, and the writer for it).
WAL_LIMIT_BYTES = 128 << 20
# FTS5 keeps new postings in memory up to `hashsize` (1 MB by default) before writing them out
# as a segment. 16 MB makes fewer, larger segments and less merging: ~20 % less CPU for the
# side build (measured at 100,000 papers: 4.5 vs 5.8 s) and 4 segments instead of 12. Stored in
# the side file's FTS5 config only, which is not copied: the main index keeps the default.
SIDE_HASHSIZE = 16 << 20

_INSERT_NEW = (
    "INSERT INTO main.papers_fts (rowid, title, abstract, author_names) "
    "SELECT rowid, title, abstract, author_names FROM src.papers "
    "WHERE rowid > ? AND rowid <= ? ORDER BY rowid"
)
# For each row changed since the last step, its earliest logged old text is the text the
# follower indexed (min(seq) makes SQLite take the other columns from that log row).
_DELETE_OLD = (
    "INSERT INTO main.papers_fts (papers_fts, rowid, title, abstract, author_names) "
    "SELECT 'delete', doc, title, abstract, author_names FROM ("
    "  SELECT doc, title, abstract, author_names, min(seq) FROM src.fts_bulk_log "
    "  WHERE seq > ? AND seq <= ? AND doc <= ? GROUP BY doc)"
)
_INSERT_CURRENT = (
    "INSERT INTO main.papers_fts (rowid, title, abstract, author_names) "
    "SELECT rowid, title, abstract, author_names FROM src.papers WHERE rowid IN ("
    "  SELECT doc FROM src.fts_bulk_log WHERE seq > ? AND seq <= ? AND doc <= ?)"
)


def side_path(db_path: Path) -> Path:
    return Path(f"{db_path}-fts-bulk")


def remove_side_file(db_path: Path) -> None:
    for suffix in ("", "-journal"):
        with contextlib.suppress(FileNotFoundError):
            Path(f"{side_path(db_path)}{suffix}").unlink()


class FtsFollower:
    """A thread that keeps a side-file FTS5 index in step with the papers of a bulk load."""

    def __init__(
        self,
        db_path: Path,
        fts_sql: str,
        on_complete: Callable[[sqlite3.Connection], Any] | None = None,
    ) -> None:
        """`on_complete(side_connection)` runs in the thread once the index is complete (while
        the caller copies it in); `finish()` returns what it returned."""
        self.db_path = db_path
        self.side = side_path(db_path)
        self._fts_sql = fts_sql
        self._on_complete = on_complete
        self._finish = threading.Event()
        self._abort = threading.Event()
        self._indexed = threading.Event()  # set when the thread writes no more
        self._complete = False
        self.error: BaseException | None = None
        self.result: Any = None
        self._thread = threading.Thread(target=self._run, name="paperfeed-fts-bulk", daemon=True)

    def start(self) -> None:
        remove_side_file(self.db_path)
        self._thread.start()

    def wait_indexed(self) -> bool:
        """Index what the load committed; True when the side index is complete."""
        self._finish.set()
        self._indexed.wait()
        return self._complete

    def finish(self) -> Any:
        """Wait for the thread to end; what `on_complete` returned (None if it did not run)."""
        self._finish.set()
        self._thread.join()
        return self.result

    def abort(self) -> None:
        """Stop without finishing (the store is closing); the side file is thrown away."""
        self._abort.set()
        self._finish.set()
        self._thread.join()
        remove_side_file(self.db_path)

    def connect(self) -> sqlite3.Connection:
        """The side file, with its empty FTS5 table, and the main file attached as `src`."""
        conn = sqlite3.connect(self.side, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA page_size=16384")
        conn.execute("PRAGMA journal_mode=OFF")  # scratch: a crash throws the file away
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("PRAGMA cache_size=-65536")
        conn.execute("PRAGMA busy_timeout=30000")
        conn.execute(self._fts_sql)
        conn.execute(
            "INSERT INTO papers_fts (papers_fts, rank) VALUES ('hashsize', ?)", (SIDE_HASHSIZE,)
        )
        conn.execute("ATTACH DATABASE ? AS src", (str(self.db_path),))
        return conn

    def _run(self) -> None:
        try:
            conn = self.connect()
        except BaseException as exc:  # the load falls back to a rebuild
            self.error = exc
            self._indexed.set()
            return
        try:
            wal = Path(f"{self.db_path}-wal")
            last_row = last_seq = 0
            while not self._abort.is_set():
                finishing = self._finish.is_set()  # read before the step: nothing comes after
                last_row, last_seq, progressed = self.step(conn, last_row, last_seq)
                mode = "TRUNCATE" if wal.exists() and wal.stat().st_size > WAL_LIMIT_BYTES else "PASSIVE"
                conn.execute(f"PRAGMA src.wal_checkpoint({mode})").fetchall()
                if finishing and not progressed:
                    self._complete = True
                    break
                if not progressed:
                    self._finish.wait(IDLE_WAIT_S)
        except BaseException as exc:
            self.error = exc
        finally:
            self._indexed.set()
        try:
            if self._complete and self._on_complete is not None:
                self.result = self._on_complete(conn)
        except sqlite3.Error:  # only a shortcut: the caller does without
            pass
        finally:
            conn.close()

    @staticmethod
    def step(conn: sqlite3.Connection, last_row: int, last_seq: int) -> tuple[int, int, bool]:
        """Index, in one snapshot of the main file, up to `STEP_ROWS` new rows and every row
        changed since the last step. Returns the new marks and whether anything was done."""
        conn.execute("BEGIN")
        try:
            max_row = conn.execute("SELECT coalesce(max(rowid), 0) FROM src.papers").fetchone()[0]
            max_seq = conn.execute("SELECT coalesce(max(seq), 0) FROM src.fts_bulk_log").fetchone()[0]
            if max_seq > last_seq:
                conn.execute(_DELETE_OLD, (last_seq, max_seq, last_row))
                conn.execute(_INSERT_CURRENT, (last_seq, max_seq, last_row))
            # When the newest rows were deleted (logged above) the mark moves back, so a row
            # that reuses their rowid is indexed as new.
            upto = min(max_row, last_row + STEP_ROWS)
            if upto > last_row:
                conn.execute(_INSERT_NEW, (last_row, upto))
            conn.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            raise
        progressed = upto != last_row or max_seq > last_seq
        if max_seq > last_seq:
            # The log is read: let it go (a short write to the main file), all but its last
            # entry, so that `seq` (max + 1) keeps growing.
            conn.execute("DELETE FROM src.fts_bulk_log WHERE seq < ?", (max_seq,))
        return upto, max(max_seq, last_seq), progressed


def swap_in(conn: sqlite3.Connection) -> bool:
    """Inside the caller's write transaction on the main file, with the side file attached as
    `side` (on a connection of its own, so no cached FTS5 state survives): replace the FTS5
    tables with the side file's. False, and nothing changed, when the side index does not hold
    exactly the papers."""
    papers = conn.execute("SELECT count(*) FROM main.papers").fetchone()[0]
    docs = conn.execute("SELECT count(*) FROM side.papers_fts_docsize").fetchone()[0]
    if papers != docs:
        return False
    for table in FTS_SHADOW_TABLES:
        conn.execute(f"DELETE FROM main.papers_fts_{table}")
        conn.execute(f"INSERT INTO main.papers_fts_{table} SELECT * FROM side.papers_fts_{table}")
    return True


def _side_term_stats(conn: sqlite3.Connection) -> str | None:
    """Term statistics of a bulk load's side index, computed on the follower's thread while the
    index is copied in (so `after_import` has nothing left to do)."""
    n = conn.execute("SELECT count(*) FROM main.papers_fts_docsize").fetchone()[0]
    return term_stats(conn, n) if n >= keyword.TERM_STATS_MIN_DOCS else None



class SQLiteBulk:
    """The bulk-load half of `SQLiteStore` (a mixin over its path, connection and meta table)."""

    path: Path
    _follower: FtsFollower | None

    if TYPE_CHECKING:  # the store's

        @property
        def conn(self) -> sqlite3.Connection: ...

        def transaction(self) -> AbstractContextManager[sqlite3.Connection]: ...
        def get_meta(self, key: str) -> str | None: ...
        def set_meta(self, key: str, value: str) -> None: ...

    def begin_bulk(self) -> None:
        """Stop indexing row by row for a large load: the keyword index is built on the other
        core, in a side file, while the load goes on (see this module's docstring). Until `end_bulk`
        (or `heal`) runs, new papers are stored but not yet found by keyword search. A load
        killed half-way leaves `fts_state` set, and the next import (or `heal()`) rebuilds the
        index from the table, so no crash leaves the index out of step."""
        self._bulk_lock = _try_lock(self.path.with_name(self.path.name + ".bulk.lock"))
        with self.transaction() as c:
            for name in FTS_TRIGGER_NAMES:
                c.execute(f"DROP TRIGGER IF EXISTS {name}")
            c.execute(LOG_TABLE)
            for sql in LOG_TRIGGERS:
                c.execute(sql)
            c.execute(
                "INSERT INTO meta (key, value) VALUES ('fts_state', 'rebuilding') "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value"
            )
        fts_sql = self.conn.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'papers_fts'"
        ).fetchone()[0]
        self.conn.execute("PRAGMA wal_autocheckpoint=0")  # the follower checkpoints meanwhile
        self._follower = FtsFollower(self.path, fts_sql, on_complete=_side_term_stats)
        self._follower.start()

    def end_bulk(self) -> None:
        """Bring the keyword index up to date and index row by row again, atomically: take the
        index the follower built when it is complete, else rebuild it from the table."""
        try:
            self._end_bulk()
        finally:
            lock, self._bulk_lock = getattr(self, "_bulk_lock", None), None
            if lock is not None:
                os.close(lock)

    def _end_bulk(self) -> None:
        follower, self._follower = self._follower, None
        self.conn.execute("PRAGMA wal_autocheckpoint=1000")
        if follower is not None:
            swapped = follower.wait_indexed() and self._swap_in_side_index()
            stats = follower.finish()
            remove_side_file(self.path)
            if swapped:
                if stats is not None:
                    self.set_meta("fts_common_terms", stats)
                return
        with self.transaction() as c:
            c.execute("INSERT INTO papers_fts(papers_fts) VALUES ('rebuild')")
            self._leave_bulk(c)
        remove_side_file(self.path)

    def _swap_in_side_index(self) -> bool:
        """Copy the side file's index in (a fresh connection: no FTS5 state cached)."""
        conn = sqlite3.connect(self.path, isolation_level=None)
        try:
            conn.execute("PRAGMA busy_timeout=30000")
            conn.execute("ATTACH DATABASE ? AS side", (str(side_path(self.path)),))
            conn.execute("BEGIN IMMEDIATE")
            try:
                if not swap_in(conn):
                    conn.execute("ROLLBACK")
                    return False
                self._leave_bulk(conn)
                conn.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                raise
            return True
        except sqlite3.Error:  # e.g. the side file is damaged: rebuild from the table instead
            return False
        finally:
            conn.close()

    @staticmethod
    def _leave_bulk(c: sqlite3.Connection) -> None:
        for sql in LOG_CLEANUP + FTS_TRIGGERS:
            c.execute(sql)
        c.execute("DELETE FROM meta WHERE key = 'fts_state'")

    def heal(self) -> bool:
        """Finish a bulk load that was interrupted; True when there was one. A load still running
        in another process holds the bulk lock and is left alone."""
        if self.get_meta("fts_state") != "rebuilding":
            return False
        lock = _try_lock(self.path.with_name(self.path.name + ".bulk.lock"))
        if lock is None:
            return False  # a live bulk load (or another healer)
        fd: int = lock
        try:
            if self.get_meta("fts_state") != "rebuilding":
                return False
            self._bulk_lock = lock
            self.end_bulk()  # releases the lock
            return True
        finally:
            if getattr(self, "_bulk_lock", None) is lock:
                self._bulk_lock = None
                os.close(fd)

    def interrupted_bulk(self) -> bool:
        """Whether a killed bulk load left the keyword index unfinished (no loader alive)."""
        if self.get_meta("fts_state") != "rebuilding":
            return False
        lock = _try_lock(self.path.with_name(self.path.name + ".bulk.lock"))
        if lock is None:
            return False
        os.close(lock)
        return True


def _try_lock(path: Path) -> int | None:
    """An exclusive flock on `path` (a descriptor; closing it releases), or None when held."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd
