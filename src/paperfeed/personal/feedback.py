"""A reader's other marks on papers: "not interested" (the negative feedback, which also hides the
paper from that reader everywhere), read/unread, private notes, and the recommendations already
sent (so no recommendation is ever sent twice). Every write is one transaction."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from paperfeed.personal.names import check_note
from paperfeed.store.db import Database, now_iso

_CHUNK = 500


class Feedback:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- not interested ---------------------------------------------------------------------

    def dismiss(self, user_id: str, paper_id: str) -> bool:
        """Mark a paper "not interested" and take it out of the reader's collections (a paper is
        liked or not, never both). True when it was not dismissed before."""
        with self.db.transaction() as tx:
            tx.execute(
                "DELETE FROM collection_papers WHERE user_id = ? AND paper_id = ?", (user_id, paper_id)
            )
            return bool(
                tx.execute(
                    "INSERT INTO dismissals (user_id, paper_id, created_at) VALUES (?, ?, ?) "
                    "ON CONFLICT (user_id, paper_id) DO NOTHING",
                    (user_id, paper_id, now_iso()),
                )
            )

    def undismiss(self, user_id: str, paper_id: str) -> bool:
        """Undo a dismissal; True when there was one."""
        return bool(
            self.db.execute(
                "DELETE FROM dismissals WHERE user_id = ? AND paper_id = ?", (user_id, paper_id)
            )
        )

    def dismissed(self, user_id: str) -> list[tuple[str, str]]:
        """(paper id, when) of the reader's dismissals, newest first."""
        rows = self.db.query(
            "SELECT paper_id, created_at FROM dismissals WHERE user_id = ? "
            "ORDER BY created_at DESC, paper_id",
            (user_id,),
        )
        return [(r[0], r[1]) for r in rows]

    def dismissed_ids(self, user_id: str) -> set[str]:
        return {r[0] for r in self.db.query("SELECT paper_id FROM dismissals WHERE user_id = ?", (user_id,))}

    def reset(self, user_id: str, *, saved: bool = False) -> dict[str, int]:
        """Forget what the reader taught: every dismissal, and with `saved` every saved paper too
        (the collections stay, empty). One transaction."""
        with self.db.transaction() as tx:
            dismissals = tx.execute("DELETE FROM dismissals WHERE user_id = ?", (user_id,))
            removed = (
                tx.execute("DELETE FROM collection_papers WHERE user_id = ?", (user_id,)) if saved else 0
            )
        return {"dismissals": dismissals, "saved": removed}

    # -- read / unread ------------------------------------------------------------------------

    def set_read(self, user_id: str, paper_id: str, read: bool = True) -> bool:
        """Mark read (or unread); returns whether anything changed."""
        if read:
            return bool(
                self.db.execute(
                    "INSERT INTO paper_reads (user_id, paper_id, read_at) VALUES (?, ?, ?) "
                    "ON CONFLICT (user_id, paper_id) DO NOTHING",
                    (user_id, paper_id, now_iso()),
                )
            )
        return bool(
            self.db.execute("DELETE FROM paper_reads WHERE user_id = ? AND paper_id = ?", (user_id, paper_id))
        )

    def read_ids(self, user_id: str, paper_ids: Sequence[str]) -> set[str]:
        return self._present("paper_reads", user_id, paper_ids)

    def _present(self, table: str, user_id: str, paper_ids: Sequence[str]) -> set[str]:
        found: set[str] = set()
        ids = list(dict.fromkeys(paper_ids))
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            rows = self.db.query(
                f"SELECT paper_id FROM {table} WHERE user_id = ? "
                f"AND paper_id IN ({','.join('?' * len(chunk))})",
                (user_id, *chunk),
            )
            found.update(r[0] for r in rows)
        return found

    # -- notes --------------------------------------------------------------------------------

    def set_note(self, user_id: str, paper_id: str, note: str) -> str:
        """Keep a private note on a paper (an empty note deletes it); returns the note kept."""
        text = check_note(note)
        if not text:
            self.db.execute("DELETE FROM paper_notes WHERE user_id = ? AND paper_id = ?", (user_id, paper_id))
            return ""
        self.db.execute(
            "INSERT INTO paper_notes (user_id, paper_id, note, updated_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (user_id, paper_id) DO UPDATE SET note = excluded.note, "
            "updated_at = excluded.updated_at",
            (user_id, paper_id, text, now_iso()),
        )
        return text

    def notes(self, user_id: str, paper_ids: Sequence[str]) -> dict[str, str]:
        out: dict[str, str] = {}
        ids = list(dict.fromkeys(paper_ids))
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            rows = self.db.query(
                f"SELECT paper_id, note FROM paper_notes WHERE user_id = ? "
                f"AND paper_id IN ({','.join('?' * len(chunk))})",
                (user_id, *chunk),
            )
            out.update({r[0]: r[1] for r in rows})
        return out

    # -- recommendations already sent ---------------------------------------------------------

    def mark_sent(self, user_id: str, paper_ids: Iterable[str]) -> int:
        """Record recommendations as sent (idempotent); returns how many were new."""
        now = now_iso()
        with self.db.transaction() as tx:
            return sum(
                tx.execute(
                    "INSERT INTO recommendations_sent (user_id, paper_id, sent_at) VALUES (?, ?, ?) "
                    "ON CONFLICT (user_id, paper_id) DO NOTHING",
                    (user_id, pid, now),
                )
                for pid in dict.fromkeys(paper_ids)
            )

    def sent_ids(self, user_id: str) -> set[str]:
        rows = self.db.query("SELECT paper_id FROM recommendations_sent WHERE user_id = ?", (user_id,))
        return {r[0] for r in rows}
