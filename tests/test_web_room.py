"""The reading room as an HTTP client sees it (the real app and store, FastAPI's TestClient):
in-place forms answering JSON, a signed-out vote carried through log-in (and only from a
genuine form), what cards and paper pages show of a paper, readable period titles, the front
page filled to a screenful, undated papers under their own heading, and the CSP for thumbnails.
The browser side is in test_browser_room.py."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import webdata
from fastapi.testclient import TestClient

from paperfeed import feeds
from paperfeed.library import Library
from paperfeed.web.app import create_app

SAMPLE_DIR = Path(__file__).resolve().parent.parent / "src" / "paperfeed" / "sample"
JSON = {"accept": "application/json"}


@pytest.fixture
def web_lib(any_lib: Library, tmp_path: Path) -> Library:
    return webdata.build(any_lib, tmp_path / "data")


@pytest.fixture
def client(web_lib: Library) -> Iterator[TestClient]:
    with TestClient(create_app(library=web_lib), follow_redirects=False) as c:
        yield c


def csrf_of(page: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    assert match
    return match.group(1)


def sign_up(client: TestClient, email: str = "ada@example.org", next_path: str = "/") -> str:
    form = client.get("/signup").text
    r = client.post(
        "/signup", data={"csrf": csrf_of(form), "email": email, "password": "correct horse", "next": next_path}
    )
    assert r.status_code == 303, r.text
    return r.headers["location"]


def upvotes(client: TestClient, paper_id: str) -> int:
    return client.get(f"/api/papers/{paper_id}").json()["upvotes"]


# -- in-place forms ---------------------------------------------------------------------------


def test_an_upvote_asked_for_as_json_answers_json_and_the_plain_form_a_redirect(client: TestClient) -> None:
    sign_up(client)
    token = csrf_of(client.get("/").text)
    r = client.post("/papers/2502.00007/upvote", data={"csrf": token, "next": "/"}, headers=JSON)
    assert r.status_code == 200 and r.json() == {"ok": True, "on": True, "count": 4}
    r = client.post("/papers/2502.00007/upvote", data={"csrf": token, "next": "/"}, headers=JSON)
    assert r.json() == {"ok": True, "on": False, "count": 3}
    r = client.post("/papers/2502.00007/upvote", data={"csrf": token, "next": "/daily?date=2025-02-06"})
    assert r.status_code == 303 and r.headers["location"] == "/daily?date=2025-02-06#paper-2502.00007"
    page = client.get("/daily?date=2025-02-06").text
    assert 'id="paper-2502.00007"' in page  # the fragment names the card
    assert re.search(
        r'/papers/2502\.00007/upvote" class="vote" data-inplace>.*?aria-pressed="true"', page, re.S
    )


def test_json_answers_still_need_the_csrf_token_and_an_existing_paper(client: TestClient) -> None:
    sign_up(client)
    r = client.post("/papers/2502.00007/upvote", data={"csrf": "forged", "next": "/"}, headers=JSON)
    assert r.status_code == 400 and upvotes(client, "2502.00007") == 3
    token = csrf_of(client.get("/").text)
    r = client.post("/papers/2599.99999/upvote", data={"csrf": token, "next": "/"}, headers=JSON)
    assert r.status_code == 404


def test_a_signed_out_vote_is_cast_after_log_in_and_comes_back_to_the_card(client: TestClient) -> None:
    sign_up(client)  # an account to log in to later
    client.post("/logout", data={"csrf": csrf_of(client.get("/").text)})
    page = client.get("/daily?date=2025-02-06").text
    r = client.post(
        "/papers/2502.00007/upvote",
        data={"csrf": csrf_of(page), "next": "/daily?date=2025-02-06"},
        headers=JSON,
    )
    assert r.status_code == 401
    login = r.json()["login"]
    assert login == "/login?next=%2Fdaily%3Fdate%3D2025-02-06%23paper-2502.00007"
    form = client.get(login).text
    assert "your upvote of “Graph Neural Networks for Molecules” will be counted" in form
    assert 'name="next" value="/daily?date=2025-02-06#paper-2502.00007"' in form
    assert upvotes(client, "2502.00007") == 3  # nothing yet
    r = client.post(
        "/login",
        data={
            "csrf": csrf_of(form),
            "email": "ada@example.org",
            "password": "correct horse",
            "next": "/daily?date=2025-02-06#paper-2502.00007",
        },
    )
    assert r.status_code == 303 and r.headers["location"] == "/daily?date=2025-02-06#paper-2502.00007"
    assert upvotes(client, "2502.00007") == 4
    assert "pf_pending" not in client.cookies  # done once
    client.post("/logout", data={"csrf": csrf_of(client.get("/").text)})
    form = client.get("/login").text
    client.post("/login", data={"csrf": csrf_of(form), "email": "ada@example.org", "password": "correct horse"})
    assert upvotes(client, "2502.00007") == 4


def test_a_pending_vote_never_takes_a_vote_back(client: TestClient) -> None:
    sign_up(client)
    token = csrf_of(client.get("/").text)
    client.post("/papers/2502.00006/upvote", data={"csrf": token, "next": "/"})
    assert upvotes(client, "2502.00006") == 9
    client.post("/logout", data={"csrf": token})
    anon = csrf_of(client.get("/").text)
    r = client.post("/papers/2502.00006/upvote", data={"csrf": anon, "next": "/"})  # plain form
    assert r.status_code == 303 and r.headers["location"] == "/login?next=%2F%23paper-2502.00006"
    form = client.get(r.headers["location"]).text
    client.post("/login", data={"csrf": csrf_of(form), "email": "ada@example.org", "password": "correct horse"})
    assert upvotes(client, "2502.00006") == 9  # still on, not toggled off


def test_a_signup_casts_the_pending_vote_too(client: TestClient) -> None:
    anon = csrf_of(client.get("/").text)
    client.post("/papers/2502.00001/upvote", data={"csrf": anon, "next": "/daily?date=2025-02-03"})
    assert "upvote of “Sparse Mixture of Experts" in client.get("/signup?next=/daily").text
    assert sign_up(client, next_path="/daily?date=2025-02-03#paper-2502.00001").endswith("#paper-2502.00001")
    assert upvotes(client, "2502.00001") == 13


def test_no_vote_is_carried_without_a_genuine_form(client: TestClient, web_lib: Library) -> None:
    """A cross-site form has no CSRF token, and a link carries no action: neither leaves a
    vote for after log-in; a forged pending cookie for an unknown action does nothing."""
    sign_up(client)
    client.post("/logout", data={"csrf": csrf_of(client.get("/").text)})
    r = client.post("/papers/2502.00001/upvote", data={"next": "/"})
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    assert "pf_pending" not in client.cookies
    form = client.get("/login?next=/&vote=2502.00001").text
    assert "will be counted" not in form
    client.cookies.set("pf_pending", "delete:2502.00001")
    client.post("/login", data={"csrf": csrf_of(form), "email": "ada@example.org", "password": "correct horse"})
    assert upvotes(client, "2502.00001") == 12


def test_log_in_links_keep_the_page_and_never_leave_the_site(client: TestClient) -> None:
    anon = csrf_of(client.get("/").text)
    r = client.post("/papers/2502.00001/upvote", data={"csrf": anon, "next": "https://evil.example/"})
    assert r.headers["location"] == "/login?next=%2F%23paper-2502.00001"
    form = client.get("/login?next=//evil.example/").text
    assert 'name="next" value="/"' in form
    assert (
        'href="/signup?next=/daily%3Fdate%3D2025-02-03"'
        in client.get("/login?next=/daily?date=2025-02-03").text
    )


# -- what cards and paper pages show ------------------------------------------------------------


def test_cards_show_thumbnail_ai_summary_keywords_comments_code_and_links(client: TestClient) -> None:
    page = client.get("/daily?date=2025-02-04").text
    card = page[page.index('id="paper-2502.00004"') : page.index('id="paper-2502.00005"')]
    assert f'<img class="thumb" src="{webdata.THUMBNAIL}" width="160" height="90"' in card
    assert 'loading="lazy"' in card and 'referrerpolicy="no-referrer"' in card and 'alt="Thumbnail of' in card
    assert "AI summary (Hugging Face)</span> A small draft model proposes" in card
    assert "AI keywords (Hugging Face)" in card and '<span class="chip">draft model</span>' in card
    assert ">2 comments<" in card
    assert 'href="https://github.com/example/specdec"' in card and "★ 321" in card
    assert (
        'href="https://arxiv.org/abs/2502.00004"' in card and 'href="https://arxiv.org/pdf/2502.00004"' in card
    )
    assert "Example Lab" in card and '<time datetime="2025-02-04">4 Feb 2025</time>' in card


def test_untrusted_extras_stay_text_and_bad_urls_are_dropped(client: TestClient) -> None:
    page = client.get("/papers/2502.00003").text
    assert "<script>" not in page.split("<main>")[1].split("</main>")[0]
    assert "Summary &lt;script&gt;alert(&#34;summary&#34;)&lt;/script&gt; stays text." in page
    assert "&lt;b&gt;bold&lt;/b&gt;" in page and '<span class="chip">7</span>' not in page
    assert "javascript:" not in page and "<img" not in page  # the thumbnail was not https
    assert 'href="https://example.org/p"' in page  # its project page is fine


def test_the_paper_page_lists_authors_inline_with_affiliations_doi_journal_and_comment(
    client: TestClient,
) -> None:
    page = client.get("/papers/2501.09999").text
    authors = page[page.index('id="authors"') :].split("</p>")[0]
    assert (
        '<a href="/authors/Barbara%20Liskov">Barbara Liskov</a> <span class="affiliation">(MIT)</span>'
        in authors
    )
    facts = page[page.index('id="facts"') :].split("</dl>")[0]
    assert "<dt>DOI</dt>" in facts and "10.1234/example.5678" in facts
    assert "<dd>Journal of Decoding 12 (2025) 1-20</dd>" in facts
    assert "<dt>arXiv comment</dt><dd>20 pages, 4 figures</dd>" in facts
    assert "Fri 17 Jan 2025" in page


def test_the_csp_allows_https_images_for_thumbnails_and_nothing_else_from_outside(client: TestClient) -> None:
    csp = client.get("/").headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["img-src"] == "'self' data: https:"
    assert directives["script-src"] == "'self'" and directives["default-src"] == "'self'"


# -- periods and the front page -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("period", "title"),
    [
        (feeds.week_period("2025-W49"), "1–7 Dec 2025"),
        (feeds.week_period("2025-W05"), "27 Jan – 2 Feb 2025"),
        (feeds.week_period("2026-W01"), "29 Dec 2025 – 4 Jan 2026"),
        (feeds.month_period("2025-12"), "December 2025"),
        (feeds.day_period("2025-12-04"), "Thu 4 Dec 2025"),
    ],
)
def test_periods_read_as_dates(period: feeds.Period, title: str) -> None:
    assert period.title == title


def test_a_week_links_to_the_nearest_weeks_with_papers_not_into_empty_ones(client: TestClient) -> None:
    week = client.get("/daily?week=2025-W03").text
    assert 'href="/daily?week=2025-W06" rel="next"' in week and "3–9 Feb 2025 →" in week
    assert 'rel="prev"' not in week
    assert 'rel="next"' not in client.get("/daily?week=2025-W06").text
    assert 'rel="next"' not in client.get("/daily?date=2025-02-06").text


def test_a_monday_is_followed_by_the_week_before(tmp_path: Path, any_lib: Library) -> None:
    items = [
        webdata._item(f"2503.0000{i}", day, f"Paper {i}", "Text.", i, ["A B"])
        for i, day in enumerate(["2025-03-03", "2025-02-27", "2025-02-25"], 1)
    ]
    (tmp_path / "d.json").write_text(__import__("json").dumps(items))
    any_lib.import_files([tmp_path / "d.json"])
    with TestClient(create_app(library=any_lib)) as c:
        page = c.get("/").text
    assert "Papers of Mon 3 Mar 2025" in page and "The week before, 24 Feb – 2 Mar 2025" in page
    assert (
        page.index("Thu 27 Feb 2025")
        < page.index("Paper 2")
        < page.index("Tue 25 Feb 2025")
        < page.index("Paper 3")
    )


def test_the_demo_sample_front_page_is_honest_about_undated_papers(any_lib: Library) -> None:
    any_lib.import_files(sorted(SAMPLE_DIR.glob("*.txt")))
    with TestClient(create_app(library=any_lib)) as c:
        page = c.get("/").text
        cards = len(re.findall(r'<article class="paper"', page))
        latest = any_lib.store.latest_day()
        assert latest is not None and f"Papers of {feeds.day_title(latest)}" in page
        assert '<section class="more-papers" id="undated">' in page
        assert "came without a date" in page
        undated = page[page.index('id="undated"') :]
        assert len(re.findall(r'<article class="paper"', undated)) == 45 and cards >= 46
        assert "<time" not in undated  # no invented dates
        listing = c.get("/undated").text
        assert len(re.findall(r'<article class="paper"', listing)) == 45
        assert [p.day for p in any_lib.undated(limit=100)] == [None] * 45


def test_a_full_day_needs_no_filling(tmp_path: Path, any_lib: Library) -> None:
    items = [
        webdata._item(f"2504.000{i:02d}", "2025-04-02", f"Paper {i}", "Text.", i, ["A B"]) for i in range(12)
    ]
    items.append(webdata._item("2504.00100", "2025-04-01", "Yesterday's paper", "Text.", 99, ["A B"]))
    (tmp_path / "d.json").write_text(__import__("json").dumps(items))
    any_lib.import_files([tmp_path / "d.json"])
    with TestClient(create_app(library=any_lib)) as c:
        page = c.get("/").text
    assert len(re.findall(r'<article class="paper"', page)) == 12 and "Yesterday's paper" not in page
