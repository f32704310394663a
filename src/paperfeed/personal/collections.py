"""A reader's named collections and the papers in them (a paper may be in several). Saving a
paper is the reader's positive feedback; every write is one transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from paperfeed.errors import InvalidInput, NotFound
from paperfeed.personal.names import check_collection_name, name_key
from paperfeed.records import Paper
from paperfeed.store.db import Database, Transaction, new_id, now_iso

MAX_COLLECTIONS = 1_000
MAX_PAPERS_PER_COLLECTION = 100_000
_CHUNK = 500


@dataclass(frozen=True, slots=True)
class Collection:
    id: str
    name: str
    created_at: str
    size: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "created_at": self.created_at, "size": self.size}


@dataclass(frozen=True, slots=True)
class Membership:
    """A saved paper: when it was first saved and the collections holding it."""

    paper_id: str
    added_at: str
    collections: tuple[str, ...]


class Collections:
    def __init__(self, db: Database) -> None:
        self.db = db

    def of_user(self, user_id: str) -> list[Collection]:
        rows = self.db.query(
            "SELECT c.id, c.name, c.created_at, count(cp.paper_id) FROM collections c "
            "LEFT JOIN collection_papers cp ON cp.collection_id = c.id "
            "WHERE c.user_id = ? GROUP BY c.id, c.name, c.created_at ORDER BY c.name_key",
            (user_id,),
        )
        return [Collection(r[0], r[1], r[2], int(r[3])) for r in rows]

    def find(self, user_id: str, name: str) -> Collection | None:
        key = name_key(name)
        row = self.db.query_one(
            "SELECT c.id, c.name, c.created_at, "
            "(SELECT count(*) FROM collection_papers cp WHERE cp.collection_id = c.id) "
            "FROM collections c WHERE c.user_id = ? AND c.name_key = ?",
            (user_id, key),
        )
        return Collection(row[0], row[1], row[2], int(row[3])) if row else None

    def get(self, user_id: str, name: str) -> Collection:
        found = self.find(user_id, name)
        if found is None:
            raise NotFound(f"no collection named {check_collection_name(name)!r}")
        return found

    def by_id(self, user_id: str, collection_id: str) -> Collection:
        """A collection of this user by id; NotFound for another user's (its existence is not
        told)."""
        for c in self.of_user(user_id):
            if c.id == collection_id:
                return c
        raise NotFound("no such collection")

    def create(self, user_id: str, name: str) -> Collection:
        clean = check_collection_name(name)
        with self.db.transaction() as tx:
            if tx.query_one(
                "SELECT id FROM collections WHERE user_id = ? AND name_key = ?", (user_id, name_key(clean))
            ):
                raise InvalidInput(f"a collection named {clean!r} already exists")
            self._insert(tx, user_id, clean)
        return self.get(user_id, clean)

    def _insert(self, tx: Transaction, user_id: str, clean: str) -> str:
        count = tx.query("SELECT count(*) FROM collections WHERE user_id = ?", (user_id,))[0][0]
        if count >= MAX_COLLECTIONS:
            raise InvalidInput(f"at most {MAX_COLLECTIONS} collections")
        cid = new_id()
        tx.execute(
            "INSERT INTO collections (id, user_id, name, name_key, created_at) VALUES (?, ?, ?, ?, ?)",
            (cid, user_id, clean, clean.casefold(), now_iso()),
        )
        return cid

    def _ensure(self, tx: Transaction, user_id: str, name: str) -> str:
        clean = check_collection_name(name)
        row = tx.query_one(
            "SELECT id FROM collections WHERE user_id = ? AND name_key = ?", (user_id, clean.casefold())
        )
        return row[0] if row else self._insert(tx, user_id, clean)

    def rename(self, user_id: str, name: str, new_name: str) -> Collection:
        current = self.get(user_id, name)
        clean = check_collection_name(new_name)
        with self.db.transaction() as tx:
            other = tx.query_one(
                "SELECT id FROM collections WHERE user_id = ? AND name_key = ?", (user_id, clean.casefold())
            )
            if other and other[0] != current.id:
                raise InvalidInput(f"a collection named {clean!r} already exists")
            tx.execute(
                "UPDATE collections SET name = ?, name_key = ? WHERE id = ? AND user_id = ?",
                (clean, clean.casefold(), current.id, user_id),
            )
        return self.get(user_id, clean)

    def delete(self, user_id: str, name: str) -> int:
        """Delete a collection; returns how many papers it held (they stay in others)."""
        current = self.get(user_id, name)
        with self.db.transaction() as tx:
            removed = tx.execute(
                "DELETE FROM collection_papers WHERE collection_id = ? AND user_id = ?", (current.id, user_id)
            )
            tx.execute("DELETE FROM collections WHERE id = ? AND user_id = ?", (current.id, user_id))
        return removed

    def add(self, user_id: str, name: str, paper_ids: Sequence[str]) -> tuple[Collection, int]:
        """Put papers (known ids) in the collection, creating it if needed; a paper already
        there stays as it was. Saving undoes a dismissal. Returns the collection and how many
        papers were new to it. One transaction: all or nothing."""
        ids = list(dict.fromkeys(paper_ids))
        now = now_iso()
        added = 0
        with self.db.transaction() as tx:
            cid = self._ensure(tx, user_id, name)
            size = tx.query("SELECT count(*) FROM collection_papers WHERE collection_id = ?", (cid,))[0][0]
            if size + len(ids) > MAX_PAPERS_PER_COLLECTION:
                raise InvalidInput(f"a collection holds at most {MAX_PAPERS_PER_COLLECTION:,} papers")
            for pid in ids:
                added += tx.execute(
                    "INSERT INTO collection_papers (collection_id, user_id, paper_id, added_at) "
                    "VALUES (?, ?, ?, ?) ON CONFLICT (collection_id, paper_id) DO NOTHING",
                    (cid, user_id, pid, now),
                )
            for start in range(0, len(ids), _CHUNK):
                chunk = ids[start : start + _CHUNK]
                tx.execute(
                    f"DELETE FROM dismissals WHERE user_id = ? AND paper_id IN ({','.join('?' * len(chunk))})",
                    (user_id, *chunk),
                )
        return self.get(user_id, name), added

    def remove(self, user_id: str, paper_id: str, name: str | None = None) -> int:
        """Take a paper out of one collection, or (name None) out of all; returns how many
        memberships went. Removing an unsaved paper is not an error (0)."""
        if name is None:
            return self.db.execute(
                "DELETE FROM collection_papers WHERE user_id = ? AND paper_id = ?", (user_id, paper_id)
            )
        current = self.get(user_id, name)
        return self.db.execute(
            "DELETE FROM collection_papers WHERE collection_id = ? AND user_id = ? AND paper_id = ?",
            (current.id, user_id, paper_id),
        )

    def memberships(self, user_id: str, name: str | None = None) -> list[Membership]:
        """The saved papers, of one collection or all, most recently saved first."""
        if name is not None:
            current = self.get(user_id, name)
            rows = self.db.query(
                "SELECT cp.paper_id, cp.added_at, c.name, c.id FROM collection_papers cp "
                "JOIN collections c ON c.id = cp.collection_id "
                "WHERE cp.user_id = ? AND cp.paper_id IN "
                "(SELECT paper_id FROM collection_papers WHERE collection_id = ?)",
                (user_id, current.id),
            )
        else:
            rows = self.db.query(
                "SELECT cp.paper_id, cp.added_at, c.name, c.id FROM collection_papers cp "
                "JOIN collections c ON c.id = cp.collection_id WHERE cp.user_id = ?",
                (user_id,),
            )
        first: dict[str, str] = {}
        names: dict[str, list[str]] = {}
        only = current.id if name is not None else None
        for pid, added, cname, cid in rows:
            if only is None or cid == only:  # a collection's own order: when it was added there
                first[pid] = min(first.get(pid, added), added)
            names.setdefault(pid, []).append(cname)
        out = [Membership(pid, first[pid], tuple(sorted(names[pid], key=str.casefold))) for pid in first]
        out.sort(key=lambda m: (m.added_at, m.paper_id), reverse=True)
        return out

    def saved_among(self, user_id: str, paper_ids: Sequence[str]) -> set[str]:
        """Which of `paper_ids` the user saved (in any collection): what a page's cards show."""
        found: set[str] = set()
        ids = list(dict.fromkeys(paper_ids))
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            rows = self.db.query(
                "SELECT DISTINCT paper_id FROM collection_papers WHERE user_id = ? "
                f"AND paper_id IN ({','.join('?' * len(chunk))})",
                (user_id, *chunk),
            )
            found.update(r[0] for r in rows)
        return found

    def saved_ids(self, user_id: str, name: str | None = None) -> list[str]:
        return [m.paper_id for m in self.memberships(user_id, name)]

    def saved_snapshot(self, user_id: str) -> SavedSnapshot:
        """Every saved paper of the user in one read, for several look-ups in a row (the
        digest's sections, one per collection)."""
        rows = self.db.query(
            "SELECT paper_id, added_at, collection_id FROM collection_papers WHERE user_id = ?",
            (user_id,),
        )
        return SavedSnapshot([(str(p), str(a), str(c)) for p, a, c in rows])


@dataclass
class SavedSnapshot:
    """(paper id, added at, collection id) of each of a user's saved papers, read once."""

    rows: list[tuple[str, str, str]]

    def saved_ids(self, collection_id: str | None = None) -> list[str]:
        """As `Collections.saved_ids`: the papers of one collection (by id) or of all, most
        recently saved first (a paper in several collections: when it was first saved there)."""
        first: dict[str, str] = {}
        for pid, added, cid in self.rows:
            if collection_id is None or cid == collection_id:
                first[pid] = min(first.get(pid, added), added)
        return [pid for pid, _ in sorted(first.items(), key=lambda t: (t[1], t[0]), reverse=True)]


@dataclass(slots=True)
class SavedPaper:
    """A paper of a reader's library as the faces list it."""

    paper: Paper
    added_at: str
    collections: tuple[str, ...]
    note: str | None = None
    read: bool = False

    def to_dict(self) -> dict[str, object]:
        return {
            **self.paper.to_dict(),
            "added_at": self.added_at,
            "collections": list(self.collections),
            "note": self.note,
            "read": self.read,
        }
