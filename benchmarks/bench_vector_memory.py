"""Memory of both vector sets at scale, measured (for the hnswlib index of earlier releases; the
shipped faiss index's figures come from bench_semantic_ann.py and a 1M rebuild, see
BENCHMARKS.md): build a real hnswlib index of the quality set's
shape (dim 384, the store's M / ef_construction) over random unit vectors, save it, then read the
RSS of fresh processes that load it, alone and beside the static set's saved index.

    PYTHONPATH=src nice -n 19 python benchmarks/bench_vector_memory.py build OUT.hnsw [--n 1000000]
    PYTHONPATH=src python benchmarks/bench_vector_memory.py rss OUT.hnsw [STATIC.hnsw] [--home H]

An index's size does not depend on its vectors' values (every element holds a fixed level-0 slot:
2M + 1 links, the float32 vector, the label; upper-level lists depend on the random level drawn
per element, not on the data), so random vectors give the real figure; only the build time is
data-dependent, as is it on `--ef-construction` (the build's effort, which does not change the
layout either). `build` adds the vectors in chunks and saves a checkpoint every `--every`, and
resumes from it when restarted. `rss` runs every measurement in a fresh child process: Python
with numpy and hnswlib imported; + the quality index; + the static index (both loaded, as a
server holds them while the quality set fills); and with `--home`, the same with the store's
`Library` open and the static index loaded through it, as `serve` does.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from paperfeed.embed.index import CONNECTIVITY, EXPANSION_ADD, EXPANSION_SEARCH

CHUNK = 10_000


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024


def _chunk(i: int, dim: int) -> np.ndarray:
    """Chunk i of the random unit vectors (its own seed: a resumed build adds the same ones)."""
    rng = np.random.default_rng(1_000 + i)
    v = rng.standard_normal((CHUNK, dim), dtype=np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def build(out: Path, n: int, dim: int, every: int, threads: int, ef: int) -> dict:
    import hnswlib

    index = hnswlib.Index(space="ip", dim=dim)
    done = 0
    if out.exists():
        index.load_index(str(out), max_elements=n)
        done = index.get_current_count()
        print(f"resuming at {done}", flush=True)
    else:
        index.init_index(max_elements=n, ef_construction=ef, M=CONNECTIVITY, random_seed=1)
    started = time.time()
    for i in range(done // CHUNK, n // CHUNK):
        keys = np.arange(i * CHUNK, (i + 1) * CHUNK, dtype=np.int64)
        index.add_items(_chunk(i, dim), keys, num_threads=threads)
        count = (i + 1) * CHUNK
        if count % every == 0 or count == n:
            tmp = out.with_suffix(".tmp")
            index.save_index(str(tmp))
            os.replace(tmp, out)
            print(f"{count} added, saved ({time.time() - started:.0f} s this run, load "
                  f"{os.getloadavg()[0]:.1f})", flush=True)
    return {"file": str(out), "count": index.get_current_count(), "bytes": out.stat().st_size,
            "bytes_per_vector": round(out.stat().st_size / index.get_current_count(), 1),
            "seconds_this_run": round(time.time() - started)}


def _child(what: str, quality: str, static: str | None, home: str | None) -> dict:
    """In a fresh process: RSS at each step of loading."""
    import hnswlib

    steps: dict[str, float] = {"python + numpy + hnswlib": _rss_mb()}
    held = []
    if what == "library":
        from paperfeed.config import Config
        from paperfeed.library import Library

        lib = Library(Config.from_env(home=Path(home or ""),
                                      env={"PAPERFEED_QUALITY_ENCODER": "none"}))
        steps["+ Library open"] = _rss_mb()
        t = time.time()
        lib.semantic.view().index.ready()
        steps[f"+ static index through the Library ({time.time() - t:.0f} s)"] = _rss_mb()
        held.append(lib)
    elif what == "both" and static:
        idx = hnswlib.Index(space="ip", dim=256)
        t = time.time()
        idx.load_index(static)
        steps[f"+ static index (dim 256, {idx.get_current_count()}; {time.time() - t:.0f} s)"] = _rss_mb()
        held.append(idx)
    q = hnswlib.Index(space="ip", dim=384)
    t = time.time()
    q.load_index(quality)
    q.set_ef(EXPANSION_SEARCH)
    steps[f"+ quality index (dim 384, {q.get_current_count()}; {time.time() - t:.0f} s)"] = _rss_mb()
    labels, _ = q.knn_query(_chunk(0, 384)[:100], k=10)
    steps["+ 100 searches of it"] = _rss_mb()
    return {k: round(v) for k, v in steps.items()}


def rss(quality: Path, static: Path | None, home: Path | None) -> dict:
    out: dict = {"load_before": os.getloadavg()}
    kinds = ["alone"] + (["both"] if static else []) + (["library"] if home else [])
    for what in kinds:
        args = [sys.executable, __file__, "_child", what, str(quality), str(static or ""),
                str(home or "")]
        res = subprocess.run(args, capture_output=True, text=True, check=True)
        out[what] = json.loads(res.stdout.strip().splitlines()[-1])
        print(what, out[what], flush=True)
    out["files_mb"] = {p.name: round(p.stat().st_size / 2**20, 1) for p in (quality, static) if p}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=["build", "rss", "_child"])
    ap.add_argument("args", nargs="*")
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--every", type=int, default=100_000)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--home", type=Path, default=None)
    ap.add_argument("--ef-construction", type=int, default=EXPANSION_ADD,
                    help="build effort (the store's by default); no effect on the size, which M and "
                         "dim fix, only on build time and recall")
    a = ap.parse_args()
    if a.what == "_child":
        what, quality, static, home = a.args
        print(json.dumps(_child(what, quality, static or None, home or None)))
        return
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    if a.what == "build":
        result = build(Path(a.args[0]), a.n, a.dim, a.every, a.threads, a.ef_construction)
    else:
        result = rss(Path(a.args[0]), Path(a.args[1]) if len(a.args) > 1 else None, a.home)
    print(json.dumps({"started": stamp, a.what: result}, indent=2))


if __name__ == "__main__":
    main()
