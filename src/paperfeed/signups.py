"""Sign-up on the web by email verification, so that sign-up does not tell which addresses have
accounts and nobody gets an account for an address they cannot read.

`Signups.request(email, password)` answers the same way for every address and does the same work
(argon2 of the password, one email): for a new address the email holds a link that finishes the
sign-up, for an address with an account it says so and points to the log-in page (the account is
left as it was). The link is a random secret (only its SHA-256 is stored), expires after
LINK_HOURS and works once; signing up again sends another link (within the per-client and
per-address limits of `paperfeed.ratelimit`, the address's counted per requester first, so a
stranger's repeats do not use up the owner's). Every unexpired link of an address works, each
with the password of its own sign-up, until one of them makes the account. The account is created
when the link's page is POSTed with the password chosen at sign-up: a link someone else asked
for cannot hand its reader an account whose password that someone knows. Until then the address
has no account, and a log-in with it fails like any wrong password.

Without a mail server (`PAPERFEED_SMTP_URL` unset) web sign-up is closed (`SignupClosed`): the
administrator makes accounts with `paperfeed users add`.
"""

from __future__ import annotations

import email.utils
import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

from paperfeed import ratelimit
from paperfeed.accounts import (
    Accounts,
    User,
    hash_password,
    insert_user,
    normalize_email,
    verify_password,
)
from paperfeed.config import Config
from paperfeed.digest.compose import mail_from, make_message_id
from paperfeed.digest.smtp import DeliveryError, SmtpConnection, SmtpSettings
from paperfeed.digest.subscriptions import check_email
from paperfeed.errors import InvalidInput
from paperfeed.ratelimit import RateLimiter

log = logging.getLogger("paperfeed.signups")
LINK_HOURS = 24


class SignupClosed(InvalidInput):
    """Web sign-up is closed on this instance: no mail server to verify addresses (HTTP 503)."""


class SignupLinkExpired(InvalidInput):
    """A sign-up link that is unknown, used, replaced by a newer one or out of date (HTTP 410)."""


@dataclass(frozen=True)
class PendingSignup:
    email: str
    next: str  # the local path to go to once signed in


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _iso(when: datetime) -> str:
    return when.isoformat(timespec="seconds")


_EXPIRED = "this sign-up link has expired or was already used: sign up again"


