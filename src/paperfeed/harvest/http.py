"""The HTTP client every harvester shares: a descriptive User-Agent with a contact address, gzip,
one connection, a minimum spacing between requests, and retries.

Retries: timeouts, connection errors, 429 and 5xx are retried with exponential backoff and
jitter; a `Retry-After` header (seconds or an HTTP date) is honoured, bounded by
`retry_after_max` so a server cannot park a harvest for hours. Other 4xx fail at once.

Spacing: `min_interval` seconds pass between the END of one response and the START of the next
request to the same host, so the server sees its requests at least that far apart whatever the
network does (arXiv asks for one request every 3 seconds over one connection). The spacing is
kept per host for the whole process, so back-to-back harvests (or two clients) stay polite too;
two processes are kept apart by the per-source harvest lock.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from paperfeed.version import __version__

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})

# host -> time.monotonic() at the end of the last response from it, for the whole process.
_last_end: dict[str, float] = {}
_host_locks: dict[str, threading.Lock] = {}
_registry_lock = threading.Lock()


def _host_lock(host: str) -> threading.Lock:
    with _registry_lock:
        return _host_locks.setdefault(host, threading.Lock())


class FetchError(Exception):
    """A request that failed for good (after retries, or a status that is not retried)."""

    def __init__(self, message: str, status: int | None = None, body: bytes = b"") -> None:
        super().__init__(message)
        self.status = status
        self.body = body


@dataclass(frozen=True)
class HttpSettings:
    contact: str | None = None
    timeout: float = 60.0
    max_attempts: int = 6
    backoff_base: float = 2.0
    backoff_max: float = 120.0
    retry_after_max: float = 300.0
    min_interval: float = 0.0
    # The largest response body accepted, decompressed (a gzip bomb stops there).
    max_body_bytes: int = 256 * 1024 * 1024


def user_agent(contact: str | None) -> str:
    """`paperfeed/0.1.0 (+https://...; mailto:me@example.org)`: who we are and how to reach us."""
    who = f"mailto:{contact}" if contact and "@" in contact and "://" not in contact else contact
    details = "; ".join(p for p in ("self-hosted paper discovery", who) if p)
    return f"paperfeed/{__version__} ({details})"


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header (delta-seconds or an HTTP date); None if absent
    or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class HttpClient:
    """One connection, spaced requests, retries. Thread-safe: requests to a host are serialised."""

    def __init__(
        self,
        settings: HttpSettings,
        *,
        sleep: Callable[[float], None] = time.sleep,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.settings = settings
        self._sleep = sleep
        self._log = log or (lambda _message: None)
        self.requests = 0  # attempts made, retries included
        self._client = httpx.Client(
            headers={"User-Agent": user_agent(settings.contact), "Accept-Encoding": "gzip"},
            timeout=settings.timeout,
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
            follow_redirects=True,
        )

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def get(self, url: str, params: Mapping[str, Any] | None = None) -> httpx.Response:
        """GET with retries; returns a 2xx response (body read) or raises FetchError."""
        host = httpx.URL(url).host
        with _host_lock(host):  # one request at a time per host, spaced
            return self._get(url, host, dict(params or {}))

    def _get(self, url: str, host: str, params: dict[str, Any]) -> httpx.Response:
        s = self.settings
        last_problem = "no attempt made"
        for attempt in range(1, s.max_attempts + 1):
            self._space(host)
            wait: float | None = None
            self.requests += 1
            try:
                response = self._fetch(url, params)
            except httpx.TimeoutException:
                last_problem = f"{url} timed out after {s.timeout:g} s"
            except httpx.TransportError as exc:
                last_problem = f"connection to {url} failed: {exc or type(exc).__name__}"
            else:
                if response.is_success:
                    return response
                last_problem = f"HTTP {response.status_code} from {url}"
                if response.status_code not in RETRY_STATUSES:
                    raise FetchError(last_problem, response.status_code, response.content[:4096])
                wait = retry_after_seconds(response.headers.get("Retry-After"))
            finally:
                _last_end[host] = time.monotonic()
            if attempt == s.max_attempts:
                break
            delay = min(wait, s.retry_after_max) if wait is not None else self._backoff(attempt)
            self._log(f"{last_problem}; retry {attempt}/{s.max_attempts - 1} in {delay:.1f} s")
            self._sleep(delay)
        raise FetchError(f"{last_problem} (gave up after {s.max_attempts} attempts)")

    def _fetch(self, url: str, params: dict[str, Any]) -> httpx.Response:
        """GET, the body read as it is decompressed and refused past `max_body_bytes`."""
        limit = self.settings.max_body_bytes
        with self._client.stream("GET", url, params=params) as response:
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > limit:
                    raise FetchError(
                        f"{url}: the response is over {limit:,} bytes (decompressed); raise "
                        "PAPERFEED_MAX_DOCUMENT_BYTES to accept it",
                        response.status_code,
                    )
        headers = [(k, v) for k, v in response.headers.multi_items()
                   if k.lower() not in ("content-encoding", "content-length", "transfer-encoding")]
        return httpx.Response(response.status_code, headers=headers, content=bytes(body),
                              request=response.request)

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with jitter: uniform between half and all of
        min(backoff_max, backoff_base * 2^(attempt-1)), so clients that failed together spread."""
        ceiling = min(self.settings.backoff_max, self.settings.backoff_base * 2 ** (attempt - 1))
        return random.uniform(ceiling / 2, ceiling)

    def _space(self, host: str) -> None:
        last = _last_end.get(host)
        if last is None or self.settings.min_interval <= 0:
            return
        while (remaining := last + self.settings.min_interval - time.monotonic()) > 0:
            self._sleep(remaining)
