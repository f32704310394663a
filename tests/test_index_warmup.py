"""A search during the vector index's warm-up never waits for it: after an import killed (SIGKILL,
at measured progress) once it had stored vectors the saved index file lacks, the catch-up runs in
the background, held here on an event the test controls, while searches answer at once from the
saved index plus an exact scan of the vectors not in it yet, with the right papers."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
from test_crash_safety import write_part

import paperfeed
from paperfeed.embed import paper_text
from paperfeed.embed.index import WARM_INLINE
from paperfeed.library import Library

FIRST, SECOND = 2_000, 12_000


def vector_count(home: Path) -> int:
    try:
        with sqlite3.connect(f"file:{home / 'paperfeed.db'}?mode=ro", uri=True, timeout=1) as conn:
            return conn.execute("SELECT count(*) FROM vec_minilm_static").fetchone()[0]
    except sqlite3.Error:
        return 0


def exact(lib: Library, text: str, k: int) -> list[tuple[str, float]]:
    """Exact cosine search over every stored vector: the truth."""
    keys, vecs = [], []
    for batch_keys, batch in lib.semantic.vectors.iter_vectors():
        keys += batch_keys.tolist()
        vecs.append(batch)
    sims = np.vstack(vecs) @ lib.semantic.embed_query(text)
    order = np.argsort(-sims)[:k]
    ids = lib.semantic.vectors.ids_of([keys[i] for i in order])
    return [(ids[keys[i]], float(sims[i])) for i in order]


def test_a_search_during_the_warm_up_after_a_kill_answers_without_waiting(tmp_path: Path) -> None:
    home = tmp_path / "home"
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    write_part(first, 0, FIRST)
    write_part(second, 1, SECOND)
    env = {**os.environ, "PAPERFEED_BULK_MIN_BYTES": str(1 << 40)}
    cli = [sys.executable, "-m", "paperfeed.cli", "--home", str(home), "import"]
    done = subprocess.run([*cli, str(first)], capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr
    proc = subprocess.Popen([*cli, str(second)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env=env)
    deadline = time.monotonic() + 300
    while proc.poll() is None and time.monotonic() < deadline:  # vectors past the saved file's
        if vector_count(home) > FIRST + 3 * WARM_INLINE:
            break
        time.sleep(0.005)
    assert proc.poll() is None, "the import finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait(timeout=60) == -signal.SIGKILL
    sidecar = json.loads((home / "paperfeed.db.vectors" / "minilm-static.json").read_text())
    stored = vector_count(home)
    assert stored - sidecar["count"] > WARM_INLINE  # the saved index is far behind the store

    with paperfeed.open(home) as lib:
        (target,) = lib.semantic.vectors.ids_of(
            [max(k for keys, _ in lib.semantic.vectors.iter_vectors() for k in keys.tolist())]
        ).values()  # the last paper given a vector: certainly not in the saved file
        paper = lib.store.get(target)
        assert paper is not None
        query = paper_text(paper.title, paper.abstract)
        truth = exact(lib, query, 10)

        index = lib.semantic.index
        gate, held = threading.Event(), threading.Event()

        def hold() -> None:
            held.set()
            assert gate.wait(300)

        index.on_warm = hold
        hits = lib.search(query, mode="semantic", limit=10)
        assert index.warming  # answered while the catch-up is still running (held)
        assert hits[0].paper.id == target == truth[0][0]
        assert len(hits) == 10
        # Every score is the paper's exact cosine; the answer is as near as the exact top 10.
        cosines = dict(exact(lib, query, stored))
        for h in hits:
            assert abs(h.score - cosines[h.paper.id]) < 1e-3, (h.paper.id, h.score)
        assert abs(sum(h.score for h in hits) - sum(s for _, s in truth)) < 0.03 * sum(
            s for _, s in truth)
        hybrid = lib.search(query, mode="hybrid", limit=10)
        assert index.warming
        assert hybrid[0].paper.id == target

        assert held.wait(300)  # the catch-up got to the point of swapping its index in
        gate.set()
        index.wait(300)
        assert not index.warming
        assert len(index) == stored  # whole: every stored vector is in the index now
        assert index.rebuilt == 0  # caught up from the saved file, not rebuilt
        again = lib.search(query, mode="semantic", limit=10)
        assert again[0].paper.id == target
