"""Related papers: self and duplicates excluded, the real pages mostly recovered, bad ids."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import paperfeed
from paperfeed.cli import app
from paperfeed.errors import InvalidInput, NotFound
from paperfeed.library import Library
from paperfeed.records import Paper
from paperfeed.related import Weights, diffusion_scores, related
from paperfeed.sources import FORMATS


@pytest.fixture
def lib(any_lib: Library) -> Library:
    """Every test of this module runs on SQLite and on PostgreSQL (see conftest `any_lib`)."""
    return any_lib

SAMPLE_DIR = Path(paperfeed.__file__).parent / "sample"
runner = CliRunner()


def page_of() -> dict[str, set[int]]:
    on: dict[str, set[int]] = {}
    for number, path in enumerate(sorted(SAMPLE_DIR.glob("00[01]_*.txt"))):
        with path.open("rb") as f:
            for item in FORMATS["hf-page"](f, str(path)):
                if isinstance(item, Paper):
                    on.setdefault(item.id, set()).add(number)
    return on


def test_related_papers_come_mostly_from_the_same_page(sample_lib: Library) -> None:
    """The pages are a papers site's own similarity lists: precision@10 well above a random
    list's (0.59 on these pages; the combined ranking measures ~0.78, see BENCHMARKS.md)."""
    on = page_of()
    assert len(on) == 86
    precisions = []
    for pid, pages in on.items():
        hits = sample_lib.related(pid, limit=10)
        assert len(hits) == 10
        ids = [h.paper.id for h in hits]
        assert pid not in ids and len(set(ids)) == 10
        precisions.append(sum(bool(on[i] & pages) for i in ids) / 10)
    assert sum(precisions) / len(precisions) >= 0.72


def _precision(lib: Library, weights: Weights) -> float:
    on = page_of()
    total = 0
    for pid, pages in on.items():
        paper = lib.get(pid)
        hits = related(lib.store, lib.semantic, paper, limit=10, weights=weights)
        total += sum(bool(on[h.paper.id] & pages) for h in hits)
    return total / (10 * len(on))


def test_diffusion_ranks_the_real_pages_better_than_plain_cosine(sample_lib: Library) -> None:
    """The vector diffusion is what lifts `related` above vectors alone (BENCHMARKS.md)."""
    plain = _precision(sample_lib, Weights(alpha=0.0))
    diffused = _precision(sample_lib, Weights())
    assert diffused >= plain + 0.015, (plain, diffused)


def test_diffusion_prefers_a_candidate_inside_the_neighbourhood() -> None:
    """Candidate A is a little less similar to the paper than candidate C, but A sits among the
    paper's closest neighbours and C does not: with the shipped settings diffusion ranks A first,
    while alpha 0 is the plain cosine order."""
    rng = np.random.default_rng(3)
    axis = np.eye(40)

    def unit(v: np.ndarray) -> np.ndarray:
        return v / np.linalg.norm(v)

    paper = axis[0]
    neighbours = [unit(0.8 * axis[0] + 0.6 * axis[1] + rng.normal(0, 0.03, 40)) for _ in range(6)]
    inside = unit(0.6 * axis[0] + 0.8 * axis[1])
    outside = unit(0.62 * axis[0] + 0.785 * axis[2])
    unrelated = [unit(axis[5 + i] + rng.normal(0, 0.05, 40)) for i in range(12)]
    candidates = np.vstack([inside, outside, *neighbours, *unrelated])
    assert candidates[0] @ paper < candidates[1] @ paper
    scores = diffusion_scores(paper, candidates)
    assert scores[0] > scores[1]
    assert scores[2:8].min() > scores[8:].max()  # the neighbours stay above unrelated papers
    plain = diffusion_scores(paper, candidates, alpha=0.0)
    assert np.allclose(plain, candidates @ paper)


def test_related_excludes_self_and_duplicate_records(sample_lib: Library) -> None:
    paper = sample_lib.search("Weight Compander", mode="keyword", limit=1)[0].paper
    # The title-only record gains an arXiv id (a merge); then the same paper arrives under a
    # second arXiv id, which the store keeps apart: two records of one paper.
    dupes = [Paper(id=f"2402.0000{i}", title=paper.title, abstract=paper.abstract) for i in (1, 2)]
    sample_lib.store.upsert(dupes)
    assert sample_lib.get(paper.id) is None and sample_lib.get("2402.00002") is not None
    assert sample_lib.semantic is not None
    sample_lib.semantic.embed_ids([d.id for d in dupes])
    for pid in ("2402.00001", "2402.00002"):
        titles = [h.paper.title for h in sample_lib.related(pid, limit=20)]
        assert paper.title not in titles
        assert len(titles) == len(set(titles)) == 20
    hits = sample_lib.related("2402.00001", limit=5)
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)
    assert all("semantic" in h.why for h in hits)


def test_related_without_vectors_uses_keywords(lib: Library) -> None:
    lib.import_files(sorted(SAMPLE_DIR.glob("*.txt")), index=False)
    paper = lib.search("Weight Compander", mode="keyword", limit=1)[0].paper
    hits = lib.related(paper.id, limit=5)
    assert 0 < len(hits) <= 5 and paper.id not in {h.paper.id for h in hits}
    assert all("semantic" not in h.why for h in hits)


def test_unknown_ids_and_bad_limits(sample_lib: Library) -> None:
    for bad in ("2404.99999", "no-such-paper", "", "'; DROP TABLE papers; --"):
        with pytest.raises(NotFound, match="no such paper"):
            sample_lib.related(bad)
    pid = next(iter(page_of()))
    with pytest.raises(InvalidInput):
        sample_lib.related(pid, limit=0)


def test_cli_related(home: Path) -> None:
    def cli(*args: str):
        return runner.invoke(app, ["--home", str(home), *args], catch_exceptions=False)

    assert cli("import", "--sample").exit_code == 0
    pid = next(iter(page_of()))
    result = cli("related", pid, "--limit", "3", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert len(data) == 3 and all(d["id"] != pid and "score" in d for d in data)
    text = cli("related", pid, "--limit", "2")
    assert text.exit_code == 0 and len(text.stdout.strip().splitlines()) == 2
    missing = cli("related", "2404.99999")
    assert missing.exit_code == 2 and "no such paper" in missing.stderr
    assert "Traceback" not in missing.output
