"""The unmodified `huggingface_hub` client against paperfeed's JSON API on a real uvicorn
server on loopback: what existing HF papers clients see. Every papers method of `HfApi`
(`list_daily_papers`, `list_papers`, `paper_info`, `read_paper`) and every `hf papers` command
(`list`/`ls`, `info`, `search`, `read`: the real `hf` executable, in a subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
import webdata
from huggingface_hub import HfApi
from huggingface_hub import constants as hf_constants
from huggingface_hub.errors import HfHubHTTPError

PAPER_METHODS = {"list_daily_papers", "list_papers", "paper_info", "read_paper"}
# Anything the CLI would send past loopback goes to this dead proxy and fails at once.
DEAD_PROXY = "http://127.0.0.1:9"


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    import paperfeed

    root: Path = tmp_path_factory.mktemp("hf")
    with paperfeed.open(root / "home") as lib:
        webdata.build(lib, root / "data")
        lib.accounts.signup("ada@example.org", "correct horse")
        lib.upvote("ada@example.org", "2502.00005")  # 20 imported + 1 local
        with webdata.serving(lib) as base:
            yield base


@pytest.fixture(scope="module")
def api(url: str) -> Iterator[HfApi]:
    # paperfeed.embed sets HF_HUB_OFFLINE=1 (no model download may ever happen), which makes
    # the client refuse every request, even to loopback. Lift it for this client only.
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(hf_constants, "HF_HUB_OFFLINE", False)
        yield HfApi(endpoint=url, token=False)


@pytest.fixture(scope="module")
def hf(url: str, tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201 - a test helper
    """Runs `hf papers ARGS...` against the server: a clean environment with no token, no
    HF_HUB_OFFLINE (this subprocess only), no telemetry or update check, loopback only."""
    home = tmp_path_factory.mktemp("hf-cli-home")
    env = {
        "PATH": str(Path(sys.executable).parent), "HOME": str(home), "HF_HOME": str(home / "hf"),
        "HF_ENDPOINT": url, "HF_HUB_DISABLE_TELEMETRY": "1", "HF_HUB_DISABLE_UPDATE_CHECK": "1",
        "NO_COLOR": "1", "HTTP_PROXY": DEAD_PROXY, "HTTPS_PROXY": DEAD_PROXY, "ALL_PROXY": DEAD_PROXY,
        "NO_PROXY": "127.0.0.1,localhost",
    }
    executable = Path(sys.executable).parent / "hf"
    assert executable.exists()

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(executable), "papers", *args], env=env, capture_output=True, text=True,
                              timeout=120)

    return run


def _json(result: subprocess.CompletedProcess[str]) -> list | dict:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _ids(result: subprocess.CompletedProcess[str]) -> list[str]:
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_every_papers_method_of_the_client_is_tested() -> None:
    methods = {m for m in dir(HfApi) if "paper" in m.lower() and not m.startswith("_")}
    assert methods == PAPER_METHODS  # a new client method would need its test here


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


def test_paper_info_reads_every_field_we_hold(api: HfApi) -> None:
    info = api.paper_info("2502.00004")
    assert info.discussion_id == "d2502.00004"
    assert info.submitted_at is not None and info.submitted_at.isoformat() == "2025-02-04T09:00:00+00:00"
    assert info.ai_summary == "A small draft model proposes tokens the large model checks."
    assert info.ai_keywords == ["speculative decoding", "draft model", "inference"]
    assert info.github_repo == "https://github.com/example/specdec" and info.github_stars == 321
    assert info.organization is not None and info.organization.fullname == "Example Lab"
    hostile = api.paper_info("2502.00003")
    assert hostile.title == webdata.XSS_TITLE  # as data: the client gets the text, unchanged
    assert hostile.project_page == "https://example.org/p"
    assert hostile.ai_keywords == ["<b>bold</b>"]  # the non-string keyword an import kept is left out
    assert hostile.github_repo is None  # a javascript: URL is never served


def test_list_papers_honours_the_limit_and_an_empty_query(api: HfApi) -> None:
    assert [p.id for p in api.list_papers(query="speculative decoding", limit=1)] == ["2502.00004"]
    assert list(api.list_papers()) == []  # HF's search without a query: nothing
    with pytest.raises(HfHubHTTPError) as exc:
        list(api.list_papers(query="x" * 251))
    assert exc.value.response.status_code == 422


def test_list_daily_papers_by_submitter_and_sort(api: HfApi) -> None:
    week = [p.id for p in api.list_daily_papers(week="2025-W06", submitter="AKHALIQ")]
    assert len(week) == 7
    assert all(p.submitted_by is not None and p.submitted_by.username == "akhaliq"
               for p in api.list_daily_papers(week="2025-W06"))
    assert list(api.list_daily_papers(week="2025-W06", submitter="nobody")) == []
    by_votes = [p.upvotes for p in api.list_daily_papers(month="2025-02", sort="publishedAt")]
    assert by_votes == sorted(by_votes, reverse=True) and len(by_votes) == 7


def test_read_paper_is_the_markdown_export(api: HfApi) -> None:
    text = api.read_paper("2502.00004")
    lines = text.splitlines()
    assert lines[0] == "# Speculative Decoding for Large Language Models"
    assert "- **Authors:** Alan Turing, Barbara Liskov" in lines
    assert "Speculative decoding speeds up language model inference with a draft model." in lines
    assert "- [Code](https://github.com/example/specdec)" in lines
    assert api.read_paper("2501.09999v2").startswith("# Language Model Decoding Strategies Revisited")
    with pytest.raises(HfHubHTTPError) as exc:
        api.read_paper("2502.99999")
    assert exc.value.response.status_code == 404


# -- the `hf papers` CLI ----------------------------------------------------------------------


def test_hf_papers_ls_of_a_date_as_json(hf) -> None:  # noqa: ANN001
    items = _json(hf("ls", "--date", "2025-02-04", "--format", "json"))
    assert isinstance(items, list)
    assert [i["id"] for i in items] == ["2502.00004", "2502.00005", "2502.00003"]
    first = items[0]
    assert first["title"] == "Speculative Decoding for Large Language Models"
    assert first["upvotes"] == 50 and items[1]["upvotes"] == 21  # with the local vote
    assert first["comments"] == 2 and first["submitted_by_name"] == "AK"
    assert first["published_at"].startswith("2025-02-04T08:00:00")
    assert [a["name"] for a in first["authors"]] == ["Alan Turing", "Barbara Liskov"]


def test_hf_papers_list_periods_limits_sorts_and_submitters(hf) -> None:  # noqa: ANN001
    assert _ids(hf("list", "-q")) == ["2502.00006", "2502.00007"]  # the latest day
    assert len(_ids(hf("ls", "--week", "2025-W06", "-q"))) == 7
    top3 = ["2502.00004", "2502.00002", "2502.00005"]
    assert _ids(hf("ls", "--month", "2025-02", "--limit", "3", "-q")) == top3
    assert _ids(hf("ls", "--date", "2025-02-06", "--sort", "trending", "-q")) == ["2502.00006", "2502.00007"]
    assert len(_ids(hf("ls", "--week", "2025-W06", "--submitter", "akhaliq", "-q"))) == 7
    assert _ids(hf("ls", "--week", "2025-W06", "--submitter", "nobody", "-q")) == []
    table = hf("ls", "--date", "2025-02-04", "--format", "human", "--no-truncate")
    assert table.returncode == 0, table.stderr
    assert "Speculative Decoding for Large Language Models" in table.stdout


def test_hf_papers_info(hf) -> None:  # noqa: ANN001
    info = _json(hf("info", "2501.09999", "--format", "json"))
    assert isinstance(info, dict)
    assert info["id"] == "2501.09999" and info["title"] == "Language Model Decoding Strategies Revisited"
    assert [a["name"] for a in info["authors"]] == ["Barbara Liskov"]
    assert info["published_at"].startswith("2025-01-17")
    assert _json(hf("info", "2502.00005", "--format", "json"))["upvotes"] == 21  # type: ignore[call-overload]


def test_hf_papers_search(hf) -> None:  # noqa: ANN001
    found = _json(hf("search", "speculative decoding", "--format", "json", "--limit", "2"))
    assert isinstance(found, list) and len(found) == 2
    assert found[0]["id"] == "2502.00004"
    assert found[0]["summary"].startswith("Speculative decoding speeds up")
    assert "2501.09999" in _ids(hf("search", "speculative decoding", "-q"))


def test_hf_papers_read(hf) -> None:  # noqa: ANN001
    result = hf("read", "2502.00004")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("# Speculative Decoding for Large Language Models\n")
    assert "Alan Turing, Barbara Liskov" in result.stdout
    assert "with a draft model." in result.stdout


def test_hf_papers_bad_input_fails_with_the_servers_message(hf) -> None:  # noqa: ANN001
    for command in ("info", "read"):
        missing = hf(command, "2502.99999")
        assert missing.returncode != 0 and "Paper '2502.99999' not found" in missing.stderr
        assert missing.stdout == ""
    bad_date = hf("ls", "--date", "2025-02-30")
    assert bad_date.returncode != 0 and "date must be YYYY-MM-DD" in bad_date.stderr
    too_many = hf("ls", "--limit", "500")
    assert too_many.returncode != 0 and "limit: Input should be less than or equal to 100" in too_many.stderr
    long_query = hf("search", "x" * 300)
    assert long_query.returncode != 0 and "at most 250 characters" in long_query.stderr