class Signups:
    """Sign-ups waiting for their email link (`lib.signups`)."""

    def __init__(self, config: Config, accounts: Accounts) -> None:
        self.config = config
        self.accounts = accounts
        self.db = accounts.db

    @property
    def open(self) -> bool:
        """Whether web sign-up is possible: only with a mail server to send the links."""
        return bool(self.config.smtp_url)

    def request(self, email: str, password: str, *, client: str = "", next: str = "/") -> None:
        """Email `email` a link that finishes its sign-up, or, if it has an account, a note
        saying so. Nothing in the answer or the work done tells the two apart. InvalidInput for
        a bad address or password, RateLimited when this client signed up too often, SignupClosed
        without a mail server."""
        if not self.open:
            raise SignupClosed("sign-up by email is not available on this instance")
        address = normalize_email(email)
        check_email(address)  # as every address we send to: no control characters in headers
        limiter = RateLimiter(self.db)
        requester = ratelimit.client_key(client)
        limiter.check(ratelimit.SIGNUPS_PER_CLIENT, requester)
        password_hash = hash_password(password)  # the same argon2 work for every address
        # Per requester and address first: a stranger repeating sign-ups for this address uses
        # up their own allowance for it, and only what passes counts towards the address's own.
        if not limiter.allow(ratelimit.SIGNUP_MAILS_PER_ADDRESS, f"{requester} {address}"):
            return  # enough emails to this address from this client: the same answer, nothing sent
        if not limiter.allow(ratelimit.SIGNUP_MAILS_PER_ADDRESS_ALL, address):
            return  # enough emails to this address for now
        token = secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        with self.db.transaction() as tx:
            # Links out of date go. The address's other links stay: each needs the password its
            # own sign-up chose, so a stranger's sign-up cannot cancel the owner's link.
            tx.execute("DELETE FROM signups WHERE expires_at < ?", (_iso(now),))
            known = tx.query_one("SELECT 1 FROM users WHERE email = ?", (address,)) is not None
            if known:
                token = ""
            else:
                tx.execute(
                    "INSERT INTO signups (token_hash, email, password_hash, next_path, created_at, "
                    "expires_at) VALUES (?, ?, ?, ?, ?, ?)",
                    (_hash(token), address, password_hash, next[:2000], _iso(now),
                     _iso(now + timedelta(hours=LINK_HOURS))),
                )
        if known:
            self._send(address, "Your paperfeed account", self._known_text())
        else:
            self._send(address, "Finish signing up to paperfeed", self._link_text(token))

    def pending(self, token: str) -> PendingSignup:
        """What a link is for, changing nothing (what opening it shows); SignupLinkExpired for
        a link that cannot be used."""
        row = self._row(token)
        return PendingSignup(row[0], row[2])

    def complete(self, token: str, password: str, *, client: str = "") -> tuple[User, str]:
        """Use a link: with the password chosen at sign-up, create the account (once: the link
        is spent in the same transaction). Returns the new user and where to go next. A wrong
        password counts as a failed log-in of that address (TooManyAttempts after a few)."""
        address, password_hash, next_path = self._row(token)
        self.accounts.check_failures(address, client)
        if not verify_password(password_hash, password):
            self.accounts.record_failure(address, client)
            raise InvalidInput("wrong password: enter the one you chose when signing up")
        with self.db.transaction() as tx:
            spent = tx.execute("DELETE FROM signups WHERE token_hash = ?", (_hash(token),))
            user = insert_user(tx, address, password_hash) if spent else None
            if user is not None:  # the address has its account: its other links are spent too
                tx.execute("DELETE FROM signups WHERE email = ?", (address,))
        if user is None:  # used meanwhile by a concurrent request, or the account exists
            raise SignupLinkExpired(_EXPIRED)
        return user, next_path

    def _row(self, token: str) -> tuple[str, str, str]:
        if not isinstance(token, str) or not 20 <= len(token) <= 100:
            raise SignupLinkExpired(_EXPIRED)
        row = self.db.query_one(
            "SELECT email, password_hash, next_path FROM signups WHERE token_hash = ? AND expires_at >= ?",
            (_hash(token), _iso(datetime.now(UTC))),
        )
        if row is None:
            raise SignupLinkExpired(_EXPIRED)
        return str(row[0]), str(row[1]), str(row[2])

    # -- the emails ------------------------------------------------------------------------------

    def _link_text(self, token: str) -> str:
        base = self.config.base_url
        return (
            f"Someone (hopefully you) asked for a paperfeed account for this address at {base}.\n\n"
            f"To finish signing up, open this link (it works once, for {LINK_HOURS} hours) and "
            f"enter the password you chose:\n{base}/signup/verify?token={token}\n\n"
            "If it was not you, ignore this email: no account is made.\n"
        )

    def _known_text(self) -> str:
        base = self.config.base_url
        return (
            f"Someone (hopefully you) tried to sign up at {base} with this address, which already "
            "has an account. Nothing was changed.\n\n"
            f"Log in: {base}/login\n\n"
            "Forgot your password? Ask the administrator of this paperfeed to set a new one. If "
            "it was not you, ignore this email.\n"
        )

    def _send(self, address: str, subject: str, text: str) -> None:
        settings = SmtpSettings.from_url(self.config.smtp_url, self.config.smtp_cafile)
        sender = mail_from(self.config.mail_from)
        msg = EmailMessage()
        msg["From"] = sender
        msg["To"] = address
        msg["Subject"] = subject
        msg["Date"] = email.utils.format_datetime(datetime.now(UTC))
        msg["Message-ID"] = make_message_id(sender)
        msg["Auto-Submitted"] = "auto-generated"
        msg.set_content(text)
        with SmtpConnection(settings) as smtp:
            try:
                smtp.send(msg, sender.addr_spec, address)
            except DeliveryError as exc:
                log.warning("sign-up email to %s failed: %s", address, exc)
                raise InvalidInput("the email could not be sent: try again later") from None
