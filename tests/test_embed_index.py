"""Vectors in the store and the ANN index beside it: incremental on import, and self-healing when
the index file is missing, corrupt or behind the store (a crash between the two writes)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import paperfeed
from paperfeed.embed import get_encoder
from paperfeed.library import Library
from paperfeed.records import Paper

SAMPLE_DIR = Path(paperfeed.__file__).parent / "sample"


def index_files(lib: Library) -> list[Path]:
    assert lib.semantic is not None
    return sorted(lib.semantic.directory.glob("*.ann"))


def exact_top(lib: Library, query: str, k: int) -> list[str]:
    """Exact cosine search over every stored vector: the truth the index must agree with."""
    assert lib.semantic is not None
    keys, vecs = [], []
    for batch_keys, batch in lib.semantic.vectors.iter_vectors():
        keys += batch_keys.tolist()
        vecs.append(batch)
    q = lib.semantic.embed_query(query)
    order = np.argsort(-(np.vstack(vecs) @ q))[:k]
    ids = lib.semantic.vectors.ids_of([keys[i] for i in order])
    return [ids[keys[i]] for i in order]


def test_import_embeds_new_papers_and_persists_the_index(sample_lib: Library, home: Path) -> None:
    assert sample_lib.has_vectors()
    assert sample_lib.missing_vectors() == 0
    assert sample_lib.semantic is not None
    assert sample_lib.semantic.vectors.encoder() == ("minilm-static", 256)
    assert len(sample_lib.semantic.index) == 86
    sample_lib.close()
    assert [p.name for p in index_files(sample_lib)] == ["minilm-static.ann"]
    with paperfeed.open(home) as again:
        assert again.semantic is not None
        assert len(again.semantic.index) == 86
        assert again.semantic.index.rebuilt == 0  # loaded from the file, not rebuilt


def test_import_without_index_leaves_papers_to_embed_later(lib: Library) -> None:
    lib.import_files(sorted(SAMPLE_DIR.glob("*.txt")), index=False)
    assert not lib.has_vectors()
    assert lib.missing_vectors() == 86
    result = lib.index()
    assert result == {"encoder": "minilm-static", "embedded": 86, "analysed": 0, "switched": False,
                      "vectors": 86}  # nothing saved yet: no text analyses to store
    assert lib.missing_vectors() == 0
    assert lib.index()["embedded"] == 0  # nothing left to do


def test_index_agrees_with_exact_search(sample_lib: Library) -> None:
    query = "quantization of large language model weights"
    hits = sample_lib.search(query, mode="semantic", limit=10)
    assert [h.paper.id for h in hits] == exact_top(sample_lib, query, 10)


def test_a_corrupt_index_file_is_rebuilt(sample_lib: Library, home: Path) -> None:
    query = "depth estimation"
    before = [h.paper.id for h in sample_lib.search(query, mode="semantic")]
    sample_lib.close()
    (path,) = index_files(sample_lib)
    path.write_bytes(b"\x00garbage" * 1000)
    with paperfeed.open(home) as again:
        after = [h.paper.id for h in again.search(query, mode="semantic")]
        assert again.semantic is not None and again.semantic.index.rebuilt == 1
        assert path.read_bytes() == b"\x00garbage" * 1000  # a search never writes the index
        again.index()  # a writer saves the rebuilt index
    assert after == before
    with paperfeed.open(home) as third:  # the rebuilt file was saved and loads cleanly
        third.search(query, mode="semantic")
        assert third.semantic is not None and third.semantic.index.rebuilt == 0


def test_a_missing_index_file_is_rebuilt_without_re_embedding(sample_lib: Library, home: Path) -> None:
    sample_lib.close()
    for path in index_files(sample_lib):
        path.unlink()
    with paperfeed.open(home) as again:
        assert again.semantic is not None
        seq = again.semantic.vectors.latest_seq()
        assert len(again.semantic.index) == 86
        assert again.semantic.index.rebuilt == 1
        assert again.semantic.vectors.latest_seq() == seq  # no vector was written again


def test_a_crash_between_store_and_index_writes_heals(sample_lib: Library, home: Path) -> None:
    """Vectors committed to the store but never added to the index (the process died between
    the two writes) are found by the next search."""
    sample_lib.close()
    with paperfeed.open(home) as lib:
        lib.store.upsert([Paper(id="2501.00001", title="Ornithopter flight dynamics",
                                abstract="Flapping-wing aircraft modelled as coupled oscillators.")])
        assert lib.semantic is not None
        rows = lib.semantic.vectors.texts(["2501.00001"])
        vectors = get_encoder().encode([f"{t}. {a}" for _, t, a in rows])
        lib.semantic.vectors.put([rows[0][0]], vectors)  # store write only: no index write
    with paperfeed.open(home) as lib:
        hits = lib.search("flapping wing aircraft ornithopter", mode="semantic", limit=3)
        assert hits[0].paper.id == "2501.00001"
        assert lib.semantic is not None and len(lib.semantic.index) == 87


def test_deleted_papers_leave_the_results(sample_lib: Library) -> None:
    query = "large language models"
    first = sample_lib.search(query, mode="semantic", limit=3)[0].paper.id
    assert sample_lib.store.delete([first]) == 1
    ids = [h.paper.id for h in sample_lib.search(query, mode="semantic", limit=10)]
    assert first not in ids and len(ids) == 10


@pytest.mark.parametrize("mode", ["semantic", "hybrid"])
def test_deleted_papers_leave_the_results_on_both_backends(any_sample_lib: Library, mode: str) -> None:
    """Hybrid search takes the vector index's answer without looking each paper up (the index
    still holds a deleted paper's key): the deleted paper is dropped and the page stays full."""
    lib = any_sample_lib
    query = "large language models"
    before = [h.paper.id for h in lib.search(query, mode=mode, limit=10)]
    assert lib.store.delete(before[:3]) == 3
    after = [h.paper.id for h in lib.search(query, mode=mode, limit=10)]
    assert len(after) == 10 and not set(before[:3]) & set(after)
    assert set(before[3:]) <= set(after)  # the others stay on the page


