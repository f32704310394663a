"""Semantic and hybrid search through the Library and the CLI, filters in every mode, and the bad
queries (empty, 10,000 words, another script)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

import paperfeed
from paperfeed.cli import app
from paperfeed.errors import InvalidInput
from paperfeed.library import Library
from paperfeed.records import Paper
from paperfeed.search import fuse


@pytest.fixture
def lib(any_lib: Library) -> Library:
    """Every test of this module runs on SQLite and on PostgreSQL (see conftest `any_lib`)."""
    return any_lib

SAMPLE_DIR = Path(paperfeed.__file__).parent / "sample"
MODES = ["keyword", "semantic", "hybrid"]
runner = CliRunner()


def test_hybrid_is_the_default_once_vectors_exist(lib: Library) -> None:
    lib.import_files(sorted(SAMPLE_DIR.glob("*.txt")), index=False)
    assert all(h.why == ["keyword"] for h in lib.search("weight quantization"))
    with pytest.raises(InvalidInput, match="paperfeed index"):
        lib.search("weight quantization", mode="semantic")
    lib.index()
    hits = lib.search("weight quantization")
    assert hits and any("semantic" in h.why for h in hits)


def test_semantic_search_finds_a_paper_by_meaning_not_words(sample_lib: Library) -> None:
    """A paraphrase sharing no content word with the title ranks the paper high. With the
    transformer's vectors: the static encoder's cosine for it is below that encoder's relevance
    floor, where off-topic questions reach too (README "The relevance floor")."""
    sample_lib.index("minilm")
    target = sample_lib.search("Learning Dense Hand Contact Estimation", mode="keyword")[0].paper
    assert "Hand Contact" in target.title
    query = "predicting where fingers touch objects"
    semantic = [h.paper.id for h in sample_lib.search(query, mode="semantic", limit=10)]
    assert target.id in semantic[:5]
    hybrid = [h.paper.id for h in sample_lib.search(query, mode="hybrid", limit=10)]
    assert target.id in hybrid[:5]


def test_hybrid_keeps_exact_keyword_matches_on_top(sample_lib: Library) -> None:
    title = "Imbalanced Adversarial Training with Reweighting"
    for mode in MODES:
        assert sample_lib.search(title, mode=mode, limit=3)[0].paper.title == title


def test_hybrid_scores_are_ranked_and_name_their_signals(sample_lib: Library) -> None:
    hits = sample_lib.search("robust training of neural networks", mode="hybrid", limit=20)
    assert len(hits) == 20
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)
    assert len({h.paper.id for h in hits}) == 20
    assert all(set(h.why) <= {"keyword", "semantic", "id", "title"} and h.why for h in hits)


@pytest.mark.parametrize("mode", MODES)
def test_filters_apply_in_every_mode(lib: Library, mode: str) -> None:
    old = Paper(id="2001.00001", title="Sparse attention for long documents",
                abstract="Sparse attention patterns let transformers read long documents.",
                published=date(2020, 1, 5), categories=["cs.CL"])
    new = Paper(id="2401.00002", title="Sparse attention kernels for long context",
                abstract="Efficient sparse attention kernels for long-context transformers.",
                published=date(2024, 1, 5), categories=["cs.LG"])
    lib.store.upsert([old, new])
    lib.index()
    query = "sparse attention long documents"
    assert {h.paper.id for h in lib.search(query, mode=mode)} == {old.id, new.id}
    assert [h.paper.id for h in lib.search(query, mode=mode, since="2023-01-01")] == [new.id]
    assert [h.paper.id for h in lib.search(query, mode=mode, until="2021-01-01")] == [old.id]
    assert [h.paper.id for h in lib.search(query, mode=mode, category="cs.CL")] == [old.id]
    assert lib.search(query, mode=mode, category="math") == []


@pytest.mark.parametrize("mode", MODES)
def test_bad_queries_give_clear_answers(sample_lib: Library, mode: str) -> None:
    assert sample_lib.search("", mode=mode) == []
    assert sample_lib.search("   \t ", mode=mode) == []
    assert sample_lib.search("?!*", mode=mode) == []
    huge = " ".join(["quantization", "outliers", "weights", "robust"] * 2_500)  # 10,000 words
    hits = sample_lib.search(huge, mode=mode, limit=5)
    assert 0 < len(hits) <= 5
    for other_script in ("深度学习模型的量化", "Квантование весов нейронных сетей", "תכנון מסלול"):
        result = sample_lib.search(other_script, mode=mode)
        assert isinstance(result, list) and len(result) <= 10
    with pytest.raises(InvalidInput):
        sample_lib.search("x", mode="fuzzy")  # type: ignore[arg-type]


def test_fusion_methods() -> None:
    keyword = {"a": 10.0, "b": 5.0, "c": 1.0}
    dense = {"c": 0.9, "d": 0.8, "a": 0.1}
    weighted = fuse(keyword, dense, method="weighted", keyword_weight=0.5)
    assert weighted["a"] == pytest.approx(0.5)  # top keyword, bottom dense
    assert weighted["c"] == pytest.approx(0.5)
    assert weighted["d"] == pytest.approx(0.5 * (0.8 - 0.1) / 0.8)
    assert fuse(keyword, dense, keyword_weight=1.0)["b"] > fuse(keyword, dense, keyword_weight=1.0)["d"]
    rrf = fuse(keyword, dense, method="rrf", keyword_weight=0.5, rrf_k=60)
    assert rrf["a"] == pytest.approx(0.5 / 61 + 0.5 / 63)
    assert rrf["d"] == pytest.approx(0.5 / 62)
    assert fuse({}, {}) == {}


def test_cli_search_modes(home: Path) -> None:
    def cli(*args: str):
        return runner.invoke(app, ["--home", str(home), *args], catch_exceptions=False)

    assert cli("import", "--sample", "--no-index").exit_code == 0
    result = cli("search", "depth estimation", "--mode", "semantic")
    assert result.exit_code == 2 and "paperfeed index" in result.stderr
    assert cli("index").exit_code == 0
    result = cli("search", "neural network training", "--json", "--limit", "5")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert len(data) == 5 and all({"id", "title", "score", "authors"} <= d.keys() for d in data)
    assert cli("search", "", "--mode", "hybrid", "--json").stdout.strip() == "[]"
    assert cli("search", "x", "--mode", "fuzzy").exit_code == 2


@pytest.mark.parametrize("every", [1, 3, 7, 1000])
def test_the_ranked_papers_are_read_in_chunks_sized_by_what_is_kept(
    sample_lib: Library, monkeypatch: pytest.MonkeyPatch, every: int
) -> None:
    """Hybrid search's last step keeps the first `limit` candidates that pass (in order, as
    reading them one by one would), in few reads: each chunk as large as the share kept so far
    says is needed, doubling while none is kept."""
    from paperfeed.search import _papers_in_order

    store = sample_lib.store
    keys = list(range(1, store.count() + 1))
    reads: list[int] = []
    real = store.get_by_keys

    def counted(chunk: list[int]) -> dict:
        reads.append(len(chunk))
        return real(chunk)

    monkeypatch.setattr(store, "get_by_keys", counted)
    passes = lambda key, paper: key % every == 0  # noqa: E731
    got = _papers_in_order(store, keys, 10, passes)
    expected = [k for k in keys if k % every == 0][:10]
    assert [k for k, _ in got] == expected and all(p.id for _, p in got)
    assert sum(reads) <= len(keys)
    if every == 1:
        assert reads == [10]  # everything kept: one read of exactly the limit
    elif every == 1000:
        assert len(reads) <= 5  # nothing kept: the chunks double (10, 20, 40, ...)
    else:
        assert len(reads) <= 4
