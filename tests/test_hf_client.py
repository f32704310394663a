"""The unmodified `huggingface_hub` client against paperfeed's JSON API on a real uvicorn
server on loopback: what existing HF papers clients see."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
import webdata
from huggingface_hub import HfApi
from huggingface_hub import constants as hf_constants
from huggingface_hub.errors import HfHubHTTPError


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HfApi]:
    import paperfeed

    root: Path = tmp_path_factory.mktemp("hf")
    with paperfeed.open(root / "home") as lib:
        webdata.build(lib, root / "data")
        lib.accounts.signup("ada@example.org", "correct horse")
        lib.upvote("ada@example.org", "2502.00005")  # 20 imported + 1 local
        # paperfeed.embed sets HF_HUB_OFFLINE=1 (no model download may ever happen), which makes
        # the client refuse every request, even to loopback. Lift it for this client only.
        with webdata.serving(lib) as url, pytest.MonkeyPatch.context() as mp:
            mp.setattr(hf_constants, "HF_HUB_OFFLINE", False)
            yield HfApi(endpoint=url, token=False)


def test_list_daily_papers_of_a_date(api: HfApi) -> None:
    papers = list(api.list_daily_papers(date="2025-02-04"))
    assert [p.id for p in papers] == ["2502.00004", "2502.00005", "2502.00003"]
    first = papers[0]
    assert first.title == "Speculative Decoding for Large Language Models"
    assert first.summary.startswith("Speculative decoding speeds up")
    assert [a.name for a in first.authors] == ["Alan Turing", "Barbara Liskov"]
    assert first.upvotes == 50
    assert papers[1].upvotes == 21  # local votes count
    assert isinstance(first.published_at, datetime) and first.published_at.date().isoformat() == "2025-02-04"
    assert first.submitted_at is not None and first.submitted_at.date().isoformat() == "2025-02-04"
    assert first.comments == 2
    assert first.github_repo == "https://github.com/example/specdec" and first.github_stars == 321
    assert first.organization is not None and first.organization.name == "example-lab"
    assert first.discussion_id


def test_list_daily_papers_of_a_week_month_and_pages(api: HfApi) -> None:
    assert len(list(api.list_daily_papers(week="2025-W06"))) == 7
    assert len(list(api.list_daily_papers(month="2025-02"))) == 7
    page = list(api.list_daily_papers(month="2025-02", limit=3, p=2))
    assert [p.id for p in page] == ["2502.00007"]  # the 7th of 7, by upvotes
    assert list(api.list_daily_papers(month="2025-02", limit=3, p=3)) == []
    trending = list(api.list_daily_papers(date="2025-02-06", sort="trending"))
    assert [p.id for p in trending] == ["2502.00006", "2502.00007"]


def test_the_latest_day_by_default(api: HfApi) -> None:
    assert {p.id for p in api.list_daily_papers()} == {"2502.00006", "2502.00007"}


def test_list_papers_searches(api: HfApi) -> None:
    found = [p.id for p in api.list_papers(query="speculative decoding")]
    assert found[:1] == ["2502.00004"] and "2501.09999" in found
    by_id = [p.id for p in api.list_papers(query="2501.09999v2")]
    assert by_id[0] == "2501.09999"


def test_paper_info(api: HfApi) -> None:
    info = api.paper_info("2501.09999")
    assert info.id == "2501.09999"
    assert info.title == "Language Model Decoding Strategies Revisited"
    assert [a.name for a in info.authors] == ["Barbara Liskov"]
    assert info.published_at.date().isoformat() == "2025-01-17"
    assert info.upvotes == 0
    voted = api.paper_info("2502.00005")
    assert voted.upvotes == 21


def test_unknown_papers_and_bad_parameters_raise_the_clients_http_errors(api: HfApi) -> None:
    with pytest.raises(HfHubHTTPError) as exc:
        api.paper_info("2502.99999")
    assert exc.value.response.status_code == 404
    with pytest.raises(HfHubHTTPError) as exc:
        list(api.list_daily_papers(date="2025-02-30"))
    assert exc.value.response.status_code == 400
    with pytest.raises(HfHubHTTPError) as exc:
        list(api.list_daily_papers(limit=500))
    assert exc.value.response.status_code == 422


def test_papers_without_votes_read_as_zero_not_none(api: HfApi) -> None:
    papers = {p.id: p for p in api.list_daily_papers(month="2025-01")}
    assert papers["2501.09999"].upvotes == 0
