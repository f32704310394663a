"""Data imported from Hugging Face comes back from the HF-compatible API as it came in, every
item validates against HF's own typed models (pyhfapi, generated from HF's OpenAPI spec), and
`huggingface_hub` reads the real submitter; live uvicorn server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
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
UNDATED = Paper(id="t-an-undated-paper", title="An Undated Paper", abstract="No date at all.", sources=["test"])


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    import paperfeed

    root: Path = tmp_path_factory.mktemp("fidelity")
    with paperfeed.open(root / "home") as lib:
        webdata.build(lib, root / "data")
        rich = root / "rich.json"
        rich.write_text(json.dumps([RICH]))
        assert lib.import_files([rich]).summary()["imported"] == 1
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


def test_every_item_validates_against_hfs_typed_model(url: str) -> None:
    items = [*get(url, "/api/daily_papers", month="2025-02", limit="100"),
             *get(url, "/api/papers/search", q="papers"), *get(url, "/api/papers/search", q="undated paper"),
             *get(url, "/api/papers/search", q="decoding")]
    assert any(i["paper"]["id"] == UNDATED.id for i in items)
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
