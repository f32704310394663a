"""A stranger's subscription request (the web's form): whether it sends a confirmation email,
and what the answer may say.

Nobody can use up an address's confirmation emails for its owner. The emails to one address are
counted per requester first (a client address, an IPv6 /64), so a stranger repeating requests
for someone's address spends their own allowance for it; only what passes that counts towards the
address's own limits, one email per cooldown and a daily cap, which keep any flood's emails few.
While those hold an email back, a request for a pending subscription still records its choices
(topics, trending, frequency), and the link in any confirmation email already sent confirms them:
every link of a pending subscription works until the subscription ends.

The answer never depends on the address's subscription: a new, pending or active address gets the
same page, and a request for an active one changes nothing. Only a requester who asked for the
address before (within a day) is told more: when the latest confirmation email went out and when
they may ask for another.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from paperfeed import ratelimit
from paperfeed.digest.subscriptions import check_email, check_frequency, check_name, check_topics
from paperfeed.errors import InvalidInput, NotFound
from paperfeed.ratelimit import RateLimiter

if TYPE_CHECKING:
    from paperfeed.digest.send import Digests
    from paperfeed.store.db import Database

PER_CLIENT = ratelimit.CONFIRM_MAILS_PER_CLIENT
PER_REQUESTER = ratelimit.CONFIRM_MAILS_PER_ADDRESS
COOLDOWN = ratelimit.CONFIRM_MAIL_COOLDOWN
PER_ADDRESS = ratelimit.CONFIRM_MAILS_PER_ADDRESS_ALL


@dataclass(frozen=True)
class Reminder:
    """For a requester who asked for this address before, when nothing is sent this time."""

    sent_at: datetime  # the latest confirmation email to the address
    again_at: datetime  # when asking again can send another


@dataclass(frozen=True)
class Turn:
    due: bool  # a confirmation email may go out now
    mine: bool  # within this requester's allowance for the address
    reminder: Reminder | None = None


def take_turn(db: Database, requester: str, address: str, now: datetime | None = None) -> Turn:
    """Count one request by `requester` (a `ratelimit.client_key`) for `address`, and whether an
    email may go out. RateLimited when the requester asked too often (any addresses)."""
    now = now or datetime.now(UTC)
    limiter = RateLimiter(db)
    limiter.check(PER_CLIENT, requester, now=now)
    mine_key = f"{requester} {address}"
    asked = limiter.record(PER_REQUESTER, mine_key, now=now)
    mine = asked <= PER_REQUESTER.limit
    due = (
        mine
        and not limiter.exhausted(COOLDOWN, address, now=now)
        and not limiter.exhausted(PER_ADDRESS, address, now=now)
        and limiter.allow(COOLDOWN, address, now=now)
        and limiter.allow(PER_ADDRESS, address, now=now)
    )
    if due or asked == 1:
        return Turn(due, mine)  # a first request is told nothing it could not tell itself
    last = limiter.last_window(COOLDOWN, address)  # opened by the latest email
    if last is None:
        return Turn(due, mine)
    again = [last.closes_at]
    for rule, key in ((PER_REQUESTER, mine_key), (PER_ADDRESS, address)):
        window = limiter.last_window(rule, key)
        if window is not None and window.count >= rule.limit and window.closes_at > now:
            again.append(window.closes_at)
    return Turn(due, mine, Reminder(last.opened_at, max(again)))


def request(
    digests: Digests,
    email: str,
    topics: list[str],
    *,
    name: str | None = None,
    trending: bool = True,
    frequency: str = "weekdays",
    client: str = "",
    now: datetime | None = None,
) -> Reminder | None:
    """Subscribe `email` as a stranger asks (`client`: the requester's IP address): email the
    double opt-in link when the limits allow. The reminder to show, if any (see the module).
    InvalidInput for bad input or without a mail server, RateLimited for a client that asked too
    often."""
    address = check_email(email)
    check_name(name)
    check_topics(list(topics))
    check_frequency(frequency)
    if not digests.config.smtp_url:
        raise InvalidInput("no SMTP server configured (PAPERFEED_SMTP_URL) to send the confirmation email")
    turn = take_turn(digests.store.db, ratelimit.client_key(client), address, now)
    try:
        status = digests.subscribers.get(address).status
    except NotFound:
        status = None
    if status == "active":
        return turn.reminder  # knowing an address is not enough to change its subscription
    if turn.due or (status == "pending" and turn.mine):
        # A pending subscription keeps its generation: the links already sent confirm this.
        sub = digests.subscribers.add(address, topics, name=name, trending=trending, frequency=frequency)
        if turn.due:
            digests.send_confirmation(sub)
    return turn.reminder
