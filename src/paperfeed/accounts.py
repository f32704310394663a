"""Users, passwords, sessions, login rate limits and local upvotes.

Everything persists through the portable SQL layer (`store/db.py`, migration "accounts: users,
sessions, votes"), so it works the same on SQLite and PostgreSQL.

Upvotes. `Paper.upvotes` in the store is the count *observed* at the source (Hugging Face, an
import). Votes cast here are kept apart, one row per (user, paper) in `votes`, and a per-paper
local count in `paper_votes` that is updated in the same transaction. What every face shows is

    displayed upvotes = imported upvotes + local votes

(`Accounts.with_votes` adds them up), so a re-import that refreshes the HF count never loses or
double-counts a local vote. `paper_votes.day` copies the paper's day at vote time so that a listing
of a period can find the locally voted papers of that period without scanning all votes.

Sessions are server-side: the cookie holds a random token; the database holds only its SHA-256,
the user, a CSRF token and an expiry. Passwords are hashed with argon2id (argon2-cffi defaults).
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from paperfeed import feeds
from paperfeed.errors import InvalidInput, NotFound
from paperfeed.records import Paper
from paperfeed.store.base import Store
from paperfeed.store.db import Database, new_id, now_iso

SESSION_DAYS = 30
MIN_PASSWORD = 8
MAX_PASSWORD = 1024
# Failed logins allowed per email and per client address within the window.
MAX_FAILURES_PER_EMAIL = 5
MAX_FAILURES_PER_CLIENT = 20
FAILURE_WINDOW = timedelta(minutes=15)
OWNER_EMAIL = "owner@paperfeed.invalid"  # the CLI's account until the owner names another
_EMAIL_RE = re.compile(r"^[^@\s<>\"']{1,64}@[^@\s<>\"']{1,255}\.[^@\s<>\"']{1,63}$")

_hasher = PasswordHasher()
_dummy_hash: str | None = None


def _verify_dummy(password: str) -> None:
    """The argon2 work a wrong password costs for a known account, done for an unknown one, so
    the time of a failed login does not tell which addresses have accounts."""
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = _hasher.hash(secrets.token_urlsafe(16))
    with contextlib.suppress(VerifyMismatchError, VerificationError, InvalidHashError):
        _hasher.verify(_dummy_hash, password)

# More sections of a user's export: features append `(name, function(db, user) -> JSON-ready)`
# (e.g. the digests' subscriptions), and `Accounts.export` includes them.
EXPORT_SECTIONS: list[tuple[str, Callable[[Database, User], Any]]] = []


@dataclass(frozen=True, slots=True)
class User:
    id: str
    email: str
    is_admin: bool
    created_at: str


@dataclass(frozen=True, slots=True)
class Session:
    token: str  # what the cookie holds (only its hash is stored)
    user: User
    csrf: str


class TooManyAttempts(InvalidInput):
    """Login refused for a while after repeated failures (HTTP 429)."""


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def normalize_email(email: str) -> str:
    text = (email or "").strip().lower()
    if len(text) > 254 or not _EMAIL_RE.match(text):
        raise InvalidInput("enter a valid email address")
    return text


def _user(row: Sequence[Any]) -> User:
    return User(id=row[0], email=row[1], is_admin=bool(row[2]), created_at=row[3])


class Accounts:
    """The accounts service the Library exposes as `lib.accounts` (web and CLI use it)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.db = store.db

    # -- users -----------------------------------------------------------------------------

    def signup(self, email: str, password: str, *, admin: bool = False) -> User:
        """Create a user (an admin only when asked: the first admin is made on the command line,
        never by whoever signs up first on the web)."""
        user = self.signup_if_new(email, password, admin=admin)
        if user is None:
            raise InvalidInput("an account with this email already exists")
        return user

    def signup_if_new(self, email: str, password: str, *, admin: bool = False) -> User | None:
        """Create a user, or None when the address already has an account (after the same
        argon2 work either way). The web answers both alike, so sign-up does not tell which
        addresses have accounts."""
        email = normalize_email(email)
        if not isinstance(password, str) or not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
            raise InvalidInput(f"the password must have {MIN_PASSWORD} to {MAX_PASSWORD} characters")
        password_hash = _hasher.hash(password)
        uid = new_id()
        with self.db.transaction() as tx:
            if tx.query_one("SELECT id FROM users WHERE email = ?", (email,)):
                return None
            created = now_iso()
            tx.execute(
                "INSERT INTO users (id, email, password_hash, is_admin, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (uid, email, password_hash, int(admin), created),
            )
        return User(uid, email, bool(admin), created)

    def user(self, email_or_id: str) -> User:
        row = self.db.query_one(
            "SELECT id, email, is_admin, created_at FROM users WHERE id = ? OR email = ?",
            (email_or_id, (email_or_id or "").strip().lower()),
        )
        if row is None:
            raise NotFound(f"no such user: {email_or_id[:80]}")
        return _user(row)

    def users(self) -> list[User]:
        rows = self.db.query("SELECT id, email, is_admin, created_at FROM users ORDER BY created_at, email")
        return [_user(r) for r in rows]

    def has_admin(self) -> bool:
        return self.db.query("SELECT count(*) FROM users WHERE is_admin <> 0")[0][0] > 0

    def owner(self) -> User:
        """The instance owner the CLI acts for: recorded once (`instance_owner`). On first use it
        is the earliest admin, or, with none, a new admin account `OWNER_EMAIL` whose random
        password nobody knows (`Accounts.set_password` gives it one for the web)."""
        row = self.db.query_one(
            "SELECT u.id, u.email, u.is_admin, u.created_at FROM instance_owner o "
            "JOIN users u ON u.id = o.user_id WHERE o.slot = 1"
        )
        if row is not None:
            return _user(row)
        with self.db.transaction() as tx:
            admin = tx.query_one(
                "SELECT id FROM users WHERE is_admin = 1 ORDER BY created_at, email LIMIT 1"
            )
            if admin is None:
                tx.execute(
                    "INSERT INTO users (id, email, password_hash, is_admin, created_at) "
                    "VALUES (?, ?, ?, 1, ?) ON CONFLICT (email) DO NOTHING",
                    (new_id(), OWNER_EMAIL, _hasher.hash(secrets.token_urlsafe(32)), now_iso()),
                )
                admin = tx.query("SELECT id FROM users WHERE email = ?", (OWNER_EMAIL,))[0]
            tx.execute(
                "INSERT INTO instance_owner (slot, user_id) VALUES (1, ?) ON CONFLICT (slot) DO NOTHING",
                (admin[0],),
            )
        return self.owner()

    def set_admin(self, email: str, admin: bool = True) -> User:
        user = self.user(email)
        self.db.execute("UPDATE users SET is_admin = ? WHERE id = ?", (int(admin), user.id))
        return replace(user, is_admin=admin)

    def set_password(self, email: str, password: str) -> None:
        if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
            raise InvalidInput(f"the password must have {MIN_PASSWORD} to {MAX_PASSWORD} characters")
        user = self.user(email)
        with self.db.transaction() as tx:
            tx.execute("UPDATE users SET password_hash = ? WHERE id = ?", (_hasher.hash(password), user.id))
            tx.execute("DELETE FROM sessions WHERE user_id = ?", (user.id,))

    # -- login and sessions ----------------------------------------------------------------

    def login(self, email: str, password: str, client: str = "") -> Session:
        """Check the password and open a session. Refused (TooManyAttempts) after repeated
        failures for this email or this client address within FAILURE_WINDOW."""
        key_email = "email:" + (email or "").strip().lower()[:254]
        key_client = "client:" + (client or "")[:100]
        self._check_rate(key_email, MAX_FAILURES_PER_EMAIL)
        if client:
            self._check_rate(key_client, MAX_FAILURES_PER_CLIENT)
        row = self.db.query_one(
            "SELECT id, email, is_admin, created_at, password_hash FROM users WHERE email = ?",
            ((email or "").strip().lower(),),
        )
        ok = False
        if row is not None and isinstance(password, str) and len(password) <= MAX_PASSWORD:
            try:
                ok = _hasher.verify(row[4], password)
            except (VerifyMismatchError, VerificationError, InvalidHashError):
                ok = False
        elif isinstance(password, str) and len(password) <= MAX_PASSWORD:
            _verify_dummy(password)
        if not ok:
            with self.db.transaction() as tx:
                since = (datetime.now(UTC) - FAILURE_WINDOW).isoformat(timespec="seconds")
                tx.execute("DELETE FROM login_failures WHERE at < ?", (since,))
                for key in (key_email, key_client) if client else (key_email,):
                    tx.execute(
                        "INSERT INTO login_failures (id, key, at) VALUES (?, ?, ?)",
                        (new_id(), key, now_iso()),
                    )
            raise InvalidInput("wrong email or password")
        assert row is not None  # a verified password had its row
        user = _user(row)
        if _hasher.check_needs_rehash(row[4]):
            self.db.execute(
                "UPDATE users SET password_hash = ? WHERE id = ?", (_hasher.hash(password), user.id)
            )
        self.db.execute("DELETE FROM login_failures WHERE key = ?", (key_email,))
        return self.open_session(user)

    def _check_rate(self, key: str, limit: int) -> None:
        since = (datetime.now(UTC) - FAILURE_WINDOW).isoformat(timespec="seconds")
        count = self.db.query(
            "SELECT count(*) FROM login_failures WHERE key = ? AND at >= ?", (key, since)
        )[0][0]
        if count >= limit:
            raise TooManyAttempts("too many failed logins: try again in 15 minutes")

    def open_session(self, user: User) -> Session:
        token = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(24)
        now = datetime.now(UTC)
        with self.db.transaction() as tx:
            tx.execute("DELETE FROM sessions WHERE expires_at < ?", (now.isoformat(timespec="seconds"),))
            tx.execute(
                "INSERT INTO sessions (id, user_id, csrf, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
                (
                    _hash_token(token),
                    user.id,
                    csrf,
                    now.isoformat(timespec="seconds"),
                    (now + timedelta(days=SESSION_DAYS)).isoformat(timespec="seconds"),
                ),
            )
        return Session(token, user, csrf)

    def session(self, token: str | None) -> Session | None:
        """The live session a cookie token names, or None."""
        if not token or len(token) > 200:
            return None
        row = self.db.query_one(
            "SELECT u.id, u.email, u.is_admin, u.created_at, s.csrf, s.expires_at "
            "FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = ?",
            (_hash_token(token),),
        )
        if row is None or row[5] < now_iso():
            return None
        return Session(token, _user(row), row[4])

    def logout(self, token: str | None) -> None:
        if token:
            self.db.execute("DELETE FROM sessions WHERE id = ?", (_hash_token(token),))

    # -- votes -----------------------------------------------------------------------------

    def toggle_vote(self, user: User, paper: Paper) -> bool:
        """Upvote the paper, or take the vote back if the user already gave it. Returns whether
        the user's vote is now on."""
        day = paper.day.isoformat() if paper.day else None
        with self.db.transaction() as tx:
            removed = tx.execute(
                "DELETE FROM votes WHERE user_id = ? AND paper_id = ?", (user.id, paper.id)
            )
            if not removed:
                added = tx.execute(
                    "INSERT INTO votes (user_id, paper_id, created_at) VALUES (?, ?, ?) "
                    "ON CONFLICT (user_id, paper_id) DO NOTHING",
                    (user.id, paper.id, now_iso()),
                )
                if not added:  # a concurrent request of the same user voted first
                    return True
            tx.execute(
                "INSERT INTO paper_votes (paper_id, day, count) VALUES (?, ?, ?) "
                "ON CONFLICT (paper_id) DO UPDATE SET count = paper_votes.count + excluded.count, "
                "day = excluded.day",
                (paper.id, day, -1 if removed else 1),
            )
        return not removed

    def has_voted(self, user: User | None, paper_ids: Sequence[str]) -> set[str]:
        if user is None or not paper_ids:
            return set()
        marks = ",".join("?" * len(paper_ids))
        rows = self.db.query(
            f"SELECT paper_id FROM votes WHERE user_id = ? AND paper_id IN ({marks})",
            (user.id, *paper_ids),
        )
        return {r[0] for r in rows}

    def local_counts(self, paper_ids: Sequence[str]) -> dict[str, int]:
        counts: dict[str, int] = {}
        ids = list(dict.fromkeys(paper_ids))
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self.db.query(
                f"SELECT paper_id, count FROM paper_votes WHERE count <> 0 AND paper_id IN ({marks})",
                chunk,
            )
            counts.update({r[0]: int(r[1]) for r in rows})
        return counts

    def with_votes(self, papers: Sequence[Paper]) -> list[Paper]:
        """Copies of the papers whose `upvotes` include local votes (imported + local), and
        whose `comments` include local comments (imported count + live local comments)."""
        from paperfeed.comments import local_comment_counts

        ids = [p.id for p in papers]
        counts = self.local_counts(ids)
        talk = local_comment_counts(self.db, ids)
        if not counts and not talk:
            return list(papers)
        out = []
        for p in papers:
            if p.id in counts:
                p = replace(p, upvotes=(p.upvotes or 0) + counts[p.id])
            if p.id in talk:
                p = replace(p, comments=(p.comments or 0) + talk[p.id])
            out.append(p)
        return out

    def voted_between(self, start: date, end: date) -> dict[str, int]:
        rows = self.db.query(
            "SELECT paper_id, count FROM paper_votes WHERE count <> 0 AND day >= ? AND day <= ?",
            (start.isoformat(), end.isoformat()),
        )
        return {r[0]: int(r[1]) for r in rows}

    def listing(
        self,
        period: feeds.Period,
        *,
        sort: feeds.Sort = "published",
        limit: int | None = None,
        offset: int = 0,
        now: datetime | None = None,
    ) -> list[tuple[Paper, float]]:
        """`feeds.listing` with local votes counted, in the order and the scores as well.

        By upvotes: the store's top (offset + limit) by imported upvotes, plus the period's
        locally voted papers, re-ranked by displayed upvotes, is exactly the top of the period
        (a paper without local votes that is not in the store's top cannot outrank it)."""
        if sort not in feeds.SORTS:
            raise InvalidInput(f"sort must be one of {', '.join(feeds.SORTS)}, not {str(sort)[:40]!r}")
        voted = self.voted_between(period.start, period.end)
        if not voted:
            rows = feeds.listing(self.store, period, sort=sort, limit=limit, offset=offset, now=now)
            shown = self.with_votes([p for p, _ in rows])  # no votes: adds local comment counts
            return [(p, score) for p, (_, score) in zip(shown, rows, strict=True)]
        window = None if limit is None or sort == "trending" else offset + limit
        base = self.store.papers_between(period.start, period.end, limit=window)
        seen = {p.id for p in base}
        extra = self.store.get_many([pid for pid in voted if pid not in seen])
        papers = base + [
            p for p in extra.values() if p.day is not None and period.start <= p.day <= period.end
        ]
        papers = self.with_votes(papers)
        end = None if limit is None else offset + limit
        if sort == "published":
            papers.sort(key=lambda p: (-(p.upvotes or 0), -(p.day.toordinal() if p.day else 0), p.id))
            return [(p, float(p.upvotes or 0)) for p in papers[offset:end]]
        ref = feeds.reference_time(period.end, now)
        scored = sorted(
            ((p, feeds.trending_score(p, ref)) for p in papers),
            key=lambda ps: (-ps[1], -(ps[0].upvotes or 0), ps[0].id),
        )
        return scored[offset:end]

    # -- export ----------------------------------------------------------------------------

    def export(self, user: User) -> dict[str, Any]:
        """A user's own data as JSON-ready dicts (more sections join as features arrive)."""
        votes = self.db.query(
            "SELECT paper_id, created_at FROM votes WHERE user_id = ? ORDER BY created_at, paper_id",
            (user.id,),
        )
        data: dict[str, Any] = {
            "format": "paperfeed-user-export",
            "version": 1,
            "exported_at": now_iso(),
            "user": {"email": user.email, "is_admin": user.is_admin, "created_at": user.created_at},
            "upvotes": [{"paper_id": r[0], "voted_at": r[1]} for r in votes],
        }
        for name, section in EXPORT_SECTIONS:
            data[name] = section(self.db, user)
        return data
