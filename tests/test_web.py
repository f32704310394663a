"""The web app as a browser and an API client see it (FastAPI's TestClient, the real app and
store): pages and their navigation, escaping of untrusted text, security headers, accounts with
CSRF-protected forms, upvotes, the admin's import, feeds, and the JSON API's errors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest
import webdata
from fastapi.testclient import TestClient
from lxml import etree
from signin import log_in_new
from webdata import csrf_of

from paperfeed import feeds
from paperfeed.library import Library
from paperfeed.web.app import create_app


@pytest.fixture
def lib(any_lib: Library) -> Library:
    """Every test of this module runs on SQLite and on PostgreSQL (see conftest `any_lib`)."""
    return any_lib


def sign_up(client: TestClient, email: str = "ada@example.org", password: str = "correct horse") -> None:
    log_in_new(client, email, password)
    assert "pf_session" in client.cookies


# -- pages ------------------------------------------------------------------------------------


def test_the_front_page_is_the_latest_day_most_upvoted_first(client: TestClient) -> None:
    page = client.get("/").text
    assert "Papers of Thu 6 Feb 2025" in page
    assert page.index("Retrieval Augmented Generation") < page.index("Graph Neural Networks")
    # Two papers are less than a screenful: the rest of that week follows, a day per heading.
    assert page.index("Graph Neural Networks") < page.index("Earlier that week, 3–9 Feb 2025")
    assert page.index("Tue 4 Feb 2025") < page.index("Speculative Decoding") < page.index("Mon 3 Feb 2025")
    # The day before with papers is the 4th (the 5th has none); there is no later day.
    assert 'href="/daily?date=2025-02-04"' in page
    assert 'rel="next"' not in page


def test_a_day_links_to_its_neighbours_its_week_and_its_month(client: TestClient) -> None:
    page = client.get("/daily?date=2025-02-04").text
    titles = re.findall(r'<h3><a href="/papers/([^"]+)"', page)
    assert titles == ["2502.00004", "2502.00005", "2502.00003"]  # by upvotes: 50, 20, 5
    assert 'href="/daily?date=2025-02-03" rel="prev"' in page
    assert 'href="/daily?date=2025-02-06" rel="next"' in page
    assert 'href="/daily?week=2025-W06"' in page and 'href="/daily?month=2025-02"' in page
    week = client.get("/daily?week=2025-W06").text
    assert len(re.findall(r'<article class="paper"', week)) == 7
    assert "Papers of 3–9 Feb 2025" in week and "2025-W06" not in re.sub(r'(href|id|value)="[^"]*"', "", week)
    # Previous: the nearest earlier week with papers (2025-01-17, week 3); no next into the future.
    assert 'href="/daily?week=2025-W03" rel="prev"' in week and 'rel="next"' not in week
    month = client.get("/daily?month=2025-02").text
    assert "Papers of February 2025" in month and 'href="/daily?month=2025-01"' in month
    assert 'rel="next"' not in month


def test_each_listed_paper_shows_authors_organization_date_votes_and_abstract(client: TestClient) -> None:
    page = client.get("/daily?date=2025-02-04").text
    card = page[page.index("/papers/2502.00004") - 600 :][:2500]
    expected_bits = ("Alan Turing", "Barbara Liskov", "Example Lab", "2025-02-04",
                     'class="count">50</span>', "A small draft model proposes")  # AI summary over abstract
    for expected in expected_bits:
        assert expected in card


def test_trending_ranks_by_decayed_votes_and_the_about_page_documents_the_formula(client: TestClient) -> None:
    page = client.get("/trending").text
    order = re.findall(r'<h3><a href="/papers/([^"]+)"', page)
    # Newest day first despite fewer votes: 8 votes 2 days later beat 50 older votes.
    assert order.index("2502.00006") < order.index("2502.00004")
    about = client.get("/about").text
    assert "upvotes / (age_hours + 2) ^ 1.5" in about


def test_search_with_filters(client: TestClient) -> None:
    page = client.get("/search?q=speculative+decoding").text
    assert "2502.00004" in page and "2501.09999" in page
    only_cl = client.get("/search?q=speculative+decoding&category=cs.CL").text
    assert "2501.09999" in only_cl and "/papers/2502.00004" not in only_cl
    by_org = client.get("/search?q=speculative&organization=example-lab").text
    assert "/papers/2502.00004" in by_org and "/papers/2502.00005" not in by_org
    dated = client.get("/search?q=speculative&since=2025-02-01&until=2025-02-28&author=Liskov").text
    assert "/papers/2502.00005" in dated and "/papers/2501.09999" not in dated
    assert 'href="/feeds/search.atom?q=speculative' in dated


def test_a_bad_search_parameter_is_a_400_page_not_an_error(client: TestClient) -> None:
    r = client.get("/search?q=x&since=yesterday")
    assert r.status_code == 400 and "since must be YYYY-MM-DD" in r.text
    r = client.get("/search?q=x&mode=psychic")
    assert r.status_code == 400 and "mode must be one of" in r.text


def test_the_paper_page_shows_everything_and_links_out(client: TestClient) -> None:
    page = client.get("/papers/2501.09999v2").text  # any id form
    assert "Language Model Decoding Strategies Revisited" in page
    assert "Barbara Liskov" in page and "(MIT)" in page
    assert 'href="https://arxiv.org/abs/2501.09999"' in page
    assert 'href="https://arxiv.org/pdf/2501.09999"' in page
    assert 'href="https://doi.org/10.1234/example.5678"' in page
    code = client.get("/papers/2502.00004").text
    assert 'href="https://github.com/example/specdec"' in code and "★ 321" in code
    assert 'data-related-src="/papers/2502.00004/related?fragment=1"' in code


def test_related_papers_come_as_a_page_and_as_a_fragment(client: TestClient) -> None:
    full = client.get("/papers/2502.00004/related").text
    assert "/papers/2502.00005" in full  # the other speculative decoding paper
    fragment = client.get("/papers/2502.00004/related?fragment=1").text
    assert "/papers/2502.00005" in fragment and "<html" not in fragment


def test_organization_and_author_pages(client: TestClient) -> None:
    org = client.get("/organizations/example-lab").text
    assert "Papers from Example Lab" in org
    assert re.findall(r'<h3><a href="/papers/([^"]+)"', org) == ["2502.00004", "2502.00002"]
    author = client.get("/authors/Barbara%20Liskov").text
    assert re.findall(r'<h3><a href="/papers/([^"]+)"', author) == ["2502.00004", "2502.00005", "2501.09999"]


def test_unknown_papers_and_pages_are_404_pages(client: TestClient) -> None:
    assert client.get("/papers/2502.99999").status_code == 404
    assert client.get("/no/such/page").status_code == 404


def test_the_status_line_tells_how_fresh_the_data_is(client: TestClient) -> None:
    page = client.get("/").text
    status = page[page.index('id="freshness"') :][:400]
    assert "8 papers" in status and "Last import" in status and "arxiv.xml" in status


# -- safety -----------------------------------------------------------------------------------


def test_untrusted_paper_text_renders_as_text(client: TestClient) -> None:
    for url in ("/papers/2502.00003", "/daily?date=2025-02-04", "/search?q=attention+need"):
        page = client.get(url).text
        assert "<script>alert" not in page and "<script>document" not in page
        assert "<img src=x" not in page and "<b>Evil</b>" not in page
        assert "&lt;script&gt;alert(&#34;title&#34;)&lt;/script&gt;" in page or "&lt;script&gt;" in page
    paper = client.get("/papers/2502.00003").text
    assert "&lt;img src=x onerror=" in paper
    assert "javascript:" not in paper  # a javascript: "code" link is not linked at all
    assert 'href="https://example.org/p"' in paper


def test_security_headers_on_pages_and_api(client: TestClient) -> None:
    for url in ("/", "/api/daily_papers", "/papers/2502.99999"):
        headers = client.get(url).headers
        csp = headers["content-security-policy"]
        assert "default-src 'self'" in csp and "script-src 'self'" in csp and "'unsafe-inline'" not in csp
        assert "frame-ancestors 'none'" in csp
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"
        assert headers["referrer-policy"] == "same-origin"


# -- accounts ---------------------------------------------------------------------------------


def test_logging_in_sets_a_secure_session_cookie_and_shows_the_user(client: TestClient) -> None:
    r = log_in_new(client, "ada@example.org")
    cookie = next(v for k, v in r.headers.multi_items() if k == "set-cookie" and v.startswith("pf_session="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")
    page = client.get("/").text
    assert "ada@example.org" in page


def test_forms_without_the_csrf_token_are_refused(client: TestClient) -> None:
    r = client.post("/signup", data={"csrf": "forged", "email": "ada@example.org", "password": "correct horse"})
    assert r.status_code == 400 and "form expired" in r.text
    sign_up(client)
    r = client.post("/papers/2502.00001/upvote", data={"next": "/"})
    assert r.status_code == 400
    assert client.get("/api/papers/2502.00001").json()["upvotes"] == 12


def test_login_logout_and_rate_limited_failures(client: TestClient) -> None:
    sign_up(client)
    token = csrf_of(client.get("/").text)
    assert client.post("/logout", data={"csrf": token}).status_code == 303
    assert "ada@example.org" not in client.get("/").text
    form = client.get("/login").text
    bad = {"csrf": csrf_of(form), "email": "ada@example.org", "password": "wrong password"}
    statuses = [client.post("/login", data=bad).status_code for _ in range(6)]
    assert statuses == [400] * 5 + [429]
    good = dict(bad, password="correct horse")
    r = client.post("/login", data=good)
    assert r.status_code == 429 and "too many failed logins" in r.text


def test_a_rendered_result_list_is_shared_but_each_visitor_keeps_their_own_token(web_lib: Library) -> None:
    """Anonymous visitors' result lists are rendered once per worker (pages._search_results);
    each still gets its own CSRF token and return path in the upvote forms, a vote shows at once,
    and a signed-in user sees their own votes."""
    app = create_app(library=web_lib)
    ada, bob = TestClient(app, follow_redirects=False), TestClient(app, follow_redirects=False)
    # PostgreSQL: the first reads after an import write hint bits (WAL), see test_search_cache.
    # (and the first read of each feature table, here the comment counts of a result list)
    ada.get("/search", params={"q": "warm up"})
    ada.get("/search", params={"q": "speculative decoding"})
    first = ada.get("/search", params={"q": "graph neural molecules"})
    assert "cache miss" in first.headers["server-timing"]
    # On PostgreSQL the cache's change token is the cluster's WAL position, which the server's own
    # background writes also move now and then: a miss between the two requests is retried.
    for _ in range(5):
        again = bob.get("/search", params={"q": "graph  neural molecules", "since": ""})
        if "cache hit" in again.headers["server-timing"]:
            break
        first = ada.get("/search", params={"q": "graph neural molecules"})
    assert "cache hit" in again.headers["server-timing"]
    assert 'action="/papers/2502.00007/upvote"' in first.text and "Graph Neural Networks" in again.text
    assert csrf_of(first.text) == ada.cookies["pf_csrf"] != bob.cookies["pf_csrf"] == csrf_of(again.text)
    assert 'name="next" value="/search?q=graph+neural+molecules"' in first.text
    assert 'name="next" value="/search?q=graph++neural+molecules&amp;since="' in again.text
    count = re.compile(r'/papers/2502\.00007/upvote.*?class="count">(\d+)<', re.S)
    before = int(count.search(again.text).group(1))
    sign_up(bob)
    token = csrf_of(bob.get("/account").text)
    assert bob.post("/papers/2502.00007/upvote", data={"csrf": token, "next": "/"}).status_code == 303
    after = ada.get("/search", params={"q": "graph neural molecules"})
    assert "cache miss" in after.headers["server-timing"]  # the vote emptied the caches
    assert int(count.search(after.text).group(1)) == before + 1
    mine = bob.get("/search", params={"q": "graph neural molecules"}).text
    assert re.search(r'/papers/2502\.00007/upvote.*?<button type="submit" class="on"', mine, re.S)
    assert csrf_of(mine) == token
    theirs = ada.get("/search", params={"q": "graph neural molecules"}).text
    assert not re.search(r'/papers/2502\.00007/upvote.*?<button type="submit" class="on"', theirs, re.S)


def test_upvote_toggles_and_changes_the_count_in_pages_and_api(client: TestClient) -> None:
    r = client.post("/papers/2502.00007/upvote", data={"next": "/"})
    assert r.status_code == 303 and r.headers["location"].startswith("/login")  # must sign in first
    sign_up(client)
    token = csrf_of(client.get("/").text)
    r = client.post("/papers/2502.00007/upvote", data={"csrf": token, "next": "/daily?date=2025-02-06"})
    assert r.status_code == 303 and r.headers["location"] == "/daily?date=2025-02-06#paper-2502.00007"
    assert client.get("/api/papers/2502.00007").json()["upvotes"] == 4
    page = client.get("/daily?date=2025-02-06").text
    assert 'class="on"' in page and 'class="count">4</span>' in page
    client.post("/papers/2502.00007/upvote", data={"csrf": token, "next": "/"})
    assert client.get("/api/papers/2502.00007").json()["upvotes"] == 3


def test_upvote_never_redirects_to_another_site(client: TestClient) -> None:
    sign_up(client)
    token = csrf_of(client.get("/").text)
    r = client.post("/papers/2502.00007/upvote", data={"csrf": token, "next": "//evil.example/"})
    assert r.headers["location"] == "/#paper-2502.00007"


def test_the_account_page_exports_the_users_data_as_json(client: TestClient) -> None:
    sign_up(client)
    token = csrf_of(client.get("/").text)
    client.post("/papers/2502.00001/upvote", data={"csrf": token, "next": "/"})
    assert "Sparse Mixture of Experts" in client.get("/account").text
    r = client.get("/account/export.json")
    assert r.headers["content-type"].startswith("application/json")
    assert "attachment" in r.headers["content-disposition"]
    assert [v["paper_id"] for v in r.json()["upvotes"]] == ["2502.00001"]


def test_the_admin_imports_by_upload_and_others_may_not(client: TestClient, tmp_path: Path) -> None:
    sign_up(client)
    client.app.state.library.accounts.set_admin("ada@example.org")  # admins are made by the CLI
    fixture = Path(__file__).parent / "fixtures" / "hf_daily.json"
    token = csrf_of(client.get("/account").text)
    r = client.post("/admin/import", data={"csrf": token},
                    files={"files": ("hf_daily.json", fixture.read_bytes(), "application/json")})
    assert r.status_code == 200 and "imported: 2" in r.text
    assert client.get("/api/papers/2502.01234").status_code == 200
    client.cookies.clear()
    sign_up(client, "mallory@example.org", "not an admin")
    token = csrf_of(client.get("/account").text)
    r = client.post("/admin/import", data={"csrf": token},
                    files={"files": ("x.json", b"[]", "application/json")})
    assert r.status_code == 403


# -- feeds ------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/feeds/daily.atom?date=2025-02-04", "/feeds/trending.atom",
                                 "/feeds/search.atom?q=speculative"])
def test_atom_feeds_are_valid_xml_with_escaped_text(client: TestClient, url: str) -> None:
    r = client.get(url)
    assert r.headers["content-type"].startswith("application/atom+xml")
    root = etree.fromstring(r.content)
    ns = {"a": "http://www.w3.org/2005/Atom"}
    titles = root.xpath("//a:entry/a:title/text()", namespaces=ns)
    assert titles
    if "date=2025-02-04" in url:
        assert webdata.XSS_TITLE in titles  # the text, intact, as text
        assert not root.xpath("//script")


def test_rss_feed_of_a_day(client: TestClient) -> None:
    root = etree.fromstring(client.get("/feeds/daily.rss?date=2025-02-06").content)
    assert root.tag == "rss"
    assert root.xpath("//item/title/text()") == ["Retrieval Augmented Generation at Scale",
                                                 "Graph Neural Networks for Molecules"]
    assert root.xpath("//item/link/text()")[0].endswith("/papers/2502.00006")


# -- JSON API errors (shapes are checked with the real client in test_hf_client.py) -------------


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/api/daily_papers?date=2025-13-45", 400),
        ("/api/daily_papers?week=2025-W99", 400),
        ("/api/daily_papers?month=2025-1", 400),
        ("/api/daily_papers?date=2025-02-04&week=2025-W06", 400),
        ("/api/daily_papers?limit=101", 422),
        ("/api/daily_papers?limit=0", 422),
        ("/api/daily_papers?p=-1", 422),
        ("/api/daily_papers?sort=popular", 422),
        ("/api/papers/search?q=" + "x" * 251, 422),
        ("/api/papers/search?q=x&limit=121", 422),
        ("/api/papers/search?q=x&limit=0", 422),
        ("/api/papers/2502.99999", 404),
        ("/api/papers/not-a-paper/related", 404),
    ],
)
def test_bad_api_parameters_answer_400_or_422_and_unknown_ids_404(
    client: TestClient, url: str, status: int
) -> None:
    r = client.get(url)
    assert r.status_code == status
    assert r.json()["error"]


def test_a_page_past_the_end_is_an_empty_list(client: TestClient) -> None:
    assert client.get("/api/daily_papers?date=2025-02-04&p=5").json() == []
    assert len(client.get("/api/daily_papers?week=2025-W06&limit=2&p=3").json()) == 1


def test_daily_api_filters_by_submitter_and_sorts_by_trending(client: TestClient, web_lib: Library) -> None:
    items = client.get("/api/daily_papers?week=2025-W06&submitter=akhaliq").json()
    assert len(items) == 7
    assert client.get("/api/daily_papers?week=2025-W06&submitter=nobody").json() == []
    trending = [i["paper"]["id"] for i in client.get("/api/daily_papers?date=2025-02-06&sort=trending").json()]
    assert trending == ["2502.00006", "2502.00007"]
    # Over a week, age counts to the week's end: the formula decides (see feeds.py).
    week = feeds.week_period("2025-W06")
    papers = web_lib.daily(week="2025-W06")
    reference = feeds.reference_time(week.end)
    expected = sorted(papers, key=lambda p: -feeds.trending_score(p, reference))
    trending = [i["paper"]["id"] for i in client.get("/api/daily_papers?week=2025-W06&sort=trending").json()]
    assert trending == [p.id for p in expected] != [p.id for p in papers]


def test_openapi_schema_and_docs_are_served(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    assert {"/api/daily_papers", "/api/papers/search", "/api/papers/{paper_id}",
            "/api/papers/{paper_id}/related"} <= set(schema["paths"])
    docs = client.get("/docs").text
    assert "swagger" in docs.lower() and "cdn." not in docs and "https://" not in docs
    redoc = client.get("/redoc").text
    assert "redoc" in redoc.lower() and "https://" not in redoc
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js"):
        assert client.get(f"/static-offline-docs/{asset}").status_code == 200
    json.dumps(schema)


def test_head_requests_are_answered_like_get(web_lib: Library) -> None:
    with webdata.serving(web_lib) as url:
        r = httpx.head(url + "/feeds/daily.atom")
        assert r.status_code == 200 and r.headers["content-type"].startswith("application/atom+xml")
        assert r.content == b""


def test_an_empty_library_serves_every_page(lib: Library) -> None:
    with TestClient(create_app(library=lib)) as empty:
        for url in ("/", "/daily?week=2025-W02", "/trending", "/search?q=x", "/feeds/daily.atom",
                    "/feeds/trending.rss", "/api/papers/search?q=x"):
            assert empty.get(url).status_code == 200, url
        assert empty.get("/api/daily_papers").json() == []
        assert "No papers here yet" in empty.get("/").text
