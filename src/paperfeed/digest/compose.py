"""What a digest holds and how it reads.

For a day D, a digest holds the top trending papers of the seven days up to D (the feeds'
trending score, local votes counted) and, per topic, the best matches among the papers that
arrived in the store since the subscriber's last digest (since confirming, for the first one).
No paper appears twice in a digest, and none that an earlier digest (within `SENT_MEMORY_DAYS`)
already sent. Choosing (`Composer`) is separate from rendering (`render_message`): the outbox
keeps the chosen ids, and the message is rendered from them when sent.
"""

from __future__ import annotations

import email.policy
import email.utils
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import quote

import jinja2

from paperfeed import feeds
from paperfeed.digest.subscriptions import Subscriber
from paperfeed.digest.topics import ArrivalIndex
from paperfeed.errors import InvalidInput
from paperfeed.records import Paper, is_withdrawn

if TYPE_CHECKING:
    from paperfeed.accounts import Accounts
    from paperfeed.store.base import Store

TRENDING_DAYS = 7
TRENDING_POOL = 60  # trending papers considered (before removing those already sent)
TRENDING_PER_DIGEST = 5
PER_TOPIC = 5
MAX_ARRIVALS = 20_000  # the newest arrivals a run considers for topics
SENT_MEMORY_DAYS = 30
ABSTRACT_CHARS = 300
# Arrivals of the last minutes go to the next digest: an import transaction stamps `added_at`
# before it commits, so a paper may become visible a little after its timestamp.
SETTLE = timedelta(minutes=10)

# Header lines may be 998 characters (RFC 5322). The email package folds at 78 and, for a
# header with a longer unbreakable word (the List-Unsubscribe URL), falls back to RFC 2047
# encoded-words, which mail clients do not read as a URL: allow the longer lines instead.
POLICY = email.policy.SMTP.clone(max_line_length=998)

_TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(Path(__file__).parent / "templates")),
    autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default_for_string=False),
    keep_trailing_newline=True,
    undefined=jinja2.StrictUndefined,
)


@dataclass
class DigestContent:
    """The papers of one digest: trending ids, then (topic, ids) per topic, then the reader's
    For you sections: (collection name, [(id, reasons)]) per chosen collection."""

    trending: list[str] = field(default_factory=list)
    topics: list[tuple[str, list[str]]] = field(default_factory=list)
    for_you: list[tuple[str, list[tuple[str, list[str]]]]] = field(default_factory=list)

    @property
    def recommended(self) -> list[str]:
        return [pid for _, items in self.for_you for pid, _ in items]

    @property
    def paper_ids(self) -> list[str]:
        return self.trending + [pid for _, ids in self.topics for pid in ids] + self.recommended

    @property
    def empty(self) -> bool:
        return not self.paper_ids

    def to_json(self) -> str:
        return json.dumps({"trending": self.trending, "topics": self.topics, "for_you": self.for_you})

    @classmethod
    def from_json(cls, text: str) -> DigestContent:
        data = json.loads(text)
        for_you = [(name, [(pid, list(reasons)) for pid, reasons in items])
                   for name, items in data.get("for_you", [])]
        return cls(list(data["trending"]), [(t, list(ids)) for t, ids in data["topics"]], for_you)


def cutoff_for(now: datetime) -> str:
    return (now - SETTLE).astimezone(UTC).isoformat(timespec="seconds")


class Composer:
    """Chooses the papers of every digest of one run: the trending list is computed once, the
    arrivals window is read and indexed once, and each distinct topic is ranked once."""

    def __init__(
        self, store: Store, accounts: Accounts, day: date, after: str, now: datetime | None = None
    ) -> None:
        self.day = day
        self.now = now or datetime.now(UTC)
        self.cutoff = cutoff_for(self.now)
        period = feeds.Period("week", day - timedelta(days=TRENDING_DAYS - 1), day)
        # Withdrawn papers are never mailed.
        self.trending = [
            p.id for p, _ in accounts.listing(period, sort="trending", limit=TRENDING_POOL)
            if not is_withdrawn(p)
        ]
        arrivals = [
            (p, added) for p, added in store.papers_added_between(after, self.cutoff, limit=MAX_ARRIVALS)
            if not is_withdrawn(p)
        ]
        self.index = ArrivalIndex([p for p, _ in arrivals])
        self.ids = [p.id for p, _ in arrivals]
        self.added = [added for _, added in arrivals]
        self._after: dict[str, list[str]] = {}

    def arrivals_after(self, since: str) -> list[str]:
        """Ids of the papers that arrived after `since`, newest first (what a subscriber whose
        last digest was cut off at `since` has not seen): one list per distinct `since`, shared
        by the subscribers who have it (the For you sections' window)."""
        found = self._after.get(since)
        if found is None:
            found = self._after[since] = [
                pid for pid, added in zip(self.ids, self.added, strict=True) if added > since
            ]
        return found

    def choose(self, sub: Subscriber, since: str, already_sent: Iterable[str] = ()) -> DigestContent:
        """The papers of `sub`'s digest: arrivals after `since` for its topics."""
        taken = set(already_sent)
        content = DigestContent()
        if sub.trending:
            for pid in self.trending:
                if pid not in taken:
                    content.trending.append(pid)
                    taken.add(pid)
                    if len(content.trending) == TRENDING_PER_DIGEST:
                        break
        for topic in sub.topics:
            chosen: list[str] = []
            for doc, _score in self.index.match(topic):
                pid = self.ids[doc]
                if self.added[doc] <= since or pid in taken:
                    continue
                chosen.append(pid)
                taken.add(pid)
                if len(chosen) == PER_TOPIC:
                    break
            content.topics.append((topic, chosen))
        return content


