"""Harvesting from local servers that behave like the real sources (see harvest_peers.py): an
OAI-PMH peer built on pyoai's server, an arXiv API serving Atom, a Hugging Face daily-papers
API; faults injected per request."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from harvest_peers import (
    ApiPeer,
    HfPeer,
    OaiPeer,
    Peer,
    arxiv_record,
    expire_tokens,
    hf_item,
    slow,
    status,
    truncated,
)

from paperfeed.config import Config, HarvestConfig
from paperfeed.errors import InvalidInput
from paperfeed.harvest.locks import SourceLock
from paperfeed.library import Library
from paperfeed.records import make_paper

FAST = HarvestConfig(
    arxiv_interval=0.0, timeout=0.5, attempts=4, backoff_base=0.02, retry_after_max=0.3
)
TODAY = datetime.now(UTC).date()


def open_library(home: Path, **harvest: object) -> Library:
    config = dataclasses.replace(
        Config.from_env(home=home), harvest=dataclasses.replace(FAST, **harvest),
        contact="curator@example.org",
    )
    return Library(config)


@pytest.fixture
def lib(home: Path) -> Iterator[Library]:
    with open_library(home) as library:
        yield library


def records(n: int = 25) -> list:
    """n papers in the `cs` set, and one deletion of a paper the store already holds."""
    return [arxiv_record(i) for i in range(n)] + [arxiv_record(900, deleted=True)]


def seed_doomed_paper(lib: Library) -> None:
    lib.store.upsert([make_paper(title="Withdrawn paper", arxiv_id="2401.00900", source="test")])


# -- OAI-PMH -----------------------------------------------------------------------------------

def test_an_oai_harvest_pages_through_the_list_and_applies_deletions(lib: Library) -> None:
    seed_doomed_paper(lib)
    with Peer(oai=OaiPeer(records(), page_size=10)) as peer:
        report = lib.harvest_arxiv(set="cs", base_url=f"{peer.url}/oai")

    assert report.ok, report.error
    assert report.summary() | {"requests": 0} == {
        "records": 26, "imported": 25, "updated": 0, "unchanged": 0, "deleted": 1, "rejected": 0,
        "requests": 0,
    }
    assert lib.get("2401.00007").title == "Paper number 7 on sparse attention"
    assert lib.get("2401.00900") is None
    pages = peer.of("/oai")
    assert [("resumptionToken" in r.params) for r in pages] == [False, True, True]
    assert pages[0].params["set"] == "cs" and pages[0].params["metadataPrefix"] == "arXiv"
    # Polite: who we are and how to reach us, and gzip.
    assert "paperfeed/" in pages[0].headers["User-Agent"]
    assert "mailto:curator@example.org" in pages[0].headers["User-Agent"]
    assert "gzip" in pages[0].headers["Accept-Encoding"]


def test_the_harvest_log_records_each_run_and_stats_show_the_last(lib: Library) -> None:
    with Peer(oai=OaiPeer(records(5), page_size=10)) as peer:
        lib.harvest_arxiv(base_url=f"{peer.url}/oai")
    [entry] = lib.harvest_log()
    assert entry["source"] == "arxiv" and entry["status"] == "ok" and entry["error"] is None
    assert entry["counts"]["imported"] == 5
    assert entry["params"]["base_url"].endswith("/oai")
    assert lib.stats()["harvests"]["arxiv"]["status"] == "ok"


def test_an_incremental_harvest_starts_from_the_day_of_the_last_complete_one(lib: Library) -> None:
    data = records(5)
    with Peer(oai=OaiPeer(data, page_size=10)) as peer:
        lib.harvest_arxiv(set="cs", base_url=f"{peer.url}/oai")
        data.append(arxiv_record(6, day=TODAY.isoformat(), title="Changed today"))
        second = lib.harvest_arxiv(set="cs", base_url=f"{peer.url}/oai")
        third = lib.harvest_arxiv(set="math", base_url=f"{peer.url}/oai")

    first_request, second_request, third_request = (r.params for r in peer.of("/oai"))
    assert "from" not in first_request
    assert second_request["from"] == TODAY.isoformat()  # the server's day at the first run
    assert second.summary()["imported"] == 1 and lib.get("2401.00006").title == "Changed today"
    assert "from" not in third_request  # each set keeps its own mark
    assert third.ok and third.summary()["records"] == 0  # noRecordsMatch is an empty harvest


def test_a_503_with_retry_after_is_honoured_up_to_the_configured_bound(home: Path) -> None:
    with open_library(home, retry_after_max=0.4) as lib, Peer(oai=OaiPeer(records(), 10)) as peer:
        peer.inject(status(503, retry_after="0.3"), when=lambda r: r.number == 2)  # unreadable
        peer.inject(status(503, retry_after="1"), when=lambda r: r.number == 3)
        peer.inject(status(503, retry_after="3600"), when=lambda r: r.number == 4)
        report = lib.harvest_arxiv(base_url=f"{peer.url}/oai")

    assert report.ok and report.summary()["imported"] == 25
    times = [r.at for r in peer.of("/oai")]
    assert times[3] - times[2] >= 0.4 * 0.99  # asked for 1 s: waited the bound, not less
    assert times[4] - times[3] >= 0.4 * 0.99  # asked for an hour: waited the bound, not an hour


def test_an_expired_resumption_token_restarts_the_list_from_its_datestamp(lib: Library) -> None:
    seed_doomed_paper(lib)
    oai = OaiPeer(records(), page_size=10)
    with Peer(oai=oai) as peer:
        peer.inject(expire_tokens(oai), when=lambda r: r.number == 3)
        report = lib.harvest_arxiv(from_="2024-01-01", base_url=f"{peer.url}/oai")

    assert report.ok, report.error
    assert any("resumption token expired" in n for n in report.notes)
    restarted = peer.of("/oai")[3].params
    assert "resumptionToken" not in restarted and restarted["from"] == "2024-01-01"
    assert lib.store.count() == 25 and lib.get("2401.00900") is None


def test_slow_responses_time_out_and_are_retried(lib: Library) -> None:
    with Peer(oai=OaiPeer(records(), 10)) as peer:
        peer.inject(slow(1.5), when=lambda r: r.number == 2)  # the client's timeout is 0.5 s
        report = lib.harvest_arxiv(base_url=f"{peer.url}/oai")
    assert report.ok and report.summary()["imported"] == 25
    assert len(peer.of("/oai")) == 4


def test_a_truncated_page_is_fetched_again(lib: Library) -> None:
    with Peer(oai=OaiPeer(records(), 10)) as peer:
        peer.inject(truncated, when=lambda r: r.number == 2)
        report = lib.harvest_arxiv(base_url=f"{peer.url}/oai")
    assert report.ok and report.summary()["imported"] == 25


def test_a_page_that_stays_truncated_fails_the_harvest_and_says_why(lib: Library) -> None:
    with Peer(oai=OaiPeer(records(), 10)) as peer:
        peer.inject(truncated, when=lambda r: r.number >= 2, times=100)
        report = lib.harvest_arxiv(base_url=f"{peer.url}/oai")
    assert not report.ok and "page 2: unreadable response" in report.error
    assert report.summary()["imported"] == 10  # the first page is kept
    assert lib.harvest_log()[0]["status"] == "failed"
    assert "unreadable" in lib.harvest_log()[0]["error"]


def test_malformed_records_are_reported_and_the_good_ones_imported(lib: Library) -> None:
    data = records(12)
    data[3] = arxiv_record(3, title="")  # no title
    data[11] = arxiv_record(11, created="the day after tomorrow")
    with Peer(oai=OaiPeer(data, 10)) as peer:
        report = lib.harvest_arxiv(base_url=f"{peer.url}/oai")

    assert report.ok and report.summary()["imported"] == 10
    assert [(r.where, "2401.000" in r.reason) for r in report.rejected] == [
        ("page 1, entry 4", True), ("page 2, entry 2", True),
    ]
    assert lib.harvest_log()[0]["counts"]["rejected"] == 2


def test_a_500_on_the_third_page_is_retried(lib: Library) -> None:
    with Peer(oai=OaiPeer(records(), 10)) as peer:
        peer.inject(status(500), when=lambda r: r.number == 3)
        report = lib.harvest_arxiv(base_url=f"{peer.url}/oai")
    assert report.ok and report.summary()["imported"] == 25


def test_a_lasting_500_fails_and_the_rerun_resumes_where_it_stopped(lib: Library) -> None:
    seed_doomed_paper(lib)
    with Peer(oai=OaiPeer(records(), 10)) as peer:
        peer.inject(status(500), when=lambda r: r.number >= 3, times=4)
        failed = lib.harvest_arxiv(base_url=f"{peer.url}/oai")
        assert not failed.ok and "HTTP 500" in failed.error and "gave up after 4" in failed.error
        assert lib.store.count() == 20 + 1

        again = lib.harvest_arxiv(base_url=f"{peer.url}/oai")

    assert again.ok and any("resuming" in n for n in again.notes)
    assert "resumptionToken" in peer.of("/oai")[6].params  # went on from the third page
    assert lib.store.count() == 25 and lib.get("2401.00900") is None
    assert [e["status"] for e in lib.harvest_log()] == ["ok", "failed"]


def test_an_unknown_set_is_a_failed_harvest_with_the_servers_message(lib: Library) -> None:
    with Peer(oai=OaiPeer(records(3), 10)) as peer:
        report = lib.harvest_arxiv(metadata_prefix="oai_dc", base_url=f"{peer.url}/oai")
    assert not report.ok and "cannotDisseminateFormat" in report.error


def test_bad_parameters_are_invalid_input(lib: Library) -> None:
    with pytest.raises(InvalidInput):
        lib.harvest_arxiv(from_="yesterday")
    with pytest.raises(InvalidInput):
        lib.harvest_arxiv(metadata_prefix="marc21")
    with pytest.raises(InvalidInput):
        lib.harvest_arxiv(base_url="ftp://example.org/oai")
    with pytest.raises(InvalidInput):
        lib.harvest_arxiv(from_="2024-02-01", until="2024-01-01")


# -- the per-source lock -----------------------------------------------------------------------

def test_two_harvests_of_one_source_never_overlap(lib: Library) -> None:
    with Peer(oai=OaiPeer(records(3), 10), hf=HfPeer({})) as peer, SourceLock(lib.store.db, "arxiv"):
        report = lib.harvest_arxiv(base_url=f"{peer.url}/oai")
        other_source = lib.harvest_hf(date="2024-01-02", endpoint=peer.url)
    assert not report.ok and "another arxiv harvest is running" in report.error
    assert peer.of("/oai") == []
    assert lib.harvest_log(source="arxiv")[0]["status"] == "failed"
    assert other_source.ok  # other sources are not blocked


def test_a_lock_whose_holder_died_or_expired_is_taken_over(lib: Library) -> None:
    db = lib.store.db
    db.execute(
        "INSERT INTO harvest_locks (source, owner, host, pid, acquired_at, expires_at) "
        "VALUES ('arxiv', 'dead', ?, 999999999, '2024-01-01T00:00:00+00:00', '2999-01-01T00:00:00+00:00')",
        (SourceLock(db, "x").host,),
    )
    db.execute(
        "INSERT INTO harvest_locks (source, owner, host, pid, acquired_at, expires_at) "
        "VALUES ('hf', 'elsewhere', 'another-host', 1, '2024-01-01T00:00:00+00:00', ?)",
        ((datetime.now(UTC) - timedelta(seconds=1)).isoformat(),),
    )
    with SourceLock(db, "arxiv"), SourceLock(db, "hf"):
        pass
    assert db.query("SELECT count(*) FROM harvest_locks") == [(0,)]


# -- the arXiv API -----------------------------------------------------------------------------

API_ENTRIES = {f"2402.{n:05d}": (f"Quantization trick {n}", "cs.LG") for n in range(7)} | {
    "2402.09999": ("Galaxies", "astro-ph.GA"),
}


def test_the_api_client_pages_a_query_one_request_per_interval_on_one_connection(home: Path) -> None:
    interval = 0.2
    with open_library(home, arxiv_interval=interval) as lib, Peer(api=ApiPeer(API_ENTRIES)) as peer:
        report = lib.harvest_arxiv_api(
            query="cat:cs.LG", max_results=50, page_size=3, base_url=f"{peer.url}/api/query"
        )
        by_id = lib.harvest_arxiv_api(
            ids=["2402.09999v2", "arXiv:2402.00001"], base_url=f"{peer.url}/api/query"
        )

    assert report.ok and report.summary()["imported"] == 7
    assert by_id.ok and by_id.summary() | {"requests": 1} == {
        "records": 2, "imported": 1, "updated": 0, "unchanged": 1, "deleted": 0, "rejected": 0,
        "requests": 1,
    }
    requests = peer.of("/api/query")
    assert [r.params.get("start") for r in requests] == ["0", "3", "6", None]
    assert requests[-1].params["id_list"] == "2402.09999,2402.00001"
    gaps = [b.at - a.at for a, b in zip(requests, requests[1:], strict=False)]
    assert min(gaps) >= interval  # server-side arrival times: never closer than the interval
    assert len({r.client_port for r in requests[:3]}) == 1  # one connection, kept alive
    assert lib.get("2402.00004").categories == ["cs.LG"]


def test_a_bad_api_query_fails_with_the_apis_message(lib: Library) -> None:
    with Peer(api=ApiPeer(API_ENTRIES)) as peer:
        report = lib.harvest_arxiv_api(query="ti:BAD(", base_url=f"{peer.url}/api/query")
    assert not report.ok and "incorrectly formatted query" in report.error


def test_the_api_needs_a_query_or_ids(lib: Library) -> None:
    with pytest.raises(InvalidInput):
        lib.harvest_arxiv_api()
    with pytest.raises(InvalidInput):
        lib.harvest_arxiv_api(ids=["not-an-id"])


# -- Hugging Face daily papers -----------------------------------------------------------------

def test_hf_harvest_adds_new_papers_and_updates_known_ones(lib: Library) -> None:
    days = {"2024-03-04": [hf_item(f"2403.{n:05d}", f"Daily paper {n}", "2024-03-04", n) for n in range(130)]}
    hf = HfPeer(days)
    with Peer(hf=hf) as peer:
        first = lib.harvest_hf(date="2024-03-04", endpoint=peer.url)
        days["2024-03-04"][5] = hf_item("2403.00005", "Daily paper 5", "2024-03-04", 99, org="acme")
        second = lib.harvest_hf(since="2024-03-03", until="2024-03-05", endpoint=peer.url)

    assert first.ok and first.summary()["imported"] == 130
    assert [r.params["p"] for r in peer.of("/api/daily_papers")][:2] == ["0", "1"]  # 100 a page
    assert second.ok and second.summary()["updated"] == 1 and second.summary()["unchanged"] == 129
    paper = lib.get("2403.00005")
    assert (paper.upvotes, paper.comments, paper.github_stars, paper.organization) == (99, 3, 198, "acme")
    assert sorted({r.params["date"] for r in peer.of("/api/daily_papers")}) == [
        "2024-03-03", "2024-03-04", "2024-03-05",
    ]


def test_hf_without_dates_refreshes_the_last_week(lib: Library) -> None:
    with Peer(hf=HfPeer({})) as peer:
        report = lib.harvest_hf(endpoint=peer.url)
    asked = sorted(r.params["date"] for r in peer.of("/api/daily_papers"))
    assert report.ok and asked == [(TODAY - timedelta(days=d)).isoformat() for d in range(6, -1, -1)]


def test_an_unreachable_source_fails_and_is_logged(lib: Library) -> None:
    report = lib.harvest_hf(date="2024-03-04", endpoint="http://127.0.0.1:9")
    assert not report.ok and "connection to http://127.0.0.1:9" in report.error
    assert lib.stats()["harvests"]["hf"]["status"] == "failed"


def test_the_web_status_line_says_when_a_harvest_failed(lib: Library) -> None:
    from fastapi.testclient import TestClient

    from paperfeed.web.app import create_app

    lib.harvest_hf(date="2024-03-04", endpoint="http://127.0.0.1:9")
    with TestClient(create_app(library=lib)) as client:
        page = client.get("/").text
    assert "Harvest hf:" in page and "failed — connection to http://127.0.0.1:9" in page
