"""`paperfeed index --ray ADDRESS`: embedding spread over a Ray cluster (a head and a worker node on
loopback) gives exactly the vectors of a single-process `paperfeed index`, on SQLite and on
PostgreSQL, and the transformer encoder's work goes to the node that declares a GPU.

Ray binds every network interface, so the cluster runs inside a network namespace that has only
`lo` (`unshare --net`, as root), and a PID namespace of its own: nothing outside this machine can
reach it, and stopping it touches no other Ray on the machine. The namespace has its own loopback,
so the PostgreSQL server (started outside it, by the `pg_server` fixture) is reached through its
unix socket directory: filesystem sockets cross network namespaces.

There is no GPU here. A worker started with `ray start --num-gpus=1` declares a logical GPU; the
transformer encoder's tasks ask for one, so they may run only there, where torch (a CPU build)
falls back to the CPU. What this cannot test is real CUDA (see the README's deployment section).
"""

from __future__ import annotations

import os
import shlex
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import orjson
import psycopg
import pytest

BIN = Path(sys.executable).parent
FIXTURES = Path(__file__).parent / "fixtures"
RAY_PORT = 6390
# A network namespace with only loopback, and a PID namespace: `ray stop` then sees (and the
# namespace's end kills) only the Ray processes started here.
UNSHARE = ["unshare", "--net", "--pid", "--fork", "--mount-proc"]


def paperfeed(*args: str) -> list[str]:
    return [str(Path(sys.executable).with_name("paperfeed")), *args]


def run(*args: str, env: dict[str, str] | None = None) -> None:
    proc = subprocess.run(paperfeed(*args), capture_output=True, text=True,
                          env={**os.environ, **(env or {})})
    assert proc.returncode == 0, proc.stderr[-3000:]


def sqlite_vectors(home: Path, table: str = "vec_minilm_static") -> dict[str, bytes]:
    with sqlite3.connect(home / "paperfeed.db") as conn:
        return dict(conn.execute(
            f"SELECT p.id, e.vector FROM papers p JOIN {table} e ON e.paper_rowid = p.rowid"
        ))


def pg_vectors(url: str) -> dict[str, str]:
    """Each paper's halfvec in PostgreSQL's text form (exact: float16 values print exactly)."""
    with psycopg.connect(url) as conn:
        return dict(conn.execute(
            "SELECT p.id, e.vector::text FROM papers p JOIN vec_minilm_static e ON e.paper_pk = p.pk"
        ).fetchall())


def namespaces_allowed() -> bool:
    return shutil.which("unshare") is not None and subprocess.run(
        [*UNSHARE, "true"], capture_output=True
    ).returncode == 0


# Ray runs a 1-CPU task with one math thread; the transformer's sums then add up in the same order
# as in a one-thread single process. With 2 threads, one float16 bit in a few vectors differs.
ONE_THREAD = {"OMP_NUM_THREADS": "1"}

pytestmark = pytest.mark.skipif(
    not namespaces_allowed(),
    reason="Ray binds every interface; this test needs `unshare --net --pid` (root or user namespaces) "
    "to confine it to loopback, and namespaces are not allowed here",
)


def on_cluster(index_args: list[str], worker_gpus: int = 0) -> dict:
    """Start a head (1 CPU, no GPU) and a worker (1 CPU, `worker_gpus` logical GPUs) inside the
    namespace, run `paperfeed ... index --ray HEAD --json` there, stop the cluster; the JSON."""
    ray = str(BIN / "ray")
    temp = tempfile.mkdtemp(prefix="ray-", dir="/tmp")  # Ray's socket paths must stay short
    common = "--node-ip-address=127.0.0.1 --num-cpus=1 --disable-usage-stats"
    command = shlex.join(paperfeed(*index_args, "--ray", f"127.0.0.1:{RAY_PORT}", "--json"))
    script = f"""
        set -e
        ip link set lo up
        {ray} start --head --port={RAY_PORT} {common} --num-gpus=0 --include-dashboard=false \
            --temp-dir={temp} >/dev/null
        {ray} start --address=127.0.0.1:{RAY_PORT} {common} --num-gpus={worker_gpus} >/dev/null
        set +e
        {command}
        rc=$?
        {ray} stop --force >/dev/null 2>&1
        exit $rc
    """
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "PATH": f"{BIN}:{os.environ['PATH']}",
           **ONE_THREAD}
    try:
        proc = subprocess.run([*UNSHARE, "bash", "-c", script], capture_output=True,
                              text=True, env=env, timeout=420)
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return orjson.loads(proc.stdout)


