"""The digest outbox on both backends (SQLite and a real PostgreSQL): the same portable SQL gives
exactly-once delivery, retries and topics over the papers that arrived since the last digest."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from digestdata import DAY, TRENDING, add_papers, later, mail_env, paper
from smtp_sink import SmtpSink

from paperfeed.config import Config
from paperfeed.library import Library


@pytest.fixture
def mail_any_lib(
    smtp: SmtpSink, monkeypatch: pytest.MonkeyPatch, home: Path, database_url: str
) -> Iterator[Library]:
    mail_env(monkeypatch, smtp.url)  # before the library reads its configuration
    with Library(Config.from_env(home=home, database_url=database_url)) as lib:
        add_papers(lib, TRENDING)
        yield lib


def test_exactly_once_retries_and_topics_on_both_backends(mail_any_lib: Library, smtp: SmtpSink) -> None:
    lib = mail_any_lib
    lib.subscribers.add("ada@example.org", ["sparse attention"], confirmed=True)
    lib.subscribers.add("busy@example.org", confirmed=True)
    lib.store.upsert([paper(500, "Sparse attention kernels"), paper(501, "Dense retrieval")])
    smtp.recorder.replies["busy@example.org"] = ["451 later"]

    first = lib.digests.send(DAY, now=later())
    assert (first.composed, first.sent, first.retrying) == (2, 1, 1)
    second = lib.digests.send(DAY, now=later())
    assert (second.composed, second.sent, second.pending) == (0, 1, 0)

    assert len(smtp.recorder.to("busy@example.org")) == 1
    [ada] = smtp.recorder.to("ada@example.org")
    text = ada.message.get_body(("plain",)).get_content()
    assert "Sparse attention kernels" in text and "Dense retrieval" not in text
