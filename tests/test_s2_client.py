"""The unmodified `semanticscholar` client against paperfeed's Semantic Scholar-compatible
recommendations API on a real uvicorn server on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import webdata
from librarydata import SAMPLE_DIR, only_on, page_ids
from semanticscholar import SemanticScholar
from semanticscholar.Paper import Paper as S2Paper
from semanticscholar.SemanticScholarException import BadQueryParametersException, ObjectNotFoundException


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, object]]:
    import paperfeed

    root: Path = tmp_path_factory.mktemp("s2")
    with paperfeed.open(root / "home") as lib:
        webdata.build(lib, root / "data")
        lib.import_files(sorted(SAMPLE_DIR.glob("*.txt")))
        with webdata.serving(lib) as url:
            yield url, lib


@pytest.fixture(scope="module")
def s2(served) -> SemanticScholar:
    return SemanticScholar(api_url=served[0], retry=False, timeout=30)


def test_recommendations_from_lists_with_the_client_s_default_fields(s2: SemanticScholar) -> None:
    a, b = page_ids()
    positive, negative = only_on(a, b)[:4], only_on(b, a)[:2]
    papers = s2.get_recommended_papers_from_lists(positive, negative, limit=8)
    assert 1 <= len(papers) <= 8
    assert all(isinstance(p, S2Paper) for p in papers)
    ids = [p.paperId for p in papers]
    assert not set(ids) & set(positive + negative)
    assert sum(pid in set(a) for pid in ids) > len(ids) / 2
    first = papers[0]
    assert first.title and first.abstract
    assert isinstance(first.authors, list) and all(author.name for author in first.authors)
    assert first.externalIds is not None


def test_arxiv_ids_urls_and_fields(s2: SemanticScholar) -> None:
    papers = s2.get_recommended_papers_from_lists(
        ["ARXIV:2502.00004", "https://arxiv.org/abs/2502.00005v1"], ["arXiv:2502.00007"],
        fields=["title", "year", "publicationDate", "externalIds", "url", "authors"], limit=3,
    )
    assert papers and not {p.paperId for p in papers} & {"2502.00004", "2502.00005", "2502.00007"}
    arxiv = [p for p in papers if p.externalIds.get("ArXiv")]
    assert arxiv, [p.raw_data for p in papers]
    one = arxiv[0]
    assert one.url == f"https://arxiv.org/abs/{one.externalIds['ArXiv']}"
    assert one.year == one.publicationDate.year
    assert set(one.raw_data) == {"paperId", "title", "year", "publicationDate", "externalIds", "url", "authors"}


def test_recommendations_for_one_paper(s2: SemanticScholar) -> None:
    related = s2.get_recommended_papers("ARXIV:2502.00004", limit=5)
    assert 1 <= len(related) <= 5
    assert "2502.00004" not in {p.paperId for p in related}
    assert "2502.00005" in {p.paperId for p in related}  # the other speculative decoding paper
    by_url = s2.get_recommended_papers("https://arxiv.org/abs/2502.00004", limit=5, fields=["title"])
    assert [p.paperId for p in by_url] == [p.paperId for p in related]
    assert set(by_url[0].raw_data) == {"paperId", "title"}


def test_unknown_papers_and_bad_parameters_are_the_client_s_errors(s2: SemanticScholar) -> None:
    with pytest.raises(ObjectNotFoundException):
        s2.get_recommended_papers("ARXIV:2999.99999")
    with pytest.raises(ObjectNotFoundException):
        s2.get_recommended_papers_from_lists(["2999.99999"])
    with pytest.raises(BadQueryParametersException):
        s2.get_recommended_papers_from_lists(["2502.00004"], fields=["title", "noSuchField"])
    with pytest.raises(BadQueryParametersException):
        s2.get_recommended_papers_from_lists([])


def test_the_list_api_is_stateless(served) -> None:
    url, lib = served
    before = lib.store.db.query("SELECT count(*) FROM collections")[0][0]
    r = httpx.post(f"{url}/recommendations/v1/papers/?limit=2", json={"positivePaperIds": ["2502.00004"]})
    assert r.status_code == 200 and len(r.json()["recommendedPapers"]) <= 2
    assert r.json()["recommendedPapers"][0].keys() == {"paperId", "title"}  # S2's default fields
    assert lib.store.db.query("SELECT count(*) FROM collections")[0][0] == before
    zero = httpx.post(f"{url}/recommendations/v1/papers/?limit=0", json={"positivePaperIds": ["x"]})
    assert zero.status_code == 422
    bad = httpx.post(
        f"{url}/recommendations/v1/papers/", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert bad.status_code == 422 and "error" in bad.json()


def test_no_user_s_library_changes_what_the_s2_api_answers(served, s2: SemanticScholar) -> None:
    _, lib = served
    before = [p.paperId for p in s2.get_recommended_papers_from_lists(["2502.00004"], limit=4)]
    lib.dismiss(before[0])  # the owner's "not interested" is the owner's own business
    lib.library_add(before[1], "Mine")
    after = [p.paperId for p in s2.get_recommended_papers_from_lists(["2502.00004"], limit=4)]
    assert after == before
    lib.reset_feedback(saved=True)
