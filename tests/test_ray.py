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
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import orjson
import psycopg
import pytest

BIN = Path(sys.executable).parent
FIXTURES = Path(__file__).parent / "fixtures"
RAY_PORT = 6390
# A network namespace with only loopback, and a PID namespace: `ray stop` then sees (and the
# namespace's end kills) only the Ray processes started here. One cluster serves the module.
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


class Cluster:
    """A head (1 CPU, no GPU) and a worker (1 CPU, one logical GPU) inside the namespace, started
    once for the module; `index` runs `paperfeed ... index --ray HEAD --json` in the namespace
    (`nsenter`) and returns its JSON. Tasks that ask for no GPU run on both nodes; the
    transformer's, which ask for one, only on the worker."""

    def __init__(self) -> None:
        self.temp = tempfile.mkdtemp(prefix="ray-", dir="/tmp")  # Ray's socket paths must stay short
        self.env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "PATH": f"{BIN}:{os.environ['PATH']}",
                    **ONE_THREAD}
        self.proc: subprocess.Popen | None = None
        self.init_pid = 0

    def start(self) -> Cluster:
        ray = str(BIN / "ray")
        common = "--node-ip-address=127.0.0.1 --num-cpus=1 --disable-usage-stats"
        script = f"""
            set -e
            ip link set lo up
            {ray} start --head --port={RAY_PORT} {common} --num-gpus=0 --include-dashboard=false \
                --temp-dir={self.temp} >/dev/null
            {ray} start --address=127.0.0.1:{RAY_PORT} {common} --num-gpus=1 >/dev/null
            echo ready
            read -r _ || true  # until the test closes our stdin, or dies
            {ray} stop --force >/dev/null 2>&1
        """
        log = Path(self.temp) / "start.log"
        with log.open("w") as err:
            # The namespace lives until its stdin closes (`stop`, or this process's end), then
            # stops Ray; its end kills whatever is left in it.
            self.proc = subprocess.Popen([*UNSHARE, "--kill-child", "bash", "-c", script],
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err,
                                         text=True, env=self.env)
        assert self.proc.stdout is not None
        ready = self.proc.stdout.readline()  # a line once both nodes are up, EOF if one failed
        if ready.strip() != "ready":
            why = log.read_text()[-3000:]
            self.stop()
            raise AssertionError(f"the Ray cluster did not start: {why}")
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()
        self.init_pid = int(children[0])  # the namespace's PID 1, as this side sees it
        return self

    def inside(self, *command: str, timeout: float = 420) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["nsenter", f"--target={self.init_pid}", "--net", "--pid", "--mount", "--", *command],
            capture_output=True, text=True, env=self.env, timeout=timeout,
        )

    def index(self, index_args: list[str]) -> dict:
        proc = self.inside(*paperfeed(*index_args, "--ray", f"127.0.0.1:{RAY_PORT}", "--json"))
        assert proc.returncode == 0, proc.stderr[-3000:]
        return orjson.loads(proc.stdout)

    def stop(self) -> None:
        if self.proc is not None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()  # the namespace stops Ray and exits
            try:
                self.proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                self.proc.kill()  # unshare; its child (the namespace's PID 1) and all in it follow
                self.proc.wait(timeout=60)
        shutil.rmtree(self.temp, ignore_errors=True)


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    try:
        ray = Cluster().start()
    except AssertionError:
        # `ray start` gives a raylet 30 s (fixed in Ray) to register; a heavily loaded machine can
        # miss that once. A second failure fails the tests.
        ray = Cluster().start()
    yield ray
    ray.stop()


def test_a_ray_cluster_embeds_exactly_like_one_process(tmp_path: Path, cluster: Cluster) -> None:
    single, spread = tmp_path / "single", tmp_path / "spread"
    for home in (single, spread):
        run("--home", str(home), "import", "--sample", "--no-index")
    run("--home", str(single), "index", "--batch", "10")

    result = cluster.index(["--home", str(spread), "index", "--batch", "10"])
    assert result["embedded"] == 86 and result["ray"]["nodes"] == 2
    work = result["ray"]["work"]
    # 9 tasks spread over both nodes, every paper once
    assert len(work) == 2 and sum(w["batches"] for w in work) == 9
    assert sum(w["papers"] for w in work) == 86

    expected, got = sqlite_vectors(single), sqlite_vectors(spread)
    assert len(got) == 86 and got == expected  # byte for byte the same vectors


def test_a_ray_cluster_embeds_into_postgresql_exactly_like_one_process(
    tmp_path: Path, pg_server, cluster: Cluster
) -> None:
    single, spread = pg_server.new_database(), pg_server.new_database()
    try:
        for url in (single, spread):
            run("--home", str(tmp_path / "home"), "--database", url, "import", "--sample", "--no-index")
        run("--home", str(tmp_path / "home"), "--database", single, "index", "--batch", "10")
        # Inside the namespace, 127.0.0.1 is the namespace's own loopback: use the socket.
        name = spread.rsplit("/", 1)[1]
        via_socket = f"postgresql://postgres@/{name}?host={pg_server.root}&port={pg_server.port}"

        result = cluster.index(["--home", str(tmp_path / "ns"), "--database", via_socket,
                                "index", "--batch", "10"])
        assert result["embedded"] == 86 and result["ray"]["nodes"] == 2
        assert len(result["ray"]["work"]) == 2

        expected, got = pg_vectors(single), pg_vectors(spread)
        assert len(expected) == 86 and got == expected
    finally:
        pg_server.drop_database(single)
        pg_server.drop_database(spread)


def test_the_transformer_runs_on_the_node_that_declares_a_gpu(tmp_path: Path, cluster: Cluster) -> None:
    """Five papers (the transformer is slow on CPU), one per task: with the head offering a CPU
    too, only the GPU request keeps every task off the head. The same batches and thread count
    give the same vectors, byte for byte."""
    papers = [str(FIXTURES / "arxiv_snapshot.jsonl"), str(FIXTURES / "hf_daily.json")]
    single, spread = tmp_path / "single", tmp_path / "spread"
    for home in (single, spread):
        run("--home", str(home), "import", *papers, "--no-index")
    run("--home", str(single), "index", "--encoder", "minilm", "--batch", "1", env=ONE_THREAD)

    result = cluster.index(["--home", str(spread), "index", "--encoder", "minilm", "--batch", "1"])
    # 5 instant vectors here, then 5 minilm vectors on the cluster
    assert result["encoder"] == "minilm" and result["embedded"] == 10
    assert result["ray"]["cluster_gpus"] == 1 and result["ray"]["nodes"] == 2
    (work,) = result["ray"]["work"]  # one node did all of it: the one with the GPU
    assert work["gpus"] == 1 and work["batches"] == 5
    assert work["devices"] == ["cpu"]  # no CUDA here: torch fell back to the CPU

    expected, got = sqlite_vectors(single, "vec_minilm"), sqlite_vectors(spread, "vec_minilm")
    assert len(got) == 5 and got == expected
