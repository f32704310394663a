"""Data imported from Hugging Face comes back from the HF-compatible API as it came in, every
item validates against HF's own typed models (pyhfapi, generated from HF's OpenAPI spec) and
against paperfeed's own `/openapi.json` (jsonschema), and `huggingface_hub` reads the real
submitter; live uvicorn server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import openapi_schema
import pytest
import webdata
from huggingface_hub import HfApi
from huggingface_hub import constants as hf_constants
from pyhfapi.types.api_get_daily_papers_response import APIGetDailyPapersResponseItem

from paperfeed.records import Paper

AK = {"_id": "60f1abe7544c2adfd699860c", "avatarUrl": "https://cdn-avatars.huggingface.co/ak.png",
      "fullname": "AK", "name": "akhaliq", "type": "user", "isPro": False, "isHf": True}
DAILY_BY = {**AK, "_id": "64f1abe7544c2adfd6998611", "name": "taesiri", "fullname": "Taesiri"}
ORG = {"_id": "5e67bd5b1009063689407478", "name": "meta-lab", "fullname": "Meta Lab",
       "avatar": "https://cdn-avatars.huggingface.co/meta.png"}
RICH = {
    "paper": {
        "id": "2502.00100",
        "authors": [
            {"_id": "67a1", "name": "Ada Lovelace", "hidden": False, "status": "claimed_verified",
             "statusLastChangedAt": "2025-02-08T10:11:12.345Z",
             "user": {"_id": "u1", "avatarUrl": "https://cdn-avatars.huggingface.co/ada.png",
                      "fullname": "Ada L", "name": "ada", "type": "user", "isPro": True, "user": "ada"}},
            {"_id": "67a2", "name": "Alan Turing", "hidden": False},
        ],
        "publishedAt": "2025-02-04T17:59:58.000Z",
        "submittedOnDailyAt": "2025-02-05T03:14:15.926Z",
        "submittedOnDailyBy": DAILY_BY,
        "title": "Round Trips of Daily Papers",
        "summary": "Everything imported comes back.",
        "upvotes": 77,
        "discussionId": "67a3b2c1d0e9f8a7b6c5d4e3",
        "organization": ORG,
    },
    "publishedAt": "2025-02-05T03:14:15.926Z",
    "title": "Round Trips of Daily Papers",
    "summary": "Everything imported comes back.",
    "thumbnail": "https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/2502.00100.png",
    "numComments": 4,
    "submittedBy": AK,
    "organization": ORG,
    "isAuthorParticipating": True,
}
# A hand-made file with HF's field names but the wrong types: imported, and served within the
# schema (the odd values left out or replaced by stand-ins).
ODD = {
    "paper": {
        "id": "2501.00200",
        "authors": [{"_id": 7, "name": "Odd Author", "hidden": "no", "status": ["x"],
                     "statusLastChangedAt": "later", "user": "not-an-object"}],
        "publishedAt": "2025-01-20",
        "submittedOnDailyAt": "2025-02-30T00:00:00Z",
        "submittedOnDailyBy": {"name": "oddity", "isPro": "yes", "avatarUrl": None, "followerCount": "many"},
        "title": "Odd Types Everywhere",
        "summary": "Values of the wrong type.",
        "upvotes": 1,
        "discussionId": 12345,
        "githubRepo": "javascript:alert(1)",
        "projectPage": "data:text/html,<script>alert(1)</script>",
    },
    "publishedAt": "2025-01-21",
    "title": "Odd Types Everywhere",
    "summary": "Values of the wrong type.",
    "thumbnail": "javascript:alert(1)",
    "numComments": 0,
    "submittedBy": {"name": "oddity", "_id": None, "type": 3, "fullname": ["F"]},
    "organization": {"name": "odd-lab", "fullname": "Odd Lab", "avatar": 5, "_id": False},
    "isAuthorParticipating": "yes",
}
UNDATED = Paper(id="t-an-undated-paper", title="An Undated Paper", abstract="No date at all.", sources=["test"])


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    import paperfeed

    root: Path = tmp_path_factory.mktemp("fidelity")
    with paperfeed.open(root / "home") as lib:
        webdata.build(lib, root / "data")
        rich = root / "rich.json"
        rich.write_text(json.dumps([RICH, ODD]))
        assert lib.import_files([rich]).summary()["imported"] == 2
        lib.store.upsert([UNDATED])
        with webdata.serving(lib) as base:
            yield base


def get(url: str, path: str, **params: str) -> list | dict:
    r = httpx.get(url + path, params=params, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def test_an_hf_item_comes_back_as_it_came_in(url: str) -> None:
    (item,) = [i for i in get(url, "/api/daily_papers", date="2025-02-05") if i["paper"]["id"] == "2502.00100"]
    assert item["submittedBy"] == {**AK, "user": "akhaliq"}  # `user` filled in, as HF sends it
    assert item["isAuthorParticipating"] is True
    assert item["publishedAt"] == RICH["publishedAt"]
    assert item["thumbnail"] == RICH["thumbnail"]
    assert item["organization"] == ORG
    paper = item["paper"]
    assert paper["publishedAt"] == "2025-02-04T17:59:58.000Z"
    assert paper["submittedOnDailyAt"] == "2025-02-05T03:14:15.926Z"
    assert paper["submittedOnDailyBy"] == {**DAILY_BY, "user": "taesiri"}
    assert paper["discussionId"] == RICH["paper"]["discussionId"]
    assert paper["organization"] == ORG
    assert paper["authors"][0] == RICH["paper"]["authors"][0]
    assert paper["authors"][1] == RICH["paper"]["authors"][1]
    assert get(url, "/api/papers/2502.00100")["submittedOnDailyBy"]["_id"] == DAILY_BY["_id"]


def _all_items(url: str) -> list[dict]:
    items = [*get(url, "/api/daily_papers", month="2025-02", limit="100"),
             *get(url, "/api/daily_papers", month="2025-01", limit="100"),
             *get(url, "/api/papers/search", q="papers"), *get(url, "/api/papers/search", q="undated paper"),
             *get(url, "/api/papers/search", q="decoding")]
    assert {UNDATED.id, "2501.00200", "2502.00100", "2502.00003"} <= {i["paper"]["id"] for i in items}
    return items


def test_every_item_validates_against_hfs_typed_model(url: str) -> None:
    items = _all_items(url)
    for item in items:
        model = APIGetDailyPapersResponseItem.model_validate(item)
        assert model.paper.published_at is not None and model.published_at is not None
        assert model.submitted_by.name
    undated = next(i for i in items if i["paper"]["id"] == UNDATED.id)
    assert undated["publishedAt"] == undated["paper"]["publishedAt"] == "1970-01-01T00:00:00.000Z"


def test_submitter_filters_on_the_real_submitter(url: str) -> None:
    week = get(url, "/api/daily_papers", week="2025-W06", submitter="akhaliq")
    assert "2502.00100" in {i["paper"]["id"] for i in week}
    assert all(i["submittedBy"]["name"] == "akhaliq" for i in week)
    by_daily = get(url, "/api/daily_papers", week="2025-W06", submitter="TAESIRI")
    assert [i["paper"]["id"] for i in by_daily] == ["2502.00100"]
    assert get(url, "/api/daily_papers", week="2025-W06", submitter="paperfeed") == []


def test_trending_without_a_period_is_the_trending_window(url: str) -> None:
    trending = {i["paper"]["id"] for i in get(url, "/api/daily_papers", sort="trending", limit="100")}
    latest_day = {i["paper"]["id"] for i in get(url, "/api/daily_papers")}
    assert latest_day == {"2502.00006", "2502.00007"}
    # the last 7 days with papers (2025-01-31 .. 2025-02-06), as /trending
    assert trending == {"2502.00001", "2502.00002", "2502.00003", "2502.00004", "2502.00005",
                        "2502.00006", "2502.00007", "2502.00100"}


def test_huggingface_hub_reads_the_round_trip(url: str) -> None:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(hf_constants, "HF_HUB_OFFLINE", False)
        api = HfApi(endpoint=url, token=False)
        (paper,) = [p for p in api.list_daily_papers(date="2025-02-05") if p.id == "2502.00100"]
        assert paper.submitted_by is not None and paper.submitted_by.username == "akhaliq"
        assert paper.submitted_at is not None
        assert paper.submitted_at.isoformat().startswith("2025-02-05T03:14:15")
        assert paper.published_at.isoformat().startswith("2025-02-04T17:59:58")
        # (huggingface_hub's Organization reads `avatarUrl`; HF's papers API sends `avatar`, as here)
        assert paper.organization is not None and paper.organization.fullname == "Meta Lab"
        assert paper.discussion_id == RICH["paper"]["discussionId"]
        info = api.paper_info("2502.00100")
        assert [a.name for a in info.authors] == ["Ada Lovelace", "Alan Turing"]
        found = [p.id for p in api.list_papers(query="round trips daily papers")]
        assert found[0] == "2502.00100"
        assert api.read_paper("2502.00100").startswith("# Round Trips of Daily Papers")


# What a generated client checks: every response of every HF route against the schema the app's
# own /openapi.json declares for it, with no key the spec does not name.
ROUTES = [
    ("/api/daily_papers", {"month": "2025-02", "limit": "100"}),
    ("/api/daily_papers", {"month": "2025-01"}),
    ("/api/daily_papers", {"sort": "trending", "limit": "100"}),
    ("/api/daily_papers", {}),
    ("/api/papers/search", {"q": "papers"}),
    ("/api/papers/search", {"q": "undated paper"}),
    ("/api/papers/search", {"q": "odd types"}),
    ("/api/papers/search", {}),
    ("/api/papers/{paper_id}", "2502.00100"),
    ("/api/papers/{paper_id}", "2501.00200"),
    ("/api/papers/{paper_id}", UNDATED.id),
    ("/api/papers/{paper_id}", "2502.00003"),
    ("/api/papers/{paper_id}/related", "2502.00004"),
    ("/api/papers/{paper_id}/related", "2502.00100"),
]


@pytest.mark.parametrize("closed", [False, True], ids=["as-declared", "closed"])
def test_every_response_validates_against_the_apps_own_openapi_schema(url: str, closed: bool) -> None:
    spec = get(url, "/openapi.json")
    assert isinstance(spec, dict)
    if closed:
        spec = openapi_schema.closed(spec)
    checked = 0
    for path, arg in ROUTES:
        check = openapi_schema.validator(spec, path)
        body = get(url, path.replace("{paper_id}", arg)) if isinstance(arg, str) else get(url, path, **arg)
        assert openapi_schema.problems(check, body) == [], (path, arg)
        checked += len(body) if isinstance(body, list) else 1
    assert checked > 30


def test_the_schema_rejects_what_hf_clients_would_reject(url: str) -> None:
    """The check above could fail: the spec's item schema refuses a null `publishedAt`, a missing
    `submittedBy`, a string count, a bad timestamp."""
    spec = get(url, "/openapi.json")
    assert isinstance(spec, dict)
    check = openapi_schema.validator(spec, "/api/daily_papers")
    (item,) = [i for i in get(url, "/api/daily_papers", date="2025-02-05") if i["paper"]["id"] == "2502.00100"]
    assert openapi_schema.problems(check, [item]) == []
    broken = [
        {**item, "paper": {**item["paper"], "publishedAt": None}},
        {k: v for k, v in item.items() if k != "submittedBy"},
        {**item, "numComments": "4"},
        {**item, "publishedAt": "2025-02-30T00:00:00Z"},
        {**item, "paper": {**item["paper"], "authors": [{"name": "No Id", "hidden": False}]}},
    ]
    for bad in broken:
        assert openapi_schema.problems(check, [bad]), bad


def test_values_of_the_wrong_type_are_served_within_the_schema(url: str) -> None:
    (item,) = get(url, "/api/papers/search", q="odd types everywhere")[:1]
    paper = item["paper"]
    assert paper["id"] == "2501.00200"
    assert paper["publishedAt"] == "2025-01-20T00:00:00.000Z"  # a date only: midnight UTC of it
    assert item["publishedAt"] == "2025-01-21T00:00:00.000Z"
    assert paper["submittedOnDailyAt"] == "2025-01-21T00:00:00.000Z"  # not 30 February
    author = paper["authors"][0]
    assert author["hidden"] is False and isinstance(author["_id"], str)
    assert "status" not in author and "statusLastChangedAt" not in author and "user" not in author
    assert paper["submittedOnDailyBy"]["isPro"] is False and paper["submittedOnDailyBy"]["avatarUrl"] == ""
    assert "followerCount" not in paper["submittedOnDailyBy"]
    assert isinstance(paper["discussionId"], str)
    assert "githubRepo" not in paper and "projectPage" not in paper
    assert item["submittedBy"]["type"] == "user" and item["submittedBy"]["fullname"] == "oddity"
    assert item["organization"] == {**item["organization"], "name": "odd-lab", "fullname": "Odd Lab",
                                    "avatar": None}
    assert isinstance(item["organization"]["_id"], str)
    assert item["isAuthorParticipating"] is False
    assert item["thumbnail"].startswith("/static/")
    APIGetDailyPapersResponseItem.model_validate(item)
