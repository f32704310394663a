"""Send runs: compose the day's due digests into the outbox, then deliver what is pending.

`Digests.send(day)` takes the `digest` lease lock (a row in the database, shared with harvests'
`SourceLock`: portable across processes and hosts, and a holder killed on this host is noticed at
once), so two senders never run at once; a second one returns at once with `locked` set.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any

from paperfeed import feeds
from paperfeed.digest.compose import (
    Composer,
    DigestContent,
    cutoff_for,
    mail_from,
    make_message_id,
    render_confirmation,
    render_message,
)
from paperfeed.digest.foryou import ForYou
from paperfeed.digest.outbox import NewDigest, Outbox, OutboxRow
from paperfeed.digest.smtp import DeliveryError, SmtpConnection, SmtpSettings
from paperfeed.digest.subscriptions import Subscriber, Subscriptions
from paperfeed.digest.tokens import LinkExpired, Tokens
from paperfeed.digest.workers import (
    Job,
    OpenDigests,
    WorkerFailed,
    compose_in_workers,
    workers_for,
)
from paperfeed.errors import InvalidInput

if TYPE_CHECKING:
    from paperfeed.accounts import Accounts
    from paperfeed.config import Config
    from paperfeed.store.base import Store

log = logging.getLogger("paperfeed.digest")
LOCK_NAME = "digest"
RENEW_EVERY = 60.0  # seconds between lease renewals during a long run


@dataclass
class SendReport:
    date: str
    composed: int = 0
    empty: int = 0
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    cancelled: int = 0
    pending: int = 0
    locked: str | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        return (f"{self.date}: composed {self.composed} ({self.empty} with nothing new), sent "
                f"{self.sent}, retrying {self.retrying}, failed {self.failed}, cancelled "
                f"{self.cancelled}, still pending {self.pending}")


def parse_day(day: date | str | None) -> date:
    return feeds.parse_date(day, "date") if day else datetime.now(UTC).date()


class Digests:
    """Composing, previewing and sending digests (`lib.digests`): over the configuration (base
    URL, sender, SMTP), the store (papers, and the subscriber and outbox tables) and the accounts
    (displayed upvotes include local votes)."""

    def __init__(
        self, config: Config, store: Store, accounts: Accounts, for_you: ForYou | None = None,
        open_worker: OpenDigests | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.accounts = accounts
        self.for_you = for_you  # the personal library's sections (the Library plugs it in)
        # How a composing worker process opens its own Digests (the Library plugs it in);
        # without it, this process composes alone.
        self.open_worker = open_worker
        self.subscribers = Subscriptions(store.db)
        self.outbox = Outbox(store.db)
        self._tokens: Tokens | None = None

    @property
    def tokens(self) -> Tokens:
        if self._tokens is None:
            self._tokens = Tokens(self.config)
        return self._tokens

    # -- composing ---------------------------------------------------------------------------

    def compose(
        self,
        day: date | str | None = None,
        now: datetime | None = None,
        *,
        workers: int | None = None,
        renew: Callable[[], None] | None = None,
    ) -> tuple[int, int]:
        """Choose the papers of every digest due on `day` not composed yet, into the outbox.
        Returns (digests composed, of which empty). `workers`: processes that compose
        (`workers.workers_for`: None, the configured number or by default one per core for a
        large run; 1, this process alone); `renew` is called between batches (the send lease)."""
        day = parse_day(day)
        now = now or datetime.now(UTC)
        done = self.outbox.composed(day)
        subs = [s for s in self.subscribers.list("active") if s.due_on(day) and s.id not in done]
        if not subs:
            return 0, 0
        if self.for_you is not None:
            self.for_you.prepare()
        cutoffs = self.outbox.last_cutoffs(day)
        since = {s.id: max(cutoffs.get(s.id, s.since), s.since) for s in subs}
        after = min(since.values())
        sent = self.outbox.recently_sent(day)
        sender = mail_from(self.config.mail_from)
        record = self.for_you.record if self.for_you else None
        count = workers_for(workers if workers is not None else self.config.digest_workers or None,
                            len(subs))
        composed = empty = 0
        if count > 1 and self.open_worker is not None:
            jobs = [Job(s, since[s.id], frozenset(sent.get(s.id, ()))) for s in subs]
            cutoff = cutoff_for(now)
            try:
                for batch in compose_in_workers(
                    self.open_worker, self.config, day, after, now, jobs, count
                ):
                    digests = [NewDigest(sid, content, cutoff, make_message_id(sender), user_id)
                               for sid, content, user_id in batch]
                    self.outbox.enqueue(day, digests, record)
                    composed += len(digests)
                    empty += sum(d.content.empty for d in digests)
                    if renew:
                        renew()
            except WorkerFailed as exc:
                exc.composed, exc.empty = composed, empty
                raise
            return composed, empty
        composer = Composer(self.store, self.accounts, day, after, now)
        digests = []
        for s in subs:
            content, user_id = self.choose_for(composer, s, since[s.id], sent.get(s.id, set()))
            digests.append(NewDigest(s.id, content, composer.cutoff, make_message_id(sender), user_id))
            if renew:
                renew()
        self.outbox.enqueue(day, digests, record)
        return len(digests), sum(d.content.empty for d in digests)

    def choose_for(
        self, composer: Composer, sub: Subscriber, since: str, sent: set[str]
    ) -> tuple[DigestContent, str | None]:
        """The subscriber's digest: without the papers their account dismissed, and with the
        For you sections of the collections it chose (and that account's id), recommended from
        the papers that arrived since the subscriber's last digest, as the topics are."""
        if self.for_you is None:
            return composer.choose(sub, since, sent), None
        user_id, hidden = self.for_you.hidden(sub.email)
        content = composer.choose(sub, since, sent | hidden)
        if user_id is not None:
            content.for_you = self.for_you.sections(
                user_id, set(content.paper_ids) | sent, composer.arrivals_after(since)
            )
        return content, user_id

    def preview(
        self, email: str, day: date | str | None = None, now: datetime | None = None
    ) -> EmailMessage:
        """The digest `email` gets (or got) for `day`: the outbox's if composed, else composed
        now without being stored."""
        day = parse_day(day)
        sub = self.subscribers.get(email)
        row = self.outbox.find(sub.id, day)
        if row is not None:
            content, message_id = row.content, row.message_id
        else:
            since = max(self.outbox.last_cutoffs(day).get(sub.id, sub.since), sub.since)
            composer = Composer(self.store, self.accounts, day, since, now)
            sent = self.outbox.recently_sent(day, [sub.id]).get(sub.id, set())
            content, _ = self.choose_for(composer, sub, since, sent)
            message_id = make_message_id(mail_from(self.config.mail_from))
        return self.render(sub, day, content, message_id)

    def render(self, sub: Subscriber, day: date, content: DigestContent, message_id: str) -> EmailMessage:
        papers = self.store.get_many(content.paper_ids)
        voted = dict(zip(papers, self.accounts.with_votes(list(papers.values())), strict=True))
        return render_message(
            base_url=self.config.base_url, sender=mail_from(self.config.mail_from), sub=sub,
            day=day, content=content, papers=voted, message_id=message_id,
            unsubscribe_token=self.tokens.unsubscribe(sub.id, sub.generation),
        )

    # -- sending -----------------------------------------------------------------------------

    def send(
        self,
        day: date | str | None = None,
        *,
        progress: Callable[[str], None] | None = None,
        now: datetime | None = None,
        workers: int | None = None,
    ) -> SendReport:
        """Compose the day's digests and deliver every pending one (today's and retries).
        `now` (tests) stands for the clock: the arrivals cutoff and which retries are due;
        `workers`: the processes that compose (see `compose`)."""
        from paperfeed.harvest.locks import SourceLock, SourceLocked

        day = parse_day(day)
        report = SendReport(date=day.isoformat())
        settings = SmtpSettings.from_url(self.config.smtp_url, self.config.smtp_cafile)
        sender = mail_from(self.config.mail_from)
        lock = SourceLock(self.store.db, LOCK_NAME)
        try:
            lock.acquire()
        except SourceLocked as exc:
            report.locked = f"another digest send is running ({exc})"
            return report
        try:
            self.outbox.recover()
            now = now or datetime.now(UTC)
            started = renewed = time.monotonic()

            def renew() -> None:  # the lease, at most every RENEW_EVERY seconds
                nonlocal renewed
                if time.monotonic() - renewed > RENEW_EVERY:
                    lock.renew()
                    renewed = time.monotonic()

            try:
                report.composed, report.empty = self.compose(day, now, workers=workers, renew=renew)
            except WorkerFailed as exc:  # what was composed is in the outbox: send it
                report.error = str(exc)
                report.composed, report.empty = exc.composed, exc.empty
            # what this run enqueued is due too, however long composing took
            due_at = now + timedelta(seconds=time.monotonic() - started + 1)
            with SmtpConnection(settings) as smtp:
                for row in self.outbox.due(due_at):
                    renew()
                    outcome = self._deliver(smtp, sender.addr_spec, row, now)
                    setattr(report, outcome, getattr(report, outcome) + 1)
                    if progress:
                        progress(outcome)
                    if outcome == "retrying" and self._last_error_was_connection:
                        report.error = self._last_error
                        break  # the server is unreachable: the rest waits for the next run
        finally:
            lock.release()
        report.pending = self.outbox.pending_count()
        return report

    _last_error: str | None = None
    _last_error_was_connection = False

    def _deliver(self, smtp: SmtpConnection, from_addr: str, row: OutboxRow, now: datetime) -> str:
        self._last_error, self._last_error_was_connection = None, False
        sub = self.subscribers.find_id(row.subscriber_id)
        if sub is None or sub.status != "active":
            self.outbox.mark_failed(row.id, "the subscriber left before it was sent", "cancelled")
            return "cancelled"
        if not self.outbox.claim(row.id):
            return "cancelled"  # another sender took it (only if a lease expired mid-run)
        msg = self.render(sub, row.digest_date, row.content, row.message_id)
        try:
            smtp.send(msg, from_addr, sub.email)
        except DeliveryError as exc:
            self._last_error, self._last_error_was_connection = str(exc), exc.connection
            if exc.permanent:
                self.outbox.mark_failed(row.id, str(exc))
                self.subscribers.record_bounce(sub.id, str(exc))
                log.warning("digest to %s failed for good: %s", sub.email, exc)
                return "failed"
            retried = self.outbox.mark_retry(
                row.id, str(exc), row.attempts + 1, self.config.digest_retry_seconds, now
            )
            self.subscribers.record_error(sub.id, str(exc))
            log.info("digest to %s deferred: %s", sub.email, exc)
            return "retrying" if retried else "failed"
        self.outbox.mark_sent(row.id)
        return "sent"

    # -- subscribing -------------------------------------------------------------------------

    def subscribe(
        self,
        email: str,
        topics: list[str] = (),  # type: ignore[assignment]
        *,
        name: str | None = None,
        trending: bool = True,
        frequency: str = "weekdays",
        confirmed: bool = False,
        admin: bool = False,
    ) -> tuple[Subscriber, bool]:
        """Add or update a subscriber; unless confirmed (or already active), email it the
        double opt-in link. Returns (subscriber, whether a confirmation email went out).
        Only an admin (`admin=True`, the CLI) can change an active subscription. A stranger's
        request (the web) goes through `digest.requests`, rate-limited."""
        existing = self._find(email)
        if existing is not None and existing.status == "active" and not (confirmed or admin):
            return existing, False
        if not confirmed and not self.config.smtp_url and (existing is None or existing.status != "active"):
            raise InvalidInput(
                "no SMTP server configured (PAPERFEED_SMTP_URL) to send the confirmation email; "
                "an admin can add a subscriber with --confirmed"
            )
        sub = self.subscribers.add(email, topics, name=name, trending=trending,
                                   frequency=frequency, confirmed=confirmed)
        if sub.status == "active":
            return sub, False
        self.send_confirmation(sub)
        return sub, True

    def _find(self, email: str) -> Subscriber | None:
        from paperfeed.errors import NotFound

        try:
            return self.subscribers.get(email)
        except NotFound:
            return None

    def send_confirmation(self, sub: Subscriber) -> None:
        settings = SmtpSettings.from_url(self.config.smtp_url, self.config.smtp_cafile)
        sender = mail_from(self.config.mail_from)
        msg = render_confirmation(
            base_url=self.config.base_url, sender=sender, sub=sub,
            confirm_token=self.tokens.confirm(sub.id, sub.generation),
        )
        with SmtpConnection(settings) as smtp:
            try:
                smtp.send(msg, sender.addr_spec, sub.email)
            except DeliveryError as exc:
                raise InvalidInput(f"the confirmation email could not be sent: {exc}") from None

    def confirming(self, token: str) -> Subscriber:
        """The subscription a confirmation link is for, changing nothing (what opening the link
        shows). InvalidInput for a bad or expired token, LinkExpired when it is gone."""
        return self._linked(self.tokens.check_confirm(token), "confirmation")

    def unsubscribing(self, token: str) -> Subscriber:
        """The subscription an unsubscribe link is for, changing nothing."""
        return self._linked(self.tokens.check_unsubscribe(token), "unsubscribe")

    def confirm(self, token: str) -> Subscriber:
        sub = self.confirming(token)
        return self._still(self.subscribers.confirm(sub.id, sub.generation), sub.generation, "confirmation")

    def unsubscribe(self, token: str) -> Subscriber:
        sub = self.unsubscribing(token)
        if not self.subscribers.unsubscribe(sub.id, sub.generation):  # it started again meanwhile
            raise self._expired("unsubscribe")
        return self.subscribers.by_id(sub.id)

    def _linked(self, linked: tuple[str, int], kind: str) -> Subscriber:
        subscriber_id, generation = linked
        sub = self.subscribers.find_id(subscriber_id)
        if sub is None:
            raise self._expired(kind)
        return self._still(sub, generation, kind)

    def _still(self, sub: Subscriber, generation: int, kind: str) -> Subscriber:
        """`sub` if it is still the instance of the subscription a link was made for."""
        if sub.generation != generation:
            raise self._expired(kind)
        return sub

    @staticmethod
    def _expired(kind: str) -> LinkExpired:
        return LinkExpired(
            f"this {kind} link has expired: the subscription it was sent for has ended (it was "
            "removed, or ended and started again since), and nothing was changed"
        )
