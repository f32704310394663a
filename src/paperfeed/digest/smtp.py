"""Delivery over SMTP (smtplib).

`PAPERFEED_SMTP_URL`: `smtp://[user:pass@]host[:port]` (default port 25; STARTTLS whenever the
server offers it, and required when a password is given: it never travels in clear) or
`smtps://[user:pass@]host[:port]` (TLS from the first byte, default port 465). User and password
are percent-decoded. Certificates are verified against the system store, or
`PAPERFEED_SMTP_CAFILE`.

Failures are classified the SMTP way: a 5xx reply is permanent (the address or message is
refused: record it, do not retry); a 4xx reply, a refused connection, a timeout or a dropped
connection is transient (retry later).
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

from paperfeed.errors import InvalidInput

TIMEOUT = 30.0


class DeliveryError(Exception):
    def __init__(self, message: str, *, permanent: bool, connection: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.connection = connection  # the server is unreachable: later messages would fail too


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    implicit_tls: bool
    user: str | None
    password: str | None
    cafile: str | None = None
    timeout: float = TIMEOUT

    @classmethod
    def from_url(cls, url: str | None, cafile: str | None = None) -> SmtpSettings:
        if not url:
            raise InvalidInput("no SMTP server configured: set PAPERFEED_SMTP_URL (smtp://host:587)")
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise InvalidInput("PAPERFEED_SMTP_URL must look like smtp://user:pass@host:587 or smtps://host")
        try:
            port = parts.port
        except ValueError:
            raise InvalidInput("PAPERFEED_SMTP_URL has a bad port") from None
        implicit = parts.scheme == "smtps"
        return cls(
            host=parts.hostname,
            port=port or (465 if implicit else 25),
            implicit_tls=implicit,
            user=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            cafile=cafile,
        )


def classify(exc: BaseException) -> DeliveryError:
    """An smtplib/socket error as a permanent or transient DeliveryError."""
    if isinstance(exc, DeliveryError):
        return exc
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, text = next(iter(exc.recipients.values()))
        return DeliveryError(f"{code} {_text(text)}", permanent=code >= 500)
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return DeliveryError(f"connection lost: {exc}", permanent=False, connection=True)
    if isinstance(exc, smtplib.SMTPResponseException):
        code = exc.smtp_code
        return DeliveryError(f"{code} {_text(exc.smtp_error)}", permanent=code >= 500,
                             connection=code in (421,))
    if isinstance(exc, OSError | smtplib.SMTPException):  # refused, timeout, TLS, DNS
        return DeliveryError(f"{type(exc).__name__}: {exc}", permanent=False, connection=True)
    raise exc


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


class SmtpConnection:
    """One SMTP session, opened lazily and reopened after a failure; `send` raises
    DeliveryError."""

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None

    def _context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.settings.cafile)

    def _open(self) -> smtplib.SMTP:
        s = self.settings
        smtp: smtplib.SMTP
        if s.implicit_tls:
            smtp = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout, context=self._context())
        else:
            smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
        try:
            smtp.ehlo()
            if not s.implicit_tls:
                if smtp.has_extn("starttls"):
                    smtp.starttls(context=self._context())
                    smtp.ehlo()
                elif s.user:
                    raise DeliveryError(
                        "the SMTP server does not offer STARTTLS: refusing to send the password in clear",
                        permanent=False, connection=True,
                    )
            if s.user:
                smtp.login(s.user, s.password or "")
        except BaseException:
            smtp.close()
            raise
        return smtp

    def send(self, msg: EmailMessage, from_addr: str, to_addr: str) -> None:
        try:
            if self._smtp is None:
                self._smtp = self._open()
            self._smtp.send_message(msg, from_addr=from_addr, to_addrs=[to_addr])
        except BaseException as exc:
            error = classify(exc)
            if error.connection or not isinstance(exc, smtplib.SMTPRecipientsRefused):
                self.close()  # start the next message on a fresh session
            raise error from exc

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (OSError, smtplib.SMTPException):
                self._smtp.close()
            self._smtp = None

    def __enter__(self) -> SmtpConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
