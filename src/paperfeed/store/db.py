"""A small portable SQL layer for the feature tables (users, votes, subscriptions, outbox,
harvest log, ...), so each feature writes its SQL once for SQLite and PostgreSQL.

Papers, the keyword index and vectors are engine-specific and live behind `Store`; everything else
goes through `Database`:

- SQL uses `?` placeholders; the PostgreSQL backend rewrites them to `%s`.
- Portable DDL only: TEXT / INTEGER / BIGINT / REAL / BOOLEAN-as-INTEGER columns, TEXT primary keys
  made in Python (`new_id()`), `ON CONFLICT ... DO UPDATE/NOTHING`, `RETURNING`. No AUTOINCREMENT,
  no SERIAL, no engine functions; timestamps are ISO-8601 UTC text (`now_iso()`).
- Feature migrations are named and registered in `FEATURE_MIGRATIONS` (append-only); each backend
  applies those it has not applied yet, recorded in `schema_migrations`.
"""

from __future__ import annotations

import secrets
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any

Row = tuple[Any, ...]

# (name, portable DDL). Append new ones at the end; never edit one that has shipped.
FEATURE_MIGRATIONS: list[tuple[str, str]] = []


def new_id() -> str:
    return secrets.token_hex(12)


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class Database(ABC):
    """Portable access to the feature tables. `transaction()` yields a `Cursorish` whose
    `execute` runs inside one transaction, committed on success, rolled back on error."""

    dialect: str

    @abstractmethod
    def transaction(self) -> AbstractContextManager[Transaction]: ...

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement in its own transaction; returns the affected row count."""
        with self.transaction() as tx:
            return tx.execute(sql, params)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        with self.transaction() as tx:
            return tx.query(sql, params)

    def query_one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        rows = self.query(sql, params)
        return rows[0] if rows else None


class Transaction(ABC):
    @abstractmethod
    def execute(self, sql: str, params: Sequence[Any] = ()) -> int: ...

    @abstractmethod
    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]: ...

    def query_one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        rows = self.query(sql, params)
        return rows[0] if rows else None


def split_statements(script: str) -> Iterator[str]:
    """Statements of a portable migration (no triggers or functions: split on `;`)."""
    for statement in script.split(";"):
        if statement.strip():
            yield statement.strip()


# Harvesting: the harvest log, the per-source lease locks, and harvest state (the
# incremental mark and the resumption checkpoint of each OAI-PMH list).
FEATURE_MIGRATIONS.append(
    (
        "harvest: log, locks, state",
        """
        CREATE TABLE harvest_log (
            id TEXT PRIMARY KEY,
            source TEXT NOT NULL,
            params TEXT NOT NULL,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            status TEXT NOT NULL,
            counts TEXT NOT NULL,
            error TEXT
        );
        CREATE INDEX harvest_log_started ON harvest_log (started_at);
        CREATE TABLE harvest_locks (
            source TEXT PRIMARY KEY,
            owner TEXT NOT NULL,
            host TEXT NOT NULL,
            pid INTEGER NOT NULL,
            acquired_at TEXT NOT NULL,
            expires_at TEXT NOT NULL
        );
        CREATE TABLE harvest_state (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )
        """,
    )
)


# Accounts (accounts.py): users, server-side sessions, local upvotes (one row per user and paper,
# and a per-paper count kept in the same transaction), failed logins for rate limiting.
FEATURE_MIGRATIONS.append(
    (
        "accounts: users, sessions, votes",
        """
    CREATE TABLE users (
        id TEXT PRIMARY KEY,
        email TEXT NOT NULL UNIQUE,
        password_hash TEXT NOT NULL,
        is_admin INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL
    );
    CREATE TABLE sessions (
        id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL,
        csrf TEXT NOT NULL,
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL
    );
    CREATE INDEX sessions_user ON sessions(user_id);
    CREATE TABLE votes (
        user_id TEXT NOT NULL,
        paper_id TEXT NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (user_id, paper_id)
    );
    CREATE INDEX votes_paper ON votes(paper_id);
    CREATE TABLE paper_votes (
        paper_id TEXT PRIMARY KEY,
        day TEXT,
        count INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX paper_votes_day ON paper_votes(day);
    CREATE TABLE login_failures (
        id TEXT PRIMARY KEY,
        key TEXT NOT NULL,
        at TEXT NOT NULL
    );
    CREATE INDEX login_failures_key ON login_failures(key, at)
        """,
    )
)


# Digests (digest/): email subscribers and their topics (saved searches), and the digest outbox:
# one row per subscriber and digest day (the unique key makes sending exactly-once), holding the
# papers chosen (so nothing is sent twice) and the delivery state.
FEATURE_MIGRATIONS.append(
    (
        "digest: subscribers, topics, outbox",
        """
    CREATE TABLE subscribers (
        id TEXT PRIMARY KEY,
        email TEXT NOT NULL UNIQUE,
        name TEXT,
        status TEXT NOT NULL,
        trending INTEGER NOT NULL DEFAULT 1,
        frequency TEXT NOT NULL,
        created_at TEXT NOT NULL,
        confirmed_at TEXT,
        since TEXT NOT NULL,
        last_error TEXT,
        last_error_at TEXT
    );
    CREATE TABLE subscriber_topics (
        subscriber_id TEXT NOT NULL,
        position INTEGER NOT NULL,
        topic TEXT NOT NULL,
        PRIMARY KEY (subscriber_id, position)
    );
    CREATE TABLE digest_outbox (
        id TEXT PRIMARY KEY,
        subscriber_id TEXT NOT NULL,
        digest_date TEXT NOT NULL,
        status TEXT NOT NULL,
        content TEXT NOT NULL,
        cutoff TEXT NOT NULL,
        message_id TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT NOT NULL,
        error TEXT,
        created_at TEXT NOT NULL,
        sent_at TEXT,
        UNIQUE (subscriber_id, digest_date)
    );
    CREATE INDEX digest_outbox_due ON digest_outbox(status, next_attempt_at)
        """,
    )
)


# Rate limits (paperfeed.ratelimit): one row per counted event (a confirmation email, a sign-up),
# keyed by rule and address or client; old rows are deleted as keys are counted again.
FEATURE_MIGRATIONS.append(
    (
        "rate limits: events",
        """
    CREATE TABLE rate_events (
        id TEXT PRIMARY KEY,
        key TEXT NOT NULL,
        at TEXT NOT NULL
    );
    CREATE INDEX rate_events_key ON rate_events(key, at)
        """,
    )
)


# The personal library (paperfeed.personal): per-user collections and their papers, private notes,
# read marks, "not interested" dismissals, recommendations already sent (so none is sent twice),
# the hashed secret feed token, and the instance owner the CLI acts for. A DOI index on papers lets
# a reference-manager import match entries by DOI.
FEATURE_MIGRATIONS.append(
    (
        "personal: collections, notes, reads, dismissals, sent, feed tokens, owner",
        """
    CREATE TABLE collections (
        id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL,
        name TEXT NOT NULL,
        name_key TEXT NOT NULL,
        created_at TEXT NOT NULL,
        UNIQUE (user_id, name_key)
    );
    CREATE TABLE collection_papers (
        collection_id TEXT NOT NULL,
        user_id TEXT NOT NULL,
        paper_id TEXT NOT NULL,
        added_at TEXT NOT NULL,
        PRIMARY KEY (collection_id, paper_id)
    );
    CREATE INDEX collection_papers_user ON collection_papers(user_id, paper_id);
    CREATE TABLE paper_notes (
        user_id TEXT NOT NULL,
        paper_id TEXT NOT NULL,
        note TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (user_id, paper_id)
    );
    CREATE TABLE paper_reads (
        user_id TEXT NOT NULL,
        paper_id TEXT NOT NULL,
        read_at TEXT NOT NULL,
        PRIMARY KEY (user_id, paper_id)
    );
    CREATE TABLE dismissals (
        user_id TEXT NOT NULL,
        paper_id TEXT NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (user_id, paper_id)
    );
    CREATE TABLE recommendations_sent (
        user_id TEXT NOT NULL,
        paper_id TEXT NOT NULL,
        sent_at TEXT NOT NULL,
        PRIMARY KEY (user_id, paper_id)
    );
    CREATE TABLE feed_tokens (
        user_id TEXT PRIMARY KEY,
        token_hash TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL
    );
    CREATE TABLE instance_owner (
        slot INTEGER PRIMARY KEY,
        user_id TEXT NOT NULL
    );
    CREATE INDEX papers_doi_lower ON papers (lower(doi))
        """,
    )
)


# Per-user choices of the web and the digest (paperfeed.personal.settings): a user's home page,
# and which of their collections get a "For you" section in their email digest.
FEATURE_MIGRATIONS.append(
    (
        "personal: user settings, digest collections",
        """
    CREATE TABLE user_settings (
        user_id TEXT NOT NULL,
        name TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (user_id, name)
    );
    CREATE TABLE digest_collections (
        user_id TEXT NOT NULL,
        collection_id TEXT NOT NULL,
        PRIMARY KEY (user_id, collection_id)
    )
        """,
    )
)


# The reading room: papers members submitted to a daily list (one row per paper: a paper is
# submitted once; `day` is the list it went on), and comments under papers (soft-deleted, so a
# deleted comment's place in the thread and its anchor survive as "deleted").
FEATURE_MIGRATIONS.append(
    (
        "community: submissions, comments",
        """
    CREATE TABLE submissions (
        paper_id TEXT PRIMARY KEY,
        day TEXT NOT NULL,
        user_id TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE INDEX submissions_user_day ON submissions(user_id, day);
    CREATE TABLE comments (
        id TEXT PRIMARY KEY,
        paper_id TEXT NOT NULL,
        user_id TEXT NOT NULL,
        body TEXT NOT NULL,
        created_at TEXT NOT NULL,
        edited_at TEXT,
        deleted_at TEXT
    );
    CREATE INDEX comments_paper ON comments(paper_id, created_at);
    CREATE INDEX comments_user ON comments(user_id, created_at)
        """,
    )
)


# Personal access tokens (paperfeed.access_tokens) for the JSON API, MCP and the personal feeds:
# only the SHA-256 of each secret is stored; scope is "read" or "write" (read-write).
FEATURE_MIGRATIONS.append(
    (
        "access tokens",
        """
    CREATE TABLE access_tokens (
        id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL,
        name TEXT NOT NULL,
        scope TEXT NOT NULL,
        token_hash TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL,
        expires_at TEXT,
        last_used_at TEXT,
        revoked_at TEXT
    );
    CREATE INDEX access_tokens_user ON access_tokens(user_id)
        """,
    )
)


# Rate limits, atomically (paperfeed.ratelimit): one counter row per key (rule and address or
# client) with the time its window opened, checked and counted by one upsert; the per-event rows
# it replaces are dropped (their windows are at most a day long).
FEATURE_MIGRATIONS.append(
    (
        "rate limits: counters",
        """
    CREATE TABLE rate_counters (
        key TEXT PRIMARY KEY,
        opened_at TEXT NOT NULL,
        count INTEGER NOT NULL
    );
    DROP TABLE rate_events
        """,
    )
)


# Subscription generations (digest/subscriptions.py): a subscriber row counts the times it started
# again (unsubscribed or bounced, then subscribed anew); emailed links carry the generation they
# were made for, so an old link acts on nothing. Rows and links made before count as 0.
FEATURE_MIGRATIONS.append(
    (
        "digest: subscription generations",
        "ALTER TABLE subscribers ADD COLUMN generation INTEGER NOT NULL DEFAULT 0",
    )
)


# Sign-up by email (paperfeed.signups): one row per emailed link not used yet, holding the SHA-256
# of its secret, the address, the argon2 hash of the password chosen and where to go after. The
# account exists only once the link is used (the row is deleted in that transaction).
FEATURE_MIGRATIONS.append(
    (
        "accounts: email-verified sign-ups",
        """
    CREATE TABLE signups (
        token_hash TEXT PRIMARY KEY,
        email TEXT NOT NULL,
        password_hash TEXT NOT NULL,
        next_path TEXT NOT NULL,
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL
    );
    CREATE INDEX signups_email ON signups(email)
        """,
    )
)


# The recommender's analyses of saved and dismissed papers (paperfeed.terms): one row per paper,
# the term ids and counts as text, with a fingerprint of the text and analysis they came from.
FEATURE_MIGRATIONS.append(
    (
        "recommendations: analysed texts of saved papers",
        """
    CREATE TABLE paper_terms (
        paper_id TEXT PRIMARY KEY,
        fingerprint TEXT NOT NULL,
        terms TEXT NOT NULL
    )
        """,
    )
)


# Rows written once the store drops a paper's row when its text changes (its triggers): `kept`
# rows are current without a look at the text; older ones are checked against it.
FEATURE_MIGRATIONS.append(
    (
        "recommendations: analyses kept current by the store",
        """
    ALTER TABLE paper_terms ADD COLUMN kept INTEGER NOT NULL DEFAULT 0
        """,
    )
)