def test_a_changed_abstract_is_re_embedded(sample_lib: Library) -> None:
    paper = sample_lib.search("monocular depth", mode="keyword", limit=1)[0].paper
    changed = Paper(id=paper.id, title=paper.title,
                    abstract="We study the migration of arctic terns across oceans.")
    counts = sample_lib.store.upsert([changed])
    assert counts.changed_ids == [paper.id]
    assert sample_lib.missing_vectors() == 1  # the old vector was dropped with the old text
    assert sample_lib.semantic is not None
    sample_lib.semantic.embed_ids(counts.changed_ids)
    hits = sample_lib.search("arctic tern bird migration", mode="semantic", limit=1)
    assert hits[0].paper.id == paper.id


def test_switching_encoders_re_embeds_and_never_mixes(sample_lib: Library, home: Path) -> None:
    result = sample_lib.index("minilm")
    assert result["switched"] is True and result["embedded"] == 86
    assert sample_lib.semantic is not None
    assert sample_lib.semantic.vectors.encoder() == ("minilm", 384)
    _, vecs = next(sample_lib.semantic.vectors.iter_vectors())
    assert vecs.shape[1] == 384  # every stored vector is the new encoder's
    hits = sample_lib.search("quantization of large language model weights", mode="semantic")
    assert hits and all("semantic" in h.why for h in hits)
    sample_lib.close()
    with paperfeed.open(home) as again:  # the choice is recorded in the store
        assert again.semantic is not None and again.semantic.encoder_name == "minilm"
        assert sorted(p.name for p in index_files(again)) == [
            "minilm-static.ann", "minilm.ann"
        ]


def test_cli_index_is_quiet_when_piped_and_rejects_unknown_encoders(home: Path) -> None:
    from typer.testing import CliRunner

    from paperfeed.cli import app

    runner = CliRunner()

    def cli(*args: str):
        return runner.invoke(app, ["--home", str(home), *args], catch_exceptions=False)

    assert cli("import", "--sample", "--no-index").exit_code == 0
    result = cli("index", "--json")
    assert result.exit_code == 0, result.output
    assert '"embedded": 86' in result.stdout
    assert "━" not in result.stderr and "\r" not in result.stderr  # no progress bar when piped
    bad = cli("index", "--encoder", "bert-huge")
    assert bad.exit_code == 2 and "unknown encoder" in bad.stderr
    assert "Traceback" not in bad.output


def test_a_batched_query_answers_as_one_query_per_row_on_both_backends(
    any_sample_lib: Library,
) -> None:
    """The recommender asks for every anchor's neighbours at once (one faiss call, one
    pgvector round trip): each row's answer is that of the single query."""
    semantic = any_sample_lib.semantic
    assert semantic is not None
    queries = np.stack([semantic.embed_query(q) for q in (
        "monocular depth estimation", "large language model reasoning", "diffusion image editing",
    )])
    batched = semantic.nearest_keys_many(queries, 7)
    assert len(batched) == 3
    for row, query in zip(batched, queries, strict=True):
        single = semantic.nearest_keys(query, 7)
        assert len(row) == 7
        assert [k for k, _ in row] == [k for k, _ in single]
        assert np.allclose([s for _, s in row], [s for _, s in single], atol=1e-3)
    assert [k for k, _ in batched[0]] != [k for k, _ in batched[1]]
    assert semantic.nearest_keys_many(queries[:0], 7) == []