# -- rendering -----------------------------------------------------------------------------------


def paper_url(base_url: str, paper_id: str) -> str:
    return f"{base_url}/papers/{quote(paper_id, safe='/')}"


def _shorten(text: str, limit: int) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + " …"


def _item(base_url: str, paper: Paper) -> dict[str, Any]:
    names = [a.name for a in paper.authors]
    authors = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    return {
        "title": " ".join(paper.title.split()),
        "url": paper_url(base_url, paper.id),
        "authors": authors,
        "abstract": _shorten(paper.abstract, ABSTRACT_CHARS),
        "upvotes": paper.upvotes or 0,
        "day": paper.day.isoformat() if paper.day else "",
        "reasons": [],
    }


def mail_from(config_value: str) -> Address:
    """`PAPERFEED_MAIL_FROM` (`name <addr>` or `addr`) as an Address; refuses line breaks."""
    if any(c in config_value for c in "\r\n\0"):
        raise InvalidInput("PAPERFEED_MAIL_FROM cannot contain line breaks")
    name, addr = email.utils.parseaddr(config_value)
    if "@" not in addr:
        raise InvalidInput(f"PAPERFEED_MAIL_FROM is not an address: {config_value[:80]!r}")
    return Address(display_name=name, addr_spec=addr)


def make_message_id(sender: Address) -> str:
    return email.utils.make_msgid(domain=sender.domain or "localhost")


def render_message(
    *,
    base_url: str,
    sender: Address,
    sub: Subscriber,
    day: date,
    content: DigestContent,
    papers: dict[str, Paper],
    message_id: str,
    unsubscribe_token: str,
) -> EmailMessage:
    """The digest email: multipart/alternative (text, then HTML), with RFC 8058 one-click
    unsubscribe headers. Names and subjects go through `email.headerregistry`, so they are
    encoded, never pasted raw into a header."""
    def items(ids: list[str]) -> list[dict[str, Any]]:
        return [_item(base_url, papers[pid]) for pid in ids if pid in papers]

    def reasoned(picked: list[tuple[str, list[str]]]) -> list[dict[str, Any]]:
        return [{**_item(base_url, papers[pid]), "reasons": why} for pid, why in picked if pid in papers]

    sections = []
    if content.trending:
        sections.append({"title": "Trending", "topic": None, "papers": items(content.trending)})
    for topic, ids in content.topics:
        if ids:
            sections.append({"title": f"New on “{topic}”", "topic": topic, "papers": items(ids)})
    for name, picked in content.for_you:
        if picked:
            sections.append({"title": f"For you: {name}", "topic": None, "papers": reasoned(picked)})
    count = sum(len(cast(list[Any], s["papers"])) for s in sections)
    unsubscribe_url = f"{base_url}/unsubscribe?token={unsubscribe_token}"
    context = {
        "day": day.strftime("%A %d %B %Y"),
        "sections": sections,
        "topics": sub.topics,
        "unsubscribe_url": unsubscribe_url,
        "base_url": base_url,
        "frequency": "weekly" if sub.frequency == "weekly" else "every weekday",
    }
    msg = EmailMessage(policy=POLICY)
    msg["From"] = sender
    msg["To"] = Address(display_name=sub.name or "", addr_spec=sub.email)
    msg["Subject"] = f"paperfeed digest for {day.isoformat()}: {count} paper{'s' * (count != 1)}"
    msg["Date"] = email.utils.format_datetime(datetime.now(UTC))
    msg["Message-ID"] = message_id
    msg["List-Id"] = f"paperfeed digest <digest.{sender.domain or 'localhost'}>"
    msg["List-Unsubscribe"] = (
        f"<{unsubscribe_url}>, <mailto:{sender.addr_spec}?subject=unsubscribe%20{unsubscribe_token}>"
    )
    msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(_TEMPLATES.get_template("digest.txt").render(context))
    msg.add_alternative(_TEMPLATES.get_template("digest.html").render(context), subtype="html")
    return msg


def render_confirmation(
    *, base_url: str, sender: Address, sub: Subscriber, confirm_token: str
) -> EmailMessage:
    """The double opt-in email with its signed confirmation link."""
    context = {
        "confirm_url": f"{base_url}/subscribe/confirm?token={confirm_token}",
        "topics": sub.topics,
        "trending": sub.trending,
        "frequency": "weekly" if sub.frequency == "weekly" else "every weekday",
    }
    msg = EmailMessage(policy=POLICY)
    msg["From"] = sender
    msg["To"] = Address(display_name=sub.name or "", addr_spec=sub.email)
    msg["Subject"] = "Confirm your paperfeed digest subscription"
    msg["Date"] = email.utils.format_datetime(datetime.now(UTC))
    msg["Message-ID"] = make_message_id(sender)
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(_TEMPLATES.get_template("confirm.txt").render(context))
    msg.add_alternative(_TEMPLATES.get_template("confirm.html").render(context), subtype="html")
    return msg