def test_a_ray_cluster_embeds_exactly_like_one_process(tmp_path: Path) -> None:
    single, spread = tmp_path / "single", tmp_path / "spread"
    for home in (single, spread):
        run("--home", str(home), "import", "--sample", "--no-index")
    run("--home", str(single), "index", "--batch", "10")

    result = on_cluster(["--home", str(spread), "index", "--batch", "10"])
    assert result["embedded"] == 86 and result["ray"]["nodes"] == 2
    work = result["ray"]["work"]
    # 9 tasks spread over both nodes, every paper once
    assert len(work) == 2 and sum(w["batches"] for w in work) == 9
    assert sum(w["papers"] for w in work) == 86

    expected, got = sqlite_vectors(single), sqlite_vectors(spread)
    assert len(got) == 86 and got == expected  # byte for byte the same vectors


def test_a_ray_cluster_embeds_into_postgresql_exactly_like_one_process(tmp_path: Path, pg_server) -> None:
    single, spread = pg_server.new_database(), pg_server.new_database()
    try:
        for url in (single, spread):
            run("--home", str(tmp_path / "home"), "--database", url, "import", "--sample", "--no-index")
        run("--home", str(tmp_path / "home"), "--database", single, "index", "--batch", "10")
        # Inside the namespace, 127.0.0.1 is the namespace's own loopback: use the socket.
        name = spread.rsplit("/", 1)[1]
        via_socket = f"postgresql://postgres@/{name}?host={pg_server.root}&port={pg_server.port}"

        result = on_cluster(["--home", str(tmp_path / "ns"), "--database", via_socket,
                             "index", "--batch", "10"])
        assert result["embedded"] == 86 and result["ray"]["nodes"] == 2
        assert len(result["ray"]["work"]) == 2

        expected, got = pg_vectors(single), pg_vectors(spread)
        assert len(expected) == 86 and got == expected
    finally:
        pg_server.drop_database(single)
        pg_server.drop_database(spread)


def test_the_transformer_runs_on_the_node_that_declares_a_gpu(tmp_path: Path) -> None:
    """Five papers (the transformer is slow on CPU), one per task: with the head offering a CPU
    too, only the GPU request keeps every task off the head. The same batches and thread count
    give the same vectors, byte for byte."""
    papers = [str(FIXTURES / "arxiv_snapshot.jsonl"), str(FIXTURES / "hf_daily.json")]
    single, spread = tmp_path / "single", tmp_path / "spread"
    for home in (single, spread):
        run("--home", str(home), "import", *papers, "--no-index")
    run("--home", str(single), "index", "--encoder", "minilm", "--batch", "1", env=ONE_THREAD)

    result = on_cluster(["--home", str(spread), "index", "--encoder", "minilm", "--batch", "1"],
                        worker_gpus=1)
    # 5 instant vectors here, then 5 minilm vectors on the cluster
    assert result["encoder"] == "minilm" and result["embedded"] == 10
    assert result["ray"]["cluster_gpus"] == 1 and result["ray"]["nodes"] == 2
    (work,) = result["ray"]["work"]  # one node did all of it: the one with the GPU
    assert work["gpus"] == 1 and work["batches"] == 5
    assert work["devices"] == ["cpu"]  # no CUDA here: torch fell back to the CPU

    expected, got = sqlite_vectors(single, "vec_minilm"), sqlite_vectors(spread, "vec_minilm")
    assert len(got) == 5 and got == expected
