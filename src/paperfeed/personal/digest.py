"""The personal library's part of the email digest (`paperfeed.digest.foryou.ForYou`): for the
account with a subscriber's address, the papers it dismissed (kept out of every section) and a
"For you" section per collection it chose, recommended as the web's For you is (never a paper
saved, dismissed or already sent), recorded as sent in the outbox's own transaction."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from paperfeed.errors import NotFound
from paperfeed.store.db import now_iso

if TYPE_CHECKING:
    from paperfeed.accounts import Accounts
    from paperfeed.personal import Personal
    from paperfeed.store.db import Transaction

PER_COLLECTION = 5
Recommend = Callable[..., list[Any]]


class LibraryForYou:
    def __init__(
        self, accounts: Accounts, personal: Personal, recommend: Recommend,
        prepare: Callable[[], object] | None = None,
    ) -> None:
        self.accounts = accounts
        self.personal = personal
        self.recommend = recommend
        self._prepare = prepare

    def prepare(self) -> None:
        if self._prepare is not None:
            self._prepare()

    def hidden(self, email: str) -> tuple[str | None, set[str]]:
        try:
            user = self.accounts.user(email)
        except NotFound:
            return None, set()
        return user.id, self.personal.feedback.dismissed_ids(user.id)

    def sections(
        self, user_id: str, exclude: set[str], among: Sequence[str] | None = None
    ) -> list[tuple[str, list[tuple[str, list[str]]]]]:
        chosen = set(self.personal.settings.digest_collections(user_id))
        if not chosen:
            return []
        taken = set(exclude)
        out: list[tuple[str, list[tuple[str, list[str]]]]] = []
        snapshot = self.personal.snapshot(user_id)  # read once for the user's sections
        for c in snapshot.collections:
            if c.id not in chosen or not c.size:
                continue
            hits = self.recommend(collection=c.name, user=user_id,
                                  limit=PER_COLLECTION + len(taken), among=among, snapshot=snapshot)
            picked = [(h.paper.id, list(h.reasons)) for h in hits if h.paper.id not in taken][:PER_COLLECTION]
            taken.update(pid for pid, _ in picked)
            if picked:
                out.append((c.name, picked))
        return out

    def record(self, tx: Transaction, user_id: str, paper_ids: Iterable[str]) -> None:
        now = now_iso()
        for pid in dict.fromkeys(paper_ids):
            tx.execute(
                "INSERT INTO recommendations_sent (user_id, paper_id, sent_at) VALUES (?, ?, ?) "
                "ON CONFLICT (user_id, paper_id) DO NOTHING",
                (user_id, pid, now),
            )
