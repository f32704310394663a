"""The BEIR evaluation harness: metrics on hand-made rankings, the bundled fixture, bad input."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from paperfeed.cli import app
from paperfeed.errors import InvalidInput
from paperfeed.evaluate import evaluate, load_beir, mrr_at, ndcg_at, recall_at

FIXTURE = Path(__file__).parent / "fixtures" / "beir"
runner = CliRunner()


def test_metrics_on_hand_made_rankings() -> None:
    rels = {"a": 2, "b": 1, "z": 0}
    assert ndcg_at(["a", "b", "c"], rels) == pytest.approx(1.0)
    dcg = 1 / math.log2(3) * 2 + 1 / math.log2(4)  # a at rank 2, b at rank 3
    idcg = 2 + 1 / math.log2(3)
    assert ndcg_at(["c", "a", "b"], rels) == pytest.approx(dcg / idcg)
    assert ndcg_at(["c", "d"], rels) == 0.0
    assert recall_at(["a", "c"], rels) == 0.5
    assert recall_at(["x"] * 100 + ["a", "b"], rels, k=100) == 0.0
    assert mrr_at(["c", "z", "b", "a"], rels) == pytest.approx(1 / 3)
    assert mrr_at(["c"] * 10 + ["a"], rels) == 0.0


def test_fixture_loads() -> None:
    data = load_beir(FIXTURE)
    assert len(data.corpus) == len(data.queries) == len(data.qrels) == 86


def test_keyword_and_hybrid_on_the_fixture() -> None:
    keyword = evaluate(FIXTURE, mode="keyword")
    hybrid = evaluate(FIXTURE, mode="hybrid")
    semantic = evaluate(FIXTURE, mode="semantic")
    for m in (keyword, hybrid, semantic):
        assert set(m) == {"ndcg@10", "recall@100", "mrr@10", "queries"}
        assert m["queries"] == 86 and m["recall@100"] == 1.0
    assert keyword["mrr@10"] > 0.9
    assert semantic["mrr@10"] > 0.7
    assert hybrid["mrr@10"] >= keyword["mrr@10"]
    assert hybrid["ndcg@10"] >= max(keyword["ndcg@10"], semantic["ndcg@10"])


def test_cli_eval(tmp_path: Path) -> None:
    result = runner.invoke(app, ["eval", str(FIXTURE), "--mode", "keyword", "--json"])
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.stdout)
    assert {"ndcg@10", "recall@100", "mrr@10"} <= metrics.keys()
    text = runner.invoke(app, ["eval", str(FIXTURE), "--mode", "keyword"])
    assert "ndcg@10: " in text.stdout
    missing = runner.invoke(app, ["eval", str(tmp_path)])
    assert missing.exit_code == 2 and "not a BEIR directory" in missing.stderr
    bad_mode = runner.invoke(app, ["eval", str(FIXTURE), "--mode", "fuzzy"])
    assert bad_mode.exit_code == 2


def test_malformed_beir_files_are_clear_errors(tmp_path: Path) -> None:
    (tmp_path / "qrels").mkdir()
    (tmp_path / "corpus.jsonl").write_text('{"_id": "d1", "title": "t", "text": "x"}\nnot json\n')
    (tmp_path / "queries.jsonl").write_text('{"_id": "q1", "text": "t"}\n')
    (tmp_path / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\n")
    with pytest.raises(InvalidInput, match="corpus.jsonl:2"):
        load_beir(tmp_path)
    (tmp_path / "corpus.jsonl").write_text('{"_id": "d1", "title": "t", "text": "x"}\n')
    (tmp_path / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\n")
    with pytest.raises(InvalidInput, match="test.tsv:2"):
        load_beir(tmp_path)
    (tmp_path / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq9\td1\t1\n")
    with pytest.raises(InvalidInput, match="no query"):
        evaluate(tmp_path, mode="keyword")
