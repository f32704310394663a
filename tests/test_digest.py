"""Email digests delivered to a real SMTP server (aiosmtpd on loopback): what a digest holds,
how it reads (headers, both parts, links, escaping), and exactly-once delivery through the
outbox, with the server failing in the ways SMTP servers fail."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from digestdata import BASE_URL, DAY, TRENDING, add_papers, later, mail_env, paper
from smtp_sink import SmtpSink

import paperfeed
from paperfeed.errors import InvalidInput
from paperfeed.library import Library


@pytest.fixture
def mail_lib(home: Path, smtp: SmtpSink, monkeypatch: pytest.MonkeyPatch) -> Iterator[Library]:
    mail_env(monkeypatch, smtp.url)
    with paperfeed.open(home) as lib:
        add_papers(lib, TRENDING)
        yield lib


def links(text: str) -> list[str]:
    return re.findall(r"https?://[^\s\"<>]+", text)


def test_a_digest_is_text_and_html_with_trending_and_new_papers_on_each_topic(
    mail_lib: Library, smtp: SmtpSink
) -> None:
    mail_lib.subscribers.add("ada@example.org", ["diffusion models"], name="Ada", confirmed=True)
    # Arrivals after subscribing: two match the topic, one does not.
    add_papers(mail_lib, [
        paper(100, "Diffusion models for protein design", upvotes=1),
        paper(101, "Faster diffusion models", "We sample diffusion models in 4 steps."),
        paper(102, "A survey of graph databases"),
    ])
    report = mail_lib.digests.send(DAY, now=later())
    assert (report.composed, report.sent, report.failed) == (1, 1, 0)

    [received] = smtp.recorder.to("ada@example.org")
    msg = received.message
    assert msg.get_content_type() == "multipart/alternative"
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert str(msg["To"]) == "Ada <ada@example.org>"
    assert msg["From"].addresses[0].addr_spec == "digest@paperfeed.test"
    assert msg["Subject"] == f"paperfeed digest for {DAY}: 7 papers"
    # Trending first (the top five by score), then the topic's two new matches; no third paper.
    for body in (text, html):
        assert body.index("Trending paper number 0") < body.index("Trending paper number 4")
        assert "Trending paper number 5" not in body
        assert "Diffusion models for protein design" in body and "Faster diffusion models" in body
        assert "graph databases" not in body
        assert f"{BASE_URL}/papers/2611.00100" in links(body)
    assert f'<a href="{BASE_URL}/papers/2611.00000"' in html


def test_list_unsubscribe_headers_follow_rfc_8058(mail_lib: Library, smtp: SmtpSink) -> None:
    mail_lib.subscribers.add("ada@example.org", confirmed=True)
    mail_lib.digests.send(DAY)
    msg = smtp.recorder.to("ada@example.org")[0].message
    # Plain URLs in the raw header, as clients read them (not RFC 2047 encoded-words).
    raw = smtp.recorder.to("ada@example.org")[0].data.decode()
    header = re.search(r"^List-Unsubscribe: (.*)$", raw, re.MULTILINE).group(1)  # type: ignore[union-attr]
    https, mailto = re.findall(r"<([^>]+)>", header)
    assert https.startswith(f"{BASE_URL}/unsubscribe?token=")
    assert mailto.startswith("mailto:digest@paperfeed.test?subject=unsubscribe")
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert https in msg.get_body(("plain",)).get_content()  # the body links the same page
    assert msg["Message-ID"]


def test_paper_text_and_a_topic_with_html_in_it_are_escaped(mail_lib: Library, smtp: SmtpSink) -> None:
    topic = "<script>attention</script> heads"
    mail_lib.subscribers.add("ada@example.org", [topic], confirmed=True)
    add_papers(mail_lib, [paper(
        200, "Attention <b>is</b> all & more", "<img src=x onerror=alert(2)> attention heads",
        authors=("Eve <eve@evil.test>",),
    )])
    mail_lib.digests.send(DAY, now=later())
    msg = smtp.recorder.to("ada@example.org")[0].message
    html = msg.get_body(("html",)).get_content()
    assert "<script>" not in html and "<img" not in html and "<b>is" not in html
    assert "&lt;script&gt;attention&lt;/script&gt; heads" in html
    assert "Attention &lt;b&gt;is&lt;/b&gt; all &amp; more" in html
    assert "Eve &lt;eve@evil.test&gt;" in html
    # The text part carries the text as it is (it is not HTML), and no header got any of it.
    text = msg.get_body(("plain",)).get_content()
    assert "Attention <b>is</b> all & more" in text and topic in text
    assert set(msg.keys()) <= {
        "From", "To", "Subject", "Date", "Message-ID", "List-Id", "List-Unsubscribe",
        "List-Unsubscribe-Post", "Auto-Submitted", "Content-Type", "MIME-Version",
    }


def test_a_second_run_for_the_same_day_sends_nothing(mail_lib: Library, smtp: SmtpSink) -> None:
    for n in range(3):
        mail_lib.subscribers.add(f"reader{n}@example.org", confirmed=True)
    first = mail_lib.digests.send(DAY)
    second = mail_lib.digests.send(DAY)
    assert (first.composed, first.sent) == (3, 3)
    assert (second.composed, second.sent, second.pending) == (0, 0, 0)
    assert smtp.recorder.count() == 3


def test_the_next_digest_sends_no_paper_twice_and_only_new_arrivals(mail_lib: Library, smtp: SmtpSink) -> None:
    mail_lib.subscribers.add("ada@example.org", ["quantum"], confirmed=True)
    add_papers(mail_lib, [paper(300, "Quantum error correction")])
    mail_lib.digests.send(DAY, now=later())
    # It arrives after the first digest was composed (whose clock said `later()`).
    add_papers(mail_lib, [paper(301, "Quantum annealing at scale")], arrived=later(5))
    mail_lib.digests.send(DAY + timedelta(days=3), now=later(30))  # the next Monday

    first, second = (r.message.get_body(("plain",)).get_content() for r in smtp.recorder.to("ada@example.org"))
    assert "Quantum error correction" in first and "Quantum annealing" not in first
    assert "Quantum annealing at scale" in second and "Quantum error correction" not in second
    # Trending of the new week goes on where the last digest stopped: papers 5..9, not 0..4.
    assert "Trending paper number 0" in first and "Trending paper number 0" not in second
    assert "Trending paper number 5" in second


def test_an_address_refused_451_is_retried_on_the_next_run(mail_lib: Library, smtp: SmtpSink) -> None:
    mail_lib.subscribers.add("busy@example.org", confirmed=True)
    mail_lib.subscribers.add("ok@example.org", confirmed=True)
    smtp.recorder.replies["busy@example.org"] = ["451 4.7.1 Try again later"]
    first = mail_lib.digests.send(DAY)
    assert (first.sent, first.retrying, first.pending) == (1, 1, 1)
    assert "451" in (mail_lib.subscribers.get("busy@example.org").last_error or "")
    second = mail_lib.digests.send(DAY)
    assert (second.sent, second.retrying, second.pending) == (1, 0, 0)
    assert len(smtp.recorder.to("busy@example.org")) == 1
    assert len(smtp.recorder.to("ok@example.org")) == 1


def test_a_retry_waits_for_its_backoff(home: Path, smtp: SmtpSink, monkeypatch: pytest.MonkeyPatch) -> None:
    mail_env(monkeypatch, smtp.url)
    monkeypatch.setenv("PAPERFEED_DIGEST_RETRY_SECONDS", "600")
    with paperfeed.open(home) as lib:
        add_papers(lib, TRENDING)
        lib.subscribers.add("busy@example.org", confirmed=True)
        smtp.recorder.replies["busy@example.org"] = ["450 mailbox busy"]
        lib.digests.send(DAY)
        assert lib.digests.send(DAY).sent == 0  # not yet due
        assert lib.digests.send(DAY, now=later(11)).sent == 1  # 10 minutes later it is
    assert len(smtp.recorder.to("busy@example.org")) == 1


def test_a_550_is_permanent_recorded_and_shown(mail_lib: Library, smtp: SmtpSink) -> None:
    mail_lib.subscribers.add("gone@example.org", confirmed=True)
    mail_lib.subscribers.add("ok@example.org", confirmed=True)
    smtp.recorder.replies["gone@example.org"] = ["550 5.1.1 No such user"]
    report = mail_lib.digests.send(DAY)
    assert (report.sent, report.failed, report.pending) == (1, 1, 0)
    gone = mail_lib.subscribers.get("gone@example.org")
    assert gone.status == "bounced" and "550 5.1.1 No such user" in (gone.last_error or "")
    # No more attempts, nor digests, until an admin adds the address again.
    assert mail_lib.digests.send(DAY + timedelta(days=3)).composed == 1
    assert smtp.recorder.to("gone@example.org") == []


def test_an_unreachable_server_is_transient(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from smtp_sink import free_port

    mail_env(monkeypatch, f"smtp://127.0.0.1:{free_port()}")  # nobody listens there
    with paperfeed.open(home) as lib:
        add_papers(lib, TRENDING)
        lib.subscribers.add("a@example.org", confirmed=True)
        lib.subscribers.add("b@example.org", confirmed=True)
        report = lib.digests.send(DAY)
        assert (report.sent, report.retrying, report.pending) == (0, 1, 2)
        assert "ConnectionRefused" in (report.error or "")


@pytest.mark.parametrize(
    ("email", "name"),
    [
        ("ada@example.org\r\nBcc: victim@example.org", None),
        ("ada@example.org\nBcc: victim@example.org", None),
        ("ada@example.org", "Ada\r\nBcc: victim@example.org"),
        ("ada@example.org", "Ada\x00"),
        ("not an address", None),
        ("ada@example.org>, <victim@example.org", None),
    ],
)
def test_header_injection_in_an_address_or_name_is_refused(
    mail_lib: Library, email: str, name: str | None
) -> None:
    with pytest.raises(InvalidInput):
        mail_lib.subscribers.add(email, name=name, confirmed=True)
    assert mail_lib.subscribers.list() == []


def test_names_reach_headers_encoded(mail_lib: Library, smtp: SmtpSink) -> None:
    mail_lib.subscribers.add("ada@example.org", name='Ada "Countess", Lovelace: ümlaut', confirmed=True)
    mail_lib.digests.send(DAY)
    received = smtp.recorder.to("ada@example.org")[0]
    raw_headers = received.data.split(b"\r\n\r\n", 1)[0].decode("ascii")  # 7-bit clean
    assert "=?utf-8?" in raw_headers
    to = received.message["To"].addresses[0]
    assert (to.display_name, to.addr_spec) == ('Ada "Countess", Lovelace: ümlaut', "ada@example.org")
    assert received.rcpt_tos == ["ada@example.org"]


def test_weekdays_skip_weekends_and_weekly_is_mondays(mail_lib: Library, smtp: SmtpSink) -> None:
    mail_lib.subscribers.add("daily@example.org", confirmed=True)
    mail_lib.subscribers.add("weekly@example.org", confirmed=True, frequency="weekly")
    saturday, monday = DAY + timedelta(days=1), DAY + timedelta(days=3)
    assert mail_lib.digests.send(saturday).composed == 0
    assert mail_lib.digests.send(DAY).composed == 1
    assert mail_lib.digests.send(monday).composed == 2
    assert len(smtp.recorder.to("daily@example.org")) == 2
    assert len(smtp.recorder.to("weekly@example.org")) == 1


def test_pending_unsubscribed_and_topic_only_subscribers(mail_lib: Library, smtp: SmtpSink) -> None:
    mail_lib.subscribers.add("pending@example.org")
    left = mail_lib.subscribers.add("left@example.org", confirmed=True)
    mail_lib.subscribers.unsubscribe(left.id)
    mail_lib.subscribers.add("topics@example.org", ["nothing matches this"], trending=False, confirmed=True)
    report = mail_lib.digests.send(DAY)
    assert (report.composed, report.empty, report.sent) == (1, 1, 0)  # an empty digest is not sent
    assert smtp.recorder.count() == 0


def test_two_senders_never_run_at_once(mail_lib: Library, smtp: SmtpSink) -> None:
    from paperfeed.harvest.locks import SourceLock

    mail_lib.subscribers.add("ada@example.org", confirmed=True)
    with SourceLock(mail_lib.store.db, "digest"):  # another sender holds the lease
        report = mail_lib.digests.send(DAY)
    assert report.locked and "digest send is running" in report.locked
    assert (report.composed, report.sent, smtp.recorder.count()) == (0, 0, 0)
    assert mail_lib.digests.send(DAY).sent == 1  # once it is released


def test_preview_shows_the_digest_without_sending_or_storing_it(mail_lib: Library, smtp: SmtpSink) -> None:
    mail_lib.subscribers.add("ada@example.org", confirmed=True)
    msg = mail_lib.digests.preview("ada@example.org", DAY)
    assert "Trending paper number 0" in msg.get_body(("plain",)).get_content()
    assert smtp.recorder.count() == 0
    assert mail_lib.digests.send(DAY).sent == 1  # the preview did not use up the day


@pytest.mark.parametrize("mode", ["starttls", "smtps"])
def test_tls_with_a_verified_certificate(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    import ssl

    from smtp_sink import self_signed

    cert, key = self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    if mode == "starttls":  # smtp:// and a server that takes no mail before STARTTLS
        sink = SmtpSink(tls_context=context, require_starttls=True).start()
    else:  # smtps://: TLS from the first byte
        sink = SmtpSink(implicit_tls=context).start()
    try:
        mail_env(monkeypatch, sink.url)
        monkeypatch.setenv("PAPERFEED_SMTP_CAFILE", str(cert))
        with paperfeed.open(home) as lib:
            add_papers(lib, TRENDING)
            lib.subscribers.add("ada@example.org", confirmed=True)
            assert lib.digests.send(DAY).sent == 1
        assert len(sink.recorder.to("ada@example.org")) == 1
    finally:
        sink.stop()


def test_a_password_is_never_sent_without_tls(
    home: Path, smtp: SmtpSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    mail_env(monkeypatch, f"smtp://user:secret@127.0.0.1:{smtp.port}")  # the sink offers no STARTTLS
    with paperfeed.open(home) as lib:
        add_papers(lib, TRENDING)
        lib.subscribers.add("ada@example.org", confirmed=True)
        report = lib.digests.send(DAY)
    assert report.sent == 0 and "STARTTLS" in (report.error or "")
    assert smtp.recorder.count() == 0


def test_serve_schedule_sends_the_due_digests_at_the_configured_hour(
    mail_lib: Library, smtp: SmtpSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import UTC, datetime

    from paperfeed.cli.jobs import configured_jobs
    from paperfeed.config import Config
    from paperfeed.schedule import Scheduler

    monkeypatch.setenv("PAPERFEED_DIGEST_HOUR", "7")
    monkeypatch.setattr("paperfeed.cli.jobs.today", lambda: DAY)  # the run's UTC date
    mail_lib.subscribers.add("ada@example.org", confirmed=True)
    config = Config.from_env(home=mail_lib.config.home)
    [job] = [j for j in configured_jobs(config) if j.name == "email digests"]
    assert (job.at.hour, job.at.minute) == (7, 0)

    clock = [datetime(2026, 11, 20, 6, 59, tzinfo=UTC)]
    scheduler = Scheduler([job], clock=lambda: clock[0])
    assert scheduler.run_pending() == []
    clock[0] = datetime(2026, 11, 20, 7, 0, tzinfo=UTC)
    assert scheduler.run_pending() == ["email digests"]
    assert len(smtp.recorder.to("ada@example.org")) == 1
    assert scheduler.run_pending() == []  # not again until tomorrow 07:00


def test_topics_rank_arrivals_by_bm25_needing_every_word_or_all_but_one_of_a_long_topic() -> None:
    from paperfeed.digest.topics import ArrivalIndex

    papers = [
        paper(1, "Graph networks for molecules"),                      # 2 of 3 words
        paper(2, "Neural graph networks", "Graph neural networks."),   # all 3, twice
        paper(3, "Neural fields"),                                     # 1 of 3
        paper(4, "Graph neural network pruning"),                      # all 3 (plural folded)
        paper(5, "Transformers", "Graph neural networks in the abstract only."),
    ]
    index = ArrivalIndex(papers)
    ranked = [papers[doc].id for doc, _ in index.match("graph neural networks")]
    assert ranked[:2] == ["2611.00002", "2611.00004"]  # all words, the title weighs most
    assert set(ranked[2:]) == {"2611.00005", "2611.00001"} and ranked[2] == "2611.00005"
    assert "2611.00003" not in ranked
    assert [papers[d].id for d, _ in index.match("neural fields")] == ["2611.00003"]  # two words: both
    assert index.match("the of and") == [] and index.match("unknownword") == []
