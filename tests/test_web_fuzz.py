"""No input gives a 500: hypothesis throws arbitrary parameters and paths at every GET endpoint
of the OpenAPI schema and at the HTML pages and feeds (bounded: a few hundred requests)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
import webdata
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import paperfeed
from paperfeed.web.app import create_app


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    root: Path = tmp_path_factory.mktemp("fuzz")
    with paperfeed.open(root / "home") as lib:
        webdata.build(lib, root / "data")
        with TestClient(create_app(library=lib), follow_redirects=False) as c:
            yield c


# Text that likes to break things: huge numbers, dates, ids, SQL/FTS/HTML syntax, control chars.
nasty = st.one_of(
    st.text(max_size=40),
    st.sampled_from([
        "", " ", "0", "-1", "99999999999999999999", "1e309", "NaN", "2025-02-30", "2025-W00", "2025-W53",
        "0000-01", "9999-12", "2025-02-04T00:00:00", "2502.00004", "2502.00004v9", "hep-th/9901001",
        "t-0000", "../../etc/passwd", '"', "'", "*", "NEAR(a b)", "a OR b", "title:x", "%", "_", "\\",
        "<script>", "\x00", "\ud7ff", "x" * 300, "publishedAt", "trending",
    ]),
)
PARAMS = ["date", "week", "month", "sort", "p", "limit", "submitter", "q", "mode", "since", "until",
          "category", "organization", "author", "fragment", "token", "email"]
GET_PATHS = [
    "/api/daily_papers", "/api/papers/search", "/api/papers/{id}", "/api/papers/{id}/related", "/",
    "/daily", "/trending", "/search", "/papers/{id}", "/papers/{id}/related", "/organizations/{id}",
    "/authors/{id}", "/feeds/daily.atom", "/feeds/daily.rss", "/feeds/trending.rss", "/feeds/trending.atom",
    "/feeds/search.atom",
    "/feeds/{id}", "/about", "/login", "/signup", "/account",
    "/subscribe", "/subscribe/confirm", "/unsubscribe",
    # the personal library (signed out here: 401) and the S2-compatible recommendations API
    "/api/library", "/api/library/collections", "/api/library/collections/{collection_id}",
    "/api/library/collections/{collection_id}/papers", "/api/library/collections/{collection_id}/papers/{id}",
    "/api/library/dismissed", "/api/library/dismissed/{id}", "/api/library/explain", "/api/library/export",
    "/api/library/feed-token", "/api/library/import", "/api/library/notes/{id}", "/api/library/papers",
    "/api/library/papers/{id}", "/api/library/read/{id}", "/api/library/recommendations",
    "/api/library/reset", "/recommendations/v1/papers/", "/recommendations/v1/papers/forpaper/{id}",
    # the personal pages (signed out: the log-in) and the token feeds (an unknown token: 404)
    "/feeds/u/{token}/for-you.atom", "/feeds/u/{token}/c/{collection_id}.atom",
    "/feeds/u/{id}/for-you.atom", "/feeds/u/{id}/c/{id}.atom", "/for-you", "/library",
    "/library/c/{id}", "/library/learned", "/library/export",
    # the reading room: a paper's comments, and submitting (POST only: a GET is 405)
    "/api/papers/{id}/comments", "/api/submit", "/submit",
    # exports of a paper, a day and a search
    "/papers/{id}.bib", "/papers/{id}.ris", "/papers/{id}.csl.json", "/papers/{id}.json", "/papers/{id}.md",
    "/daily.bib", "/daily.ris", "/daily.csl.json", "/search.bib", "/search.ris", "/search.csl.json",
]


def test_every_get_path_of_the_schema_is_fuzzed(client: TestClient) -> None:
    schema_paths = {p.replace("{paper_id}", "{id}") for p in client.get("/openapi.json").json()["paths"]}
    feed_paths = {p.replace("{fmt}", "atom") for p in schema_paths if p.startswith("/feeds/")}
    assert {p for p in schema_paths if not p.startswith("/feeds/")} <= set(GET_PATHS)
    assert feed_paths <= set(GET_PATHS)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    path=st.sampled_from(GET_PATHS),
    segment=nasty,
    params=st.dictionaries(st.sampled_from(PARAMS), nasty, max_size=4),
)
def test_no_get_request_is_answered_with_a_server_error(
    client: TestClient, path: str, segment: str, params: dict[str, str]
) -> None:
    url = path.replace("{id}", quote(segment, safe="/") or "x")
    r = client.get(url, params=params)
    assert r.status_code < 500, (url, params, r.text[:300])
    if r.request.url.path.startswith("/api/") and r.status_code >= 400:  # after ../ folding
        assert r.json()["error"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    path=st.sampled_from([
        "/login", "/signup", "/logout", "/papers/2502.00001/upvote", "/admin/import",
        "/subscribe", "/unsubscribe",
    ]),
    form=st.dictionaries(
        st.sampled_from(["csrf", "email", "password", "next", "topic", "token", "List-Unsubscribe"]),
        nasty,
        max_size=4,
    ),
)
def test_no_form_post_is_answered_with_a_server_error(
    client: TestClient, path: str, form: dict[str, str]
) -> None:
    r = client.post(path, data=form)
    assert r.status_code < 500, (path, form, r.text[:300])
