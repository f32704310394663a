"""`paperfeed index --ray ADDRESS`: embedding spread over a Ray cluster (a head and a worker node on
loopback) gives exactly the vectors of a single-process `paperfeed index`.

Ray binds every network interface, so the cluster runs inside a network namespace that has only
`lo` (`unshare --net`, as root), and a PID namespace of its own: nothing outside this machine can
reach it, and stopping it touches no other Ray on the machine.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import orjson
import pytest

BIN = Path(sys.executable).parent
RAY_PORT = 6390
# A network namespace with only loopback, and a PID namespace: `ray stop` then sees (and the
# namespace's end kills) only the Ray processes started here.
UNSHARE = ["unshare", "--net", "--pid", "--fork", "--mount-proc"]


def paperfeed(*args: str) -> list[str]:
    return [str(Path(sys.executable).with_name("paperfeed")), *args]


def vectors(home: Path) -> dict[str, bytes]:
    with sqlite3.connect(home / "paperfeed.db") as conn:
        return dict(conn.execute(
            "SELECT p.id, e.vector FROM papers p JOIN embeddings e ON e.paper_rowid = p.rowid"
        ))


def namespaces_allowed() -> bool:
    return shutil.which("unshare") is not None and subprocess.run(
        [*UNSHARE, "true"], capture_output=True
    ).returncode == 0


@pytest.mark.skipif(
    not namespaces_allowed(),
    reason="Ray binds every interface; this test needs `unshare --net --pid` (root or user namespaces) "
    "to confine it to loopback, and namespaces are not allowed here",
)
def test_a_ray_cluster_embeds_exactly_like_one_process(tmp_path: Path) -> None:
    single, spread = tmp_path / "single", tmp_path / "spread"
    for home in (single, spread):
        subprocess.run(paperfeed("--home", str(home), "import", "--sample", "--no-index"), check=True,
                       capture_output=True)
    subprocess.run(paperfeed("--home", str(single), "index"), check=True, capture_output=True)

    ray = str(BIN / "ray")
    temp = tempfile.mkdtemp(prefix="ray-", dir="/tmp")  # Ray's socket paths must stay short
    common = "--node-ip-address=127.0.0.1 --num-cpus=1 --disable-usage-stats"
    script = f"""
        set -e
        ip link set lo up
        {ray} start --head --port={RAY_PORT} {common} --include-dashboard=false \
            --temp-dir={temp} >/dev/null
        {ray} start --address=127.0.0.1:{RAY_PORT} {common} >/dev/null
        set +e
        {" ".join(paperfeed("--home", str(spread), "index", "--ray", f"127.0.0.1:{RAY_PORT}", "--json"))}
        rc=$?
        {ray} stop --force >/dev/null 2>&1
        exit $rc
    """
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "PATH": f"{BIN}:{os.environ['PATH']}"}
    try:
        proc = subprocess.run([*UNSHARE, "bash", "-c", script], capture_output=True,
                              text=True, env=env, timeout=300)
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = orjson.loads(proc.stdout)
    assert result["embedded"] == 86 and result["ray"]["nodes"] == 2

    expected, got = vectors(single), vectors(spread)
    assert len(got) == 86 and got == expected  # byte for byte the same vectors
