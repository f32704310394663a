"""The HNSW graph under the vector index (`embed.ann.Graph`, faiss over float16 cells): keys, not
faiss's slot numbers; a re-embedded paper found once, with its newest vector; the float16 values
the store keeps; a file that reads back the same; and the index above it compacting dead slots
and replacing an earlier release's file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from paperfeed.embed.ann import Graph
from paperfeed.library import Library

DIM = 24


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture
def vectors() -> np.ndarray:
    return unit(np.random.default_rng(7).standard_normal((600, DIM)))


def graph_of(keys: np.ndarray, vectors: np.ndarray) -> Graph:
    graph = Graph(DIM, 16, 64)
    graph.add(keys, vectors)
    return graph


def test_search_answers_in_keys_and_finds_each_vector_itself(vectors: np.ndarray) -> None:
    keys = np.arange(1000, 1600, dtype=np.uint64) * 7  # keys far from slot numbers
    graph = graph_of(keys, vectors)
    found = graph.search(vectors[:50], 3, 64)
    assert [int(k[0]) for k, _ in found] == keys[:50].tolist()
    assert all(abs(float(s[0]) - 1.0) < 2e-3 for _, s in found)
    assert all(k.dtype == np.uint64 and len(k) == 3 for k, _ in found)


def test_a_search_asking_for_every_vector_gets_every_vector(vectors: np.ndarray) -> None:
    graph = graph_of(np.arange(1, 601), vectors)
    (keys, sims), = graph.search(vectors[:1], 10_000, 16)
    assert sorted(keys.tolist()) == list(range(1, 601))
    assert np.all(np.diff(sims) <= 1e-6)  # best first


def test_get_returns_the_float16_values_in_the_order_asked(vectors: np.ndarray) -> None:
    graph = graph_of(np.arange(1, 601), vectors)
    got = graph.get([500, 3, 42])
    assert got is not None
    expected = vectors[[499, 2, 41]].astype(np.float16).astype(np.float32)
    assert np.array_equal(got, expected)
    assert graph.get([3, 601]) is None  # one key not held
    assert graph.get([]) is not None


def test_a_re_added_key_is_found_once_with_its_new_vector(vectors: np.ndarray) -> None:
    graph = graph_of(np.arange(1, 401), vectors[:400])
    moved = vectors[450]  # key 10 now holds another paper's text
    graph.add(np.array([10, 401]), np.stack([moved, vectors[400]]))
    assert len(graph) == 401
    got = graph.get([10])
    assert got is not None and np.allclose(got[0], moved, atol=1e-3)
    (near_old, _), (near_new, sims) = graph.search(np.stack([vectors[9], moved]), 400, 64)
    assert int(near_new[0]) == 10 and abs(float(sims[0]) - 1.0) < 2e-3
    assert near_old.tolist().count(10) == 1  # never twice
    assert 10 not in near_old[:1].tolist()  # the old vector is gone from the graph's answers
    assert len(set(near_old.tolist())) == len(near_old)


def test_a_key_above_the_signed_range_is_refused(vectors: np.ndarray) -> None:
    graph = graph_of(np.arange(1, 3), vectors[:2])
    with pytest.raises(ValueError, match="below 2"):
        graph.add(np.array([2**63 + 5], dtype=np.uint64), vectors[2:3])
    assert len(graph) == 2 and graph.get([1, 2]) is not None  # nothing half-added


def test_a_key_repeated_in_one_batch_keeps_the_last_vector(vectors: np.ndarray) -> None:
    graph = graph_of(np.array([5, 6, 5]), vectors[:3])
    assert len(graph) == 2
    got = graph.get([5])
    assert got is not None and np.allclose(got[0], vectors[2], atol=1e-3)


def test_dead_slots_grow_until_the_graph_says_it_is_wasted(vectors: np.ndarray) -> None:
    graph = graph_of(np.arange(1, 601), vectors)
    graph.add(np.arange(1, 601), vectors[::-1])
    assert len(graph) == 600 and not graph.wasted  # 600 dead: under the rule's 1,000 at least
    graph.add(np.arange(1, 601), vectors)
    assert len(graph) == 600 and graph.wasted


def test_a_saved_graph_reads_back_the_same(tmp_path: Path, vectors: np.ndarray) -> None:
    graph = graph_of(np.arange(1, 601), vectors)
    graph.add(np.array([7]), vectors[100:101])  # one dead slot travels with the file
    graph.save(tmp_path / "g.ann")
    back = Graph.load(tmp_path / "g.ann", DIM, 16, 64)
    assert len(back) == 600
    assert [k.tolist() for k, _ in back.search(vectors[:20], 5, 64)] == [
        k.tolist() for k, _ in graph.search(vectors[:20], 5, 64)
    ]
    with pytest.raises(ValueError):
        Graph.load(tmp_path / "g.ann", DIM + 1, 16, 64)


def test_the_index_compacts_dead_slots_in_the_background(sample_lib: Library) -> None:
    semantic = sample_lib.semantic
    assert semantic is not None
    index = semantic.index
    index.sync()
    graph = index.ready()
    assert graph is not None
    before = [h.paper.id for h in sample_lib.search("depth estimation", mode="semantic")]
    keys, vecs = next(semantic.vectors.iter_vectors())
    while not graph.wasted:  # re-embedding the same papers over and over
        graph.add(keys, vecs)
    rebuilt = index.rebuilt
    assert [h.paper.id for h in sample_lib.search("depth estimation", mode="semantic")] == before
    index.wait()
    compact = index.ready()
    assert index.rebuilt == rebuilt + 1 and compact is not graph
    assert compact is not None and not compact.wasted and len(compact) == len(graph)
    assert [h.paper.id for h in sample_lib.search("depth estimation", mode="semantic")] == before


def test_an_earlier_release_index_file_is_replaced(sample_lib: Library) -> None:
    semantic = sample_lib.semantic
    assert semantic is not None
    old = semantic.directory / "minilm-static.hnsw"
    old.write_bytes(b"an hnswlib file of an earlier release")
    (semantic.directory / "minilm-static.hnsw.lock").touch()
    semantic.index.rebuild()
    semantic.index.save()
    assert not old.exists() and not (semantic.directory / "minilm-static.hnsw.lock").exists()
    assert (semantic.directory / "minilm-static.ann").is_file()


def test_faiss_threads_sleep_between_searches_unless_the_user_chose() -> None:
    # spinning OpenMP threads doubled a recommendation's CPU time (BENCHMARKS.md)
    code = ("import os; from paperfeed.embed.ann import _faiss; _faiss(); "
            "print(os.environ['OMP_WAIT_POLICY'])")
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "PASSIVE"
    run = subprocess.run([sys.executable, "-c", code], env={**env, "OMP_WAIT_POLICY": "ACTIVE"},
                         capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "ACTIVE"
