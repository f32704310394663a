"""Harvesting arXiv over OAI-PMH: `ListRecords` paged by resumption token.

Incremental runs: after a complete list harvested up to now, the day the list began (the
server's `responseDate` on its first page) is kept as the source's mark; the next run asks
`from` that day. Datestamps are last-modification days, so the overlap of one day is re-read
and merged idempotently.

Crash safety: after each page is written, a checkpoint (the token, and the list's `from`/
`until`) is saved. A rerun with the same parameters resumes with the saved token; if the server
no longer knows it (`badResumptionToken`: tokens expire), the list is restarted from its `from`.
Either way every record is applied at least once, in list order, and applying a record twice
changes nothing, so the store ends as an uninterrupted harvest leaves it.
"""

from __future__ import annotations

import random
import re
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from paperfeed.harvest.run import HarvestAbort, HarvestContext
from paperfeed.sources.arxiv_oai import OaiError, OaiPage, parse_oai_page
from paperfeed.sources.base import SourceError

METADATA_PREFIXES = ("arXiv", "arXivRaw", "oai_dc")
PARSE_ATTEMPTS = 3  # an unreadable (e.g. truncated) page is fetched again this many times
MAX_LIST_RESTARTS = 3  # badResumptionToken mid-list: restart the list at most this often
_RESPONSE_DATE = re.compile(rb"<responseDate>\s*(\d{4}-\d{2}-\d{2})")


@dataclass(frozen=True)
class OaiParams:
    base_url: str
    set: str | None = None
    from_: date | None = None
    until: date | None = None
    metadata_prefix: str = "arXiv"

    @property
    def key(self) -> str:
        """Identifies the list in the harvest state: where, which set, which format."""
        return f"oai|{self.base_url}|{self.set or ''}|{self.metadata_prefix}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "base_url": self.base_url,
            "set": self.set,
            "from": self.from_.isoformat() if self.from_ else None,
            "until": self.until.isoformat() if self.until else None,
            "metadata_prefix": self.metadata_prefix,
        }


def harvest_oai(ctx: HarvestContext, params: OaiParams) -> None:
    mark_key, checkpoint_key = f"mark|{params.key}", f"checkpoint|{params.key}"
    old_mark = ctx.state.get(mark_key)
    start = params.from_.isoformat() if params.from_ else old_mark
    until = params.until.isoformat() if params.until else None
    if params.from_ is None and old_mark:
        ctx.note(f"incremental: from {old_mark}, the last complete harvest")

    token: str | None = None
    list_began: str | None = None
    checkpoint = ctx.state.get(checkpoint_key)
    if checkpoint and checkpoint.get("from") == start and checkpoint.get("until") == until:
        token, list_began = checkpoint["token"], checkpoint["began"]
        ctx.note(f"resuming an interrupted list at record {checkpoint.get('cursor') or '?'}")

    restarts, page_number = 0, 0
    while True:
        page_number += 1
        request = _request(params, start, until, token)
        try:
            page, data = _fetch_page(ctx, params.base_url, request, page_number)
        except OaiError as exc:
            if exc.code != "badResumptionToken" or token is None or restarts >= MAX_LIST_RESTARTS:
                raise
            restarts += 1
            ctx.note(f"page {page_number}: resumption token expired; restarted the list from "
                     f"{start or 'the beginning'}")
            token = None
            continue
        if token is None and list_began is None:
            list_began = _response_day(data)
        ctx.write(page.items, f"page {page_number}")
        ctx.tick(page.complete_list_size)
        token = page.resumption_token
        if token is None:
            break
        ctx.state.set(
            checkpoint_key,
            {"from": start, "until": until, "token": token, "began": list_began, "cursor": page.cursor},
        )
        ctx.lock.renew()

    # The harvest covers [start, now] without a gap from the old mark: move the mark.
    covers_from_mark = params.from_ is None or (old_mark is not None and start <= old_mark)
    if until is None and covers_from_mark and list_began:
        ctx.state.set(mark_key, list_began)
    ctx.state.delete(checkpoint_key)


def _request(params: OaiParams, start: str | None, until: str | None, token: str | None) -> dict[str, str]:
    if token is not None:
        return {"verb": "ListRecords", "resumptionToken": token}
    request = {"verb": "ListRecords", "metadataPrefix": params.metadata_prefix}
    if params.set:
        request["set"] = params.set
    if start:
        request["from"] = start
    if until:
        request["until"] = until
    return request


def _fetch_page(
    ctx: HarvestContext, url: str, request: dict[str, str], page_number: int
) -> tuple[OaiPage, bytes]:
    """Fetch and parse one page. A page that does not parse (cut off mid-way, garbled) is fetched
    again a few times before the harvest gives up; OAI-PMH errors are raised as they are."""
    for attempt in range(1, PARSE_ATTEMPTS + 1):
        data = ctx.client.get(url, request).content
        try:
            return parse_oai_page(data), data
        except OaiError:
            raise
        except SourceError as exc:
            if attempt == PARSE_ATTEMPTS:
                raise HarvestAbort(
                    f"page {page_number}: unreadable response after {attempt} attempts: {exc}"
                ) from exc
            time.sleep(random.uniform(0.5, 1.0) * ctx.client.settings.backoff_base)
    raise AssertionError("unreachable")


def _response_day(data: bytes) -> str:
    """The server's day at its response (its clock, not ours); today (UTC) if it gives none."""
    match = _RESPONSE_DATE.search(data[:2048])
    return match.group(1).decode() if match else datetime.now(UTC).date().isoformat()
