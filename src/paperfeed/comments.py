"""Discussion under papers: plain-text comments by members.

A comment is stored as the text the member wrote (never HTML); `render_body` turns it into
paragraphs with http(s) links, escaping everything else, so a `<script>` stays text. Members edit
and delete their own comments; admins delete anyone's. Deleting keeps the row (its text blanked)
so the thread keeps its order and a link to a deleted comment still lands on "deleted". Posting is
limited per member (`PAPERFEED_COMMENT_RATE` per 10 minutes, counted in the shared rate-limit
table) and in length (`PAPERFEED_COMMENT_MAX_CHARS`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from markupsafe import Markup, escape

from paperfeed.errors import InvalidInput, NotFound
from paperfeed.members import display_name
from paperfeed.ratelimit import RateLimited, RateLimiter, Rule
from paperfeed.store.db import Database, new_id, now_iso

if TYPE_CHECKING:
    from paperfeed.accounts import User

RATE_WINDOW = timedelta(minutes=10)
MAX_PARAGRAPHS = 200
_URL_RE = re.compile(r"https?://[^\s<>\"']+", re.I)
_TRAILING = ".,;:!?)]}'\""


class Forbidden(InvalidInput):
    """Changing another member's comment (HTTP 403)."""


@dataclass(frozen=True)
class Comment:
    id: str
    paper_id: str
    user_id: str
    author: str
    body: str
    created_at: str
    edited_at: str | None
    deleted: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "paper_id": self.paper_id, "author": self.author,
            "body": "" if self.deleted else self.body, "created_at": self.created_at,
            "edited_at": self.edited_at, "deleted": self.deleted,
        }


def clean_body(text: object, max_chars: int) -> str:
    """The text to store: line endings unified, control characters (but newlines and tabs)
    dropped, surrounding white space trimmed. Empty or over `max_chars` is InvalidInput."""
    if not isinstance(text, str):
        raise InvalidInput("write a comment")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = "".join(
        ch for ch in text if ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cf", "Cs")
    ).strip()
    if not text:
        raise InvalidInput("write a comment")
    if len(text) > max_chars:
        raise InvalidInput(f"a comment can be at most {max_chars:,} characters (this one has {len(text):,})")
    return text


def _linked(line: str) -> Markup:
    out: list[str] = []
    last = 0
    for m in _URL_RE.finditer(line):
        url = m.group(0)
        trail = len(url) - len(url.rstrip(_TRAILING))
        if trail:
            url = url[:-trail]
        out.append(str(escape(line[last : m.start()])))
        out.append(f'<a href="{escape(url)}" rel="nofollow ugc noopener">{escape(url)}</a>')
        last = m.start() + len(url)
    out.append(str(escape(line[last:])))
    return Markup("".join(out))


def render_body(text: str) -> Markup:
    """Paragraphs (blank lines) with line breaks, http(s) URLs as links; all else escaped."""
    paragraphs = [p for p in re.split(r"\n\s*\n", text) if p.strip()][:MAX_PARAGRAPHS]
    html = "".join(
        "<p>" + "<br>".join(str(_linked(line)) for line in p.strip("\n").split("\n")) + "</p>"
        for p in paragraphs
    )
    return Markup(html)


_COLUMNS = "c.id, c.paper_id, c.user_id, u.email, c.body, c.created_at, c.edited_at, c.deleted_at"


def _comment(row: Sequence[Any]) -> Comment:
    return Comment(
        id=row[0], paper_id=row[1], user_id=row[2], author=display_name(row[3] or ""),
        body="" if row[7] else row[4], created_at=row[5], edited_at=row[6], deleted=bool(row[7]),
    )


def local_comment_counts(db: Database, paper_ids: Sequence[str]) -> dict[str, int]:
    """Live (not deleted) local comments per paper."""
    counts: dict[str, int] = {}
    ids = list(dict.fromkeys(paper_ids))
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        rows = db.query(
            f"SELECT paper_id, count(*) FROM comments WHERE deleted_at IS NULL "
            f"AND paper_id IN ({marks}) GROUP BY paper_id",
            chunk,
        )
        counts.update({r[0]: int(r[1]) for r in rows})
    return counts


class Comments:
    def __init__(self, db: Database, max_chars: int, rate: int) -> None:
        self.db = db
        self.max_chars = max_chars
        self.rule = Rule(
            "comment-member", rate, RATE_WINDOW,
            f"you have posted {rate} comments in 10 minutes, the most a member may: wait a while",
        )

    def of_paper(self, paper_id: str) -> list[Comment]:
        rows = self.db.query(
            f"SELECT {_COLUMNS} FROM comments c LEFT JOIN users u ON u.id = c.user_id "
            "WHERE c.paper_id = ? ORDER BY c.created_at, c.id",
            (paper_id,),
        )
        return [_comment(r) for r in rows]

    def get(self, comment_id: str) -> Comment:
        row = self.db.query_one(
            f"SELECT {_COLUMNS} FROM comments c LEFT JOIN users u ON u.id = c.user_id WHERE c.id = ?",
            (str(comment_id)[:64],),
        )
        if row is None:
            raise NotFound("no such comment")
        return _comment(row)

    def add(self, user: User, paper_id: str, text: object) -> Comment:
        body = clean_body(text, self.max_chars)
        if not RateLimiter(self.db).allow(self.rule, user.id):
            raise RateLimited(self.rule.message)
        comment_id = new_id()
        # Timestamps with microseconds keep a quick thread in the order it was written.
        at = datetime.now(UTC).isoformat(timespec="microseconds")
        self.db.execute(
            "INSERT INTO comments (id, paper_id, user_id, body, created_at) VALUES (?, ?, ?, ?, ?)",
            (comment_id, paper_id, user.id, body, at),
        )
        return self.get(comment_id)

    def _own(self, user: User, comment_id: str) -> Comment:
        comment = self.get(comment_id)
        if comment.deleted:
            raise NotFound("that comment was deleted")
        if comment.user_id != user.id:
            raise Forbidden("you can change only your own comments")
        return comment

    def edit(self, user: User, comment_id: str, text: object) -> Comment:
        comment = self._own(user, comment_id)
        body = clean_body(text, self.max_chars)
        self.db.execute(
            "UPDATE comments SET body = ?, edited_at = ? WHERE id = ? AND deleted_at IS NULL",
            (body, now_iso(), comment.id),
        )
        return self.get(comment.id)

    def delete(self, user: User, comment_id: str) -> Comment:
        """Delete a comment: one's own, or any as an admin. The text is blanked for good."""
        comment = self.get(comment_id)
        if comment.deleted:
            raise NotFound("that comment was already deleted")
        if comment.user_id != user.id and not user.is_admin:
            raise Forbidden("you can delete only your own comments")
        self.db.execute(
            "UPDATE comments SET body = '', deleted_at = ? WHERE id = ?", (now_iso(), comment.id)
        )
        return self.get(comment.id)
