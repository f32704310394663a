"""The Library API, used the way the README shows it."""

from __future__ import annotations

from pathlib import Path

import pytest

import paperfeed
from paperfeed.errors import InvalidInput
from paperfeed.library import Library


@pytest.fixture
def lib(any_lib: Library) -> Library:
    """Every test of this module runs on SQLite and on PostgreSQL (see conftest `any_lib`)."""
    return any_lib


SAMPLE = sorted((Path(paperfeed.__file__).parent / "sample").glob("*.txt"))


def test_open_import_search_get_daily_stats_close(tmp_path: Path) -> None:
    with paperfeed.open(tmp_path / "home") as lib:
        report = lib.import_files(SAMPLE, index=False)
        assert report.summary()["imported"] == 86
        assert report.summary()["rejected"] == 0

        hits = lib.search("outlier detection autoencoder", mode="keyword", limit=3)
        assert hits[0].paper.title.startswith("Improving Autoencoder-based Outlier Detection")
        assert hits[0].score >= hits[-1].score

        paper = lib.get(hits[0].paper.id)
        assert paper is not None and paper.abstract.startswith("Autoencoders were widely used")

        day = lib.daily()
        assert day and len({p.day for p in day}) == 1
        assert lib.stats()["papers"] == 86
    # The database outlives the Library object.
    with paperfeed.open(tmp_path / "home") as lib:
        assert lib.stats()["papers"] == 86


def test_a_database_url_opens_the_same_store(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'custom.db'}"
    with paperfeed.open(url) as lib:
        lib.import_files(SAMPLE[:1], index=False)
    assert (tmp_path / "custom.db").exists()
    with paperfeed.open(url) as lib:
        assert lib.stats()["papers"] > 0


def test_filters_narrow_search_results(sample_lib) -> None:
    everything = sample_lib.search("quantization", mode="keyword", limit=50)
    recent = sample_lib.search("quantization", mode="keyword", limit=50, since="2025-01-01")
    assert recent and len(recent) < len(everything)
    assert all(h.paper.day and h.paper.day.isoformat() >= "2025-01-01" for h in recent)


@pytest.mark.parametrize(
    "kwargs",
    [{"limit": 0}, {"limit": 10_000}, {"since": "not a date"}, {"mode": "telepathic"}],
)
def test_bad_search_parameters_raise_invalid_input(sample_lib, kwargs) -> None:
    with pytest.raises(InvalidInput):
        sample_lib.search("pruning", **kwargs)


def test_ids_in_any_arxiv_style_resolve(tmp_path: Path) -> None:
    snapshot = tmp_path / "s.jsonl"
    snapshot.write_text(
        '{"id": "hep-th/9901001", "title": "Old style", "abstract": "x",'
        ' "versions": [{"version": "v2", "created": "Fri, 1 Jan 1999 10:00:00 GMT"}]}\n'
        '{"id": "2501.01234", "title": "New style", "abstract": "y",'
        ' "versions": [{"version": "v1", "created": "Thu, 2 Jan 2025 10:00:00 GMT"}]}\n'
    )
    with paperfeed.open(tmp_path / "home") as lib:
        lib.import_files([snapshot], index=False)
        for query in ("2501.01234", "2501.01234v3", "arXiv:2501.01234",
                      "https://arxiv.org/abs/2501.01234v1", "hep-th/9901001v2"):
            assert lib.get(query) is not None, query
            assert lib.search(query, mode="keyword")[0].paper.id in {"2501.01234", "hep-th/9901001"}
