"""Bulk embedding spread over a Ray cluster: `paperfeed index --ray ADDRESS|auto`.

The driver (the machine running the command) reads the papers that lack vectors from the store
in the same batches a single-process `index` uses, sends each batch's texts to a Ray task, and
writes the vectors that come back to the store (and the index) in batch order. Workers need only
paperfeed installed and the encoder's weights (both ship in the package); they never touch the
database. With the same encoder and the same batches, the vectors are the ones a single process
computes. A task of the transformer encoder asks for a GPU when the cluster has one, so that
encoder's work runs on the nodes that declare GPUs (`ray start --num-gpus=N`); tasks are spread
over the nodes that can run them. The result says which node ran how many batches, on what device.

`ADDRESS` is a Ray cluster address (`host:port` of the head), `auto` the cluster this machine
belongs to (`ray start` was run here), or `local` for a throwaway one-machine cluster.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from paperfeed.embed import canonical_name
from paperfeed.embed.engine import EMBED_BATCH
from paperfeed.errors import InvalidInput

if TYPE_CHECKING:
    from paperfeed.embed.engine import VectorSet

IN_FLIGHT_PER_CPU = 2


def _embed_batch(encoder_name: str, texts: list[str]) -> tuple[np.ndarray, str, str]:
    """Runs on a Ray worker: the encoder is loaded once per worker process (cached). Returns the
    vectors, the node that computed them and the device the encoder ran on."""
    import ray

    from paperfeed.embed import get_encoder

    encoder = get_encoder(encoder_name)
    node = ray.get_runtime_context().get_node_id()
    return encoder.encode(texts), node, str(getattr(encoder, "device", "cpu"))


def embed_missing_ray(
    engine: VectorSet,
    address: str,
    progress: Callable[[int], None] | None = None,
    batch: int = EMBED_BATCH,
) -> dict[str, Any]:
    """Embed every paper without a vector on the Ray cluster at `address`, `batch` papers per
    task; returns counts, what the cluster offered and where the work ran."""
    if batch < 1:
        raise InvalidInput("the batch size must be at least 1")
    try:
        import ray
    except ImportError:
        raise InvalidInput("--ray needs Ray: pip install 'paperfeed[ray]'") from None
    from paperfeed.embed import paper_text

    if engine.vectors.encoder() is None:
        engine.use_encoder(None)
    name = canonical_name(engine.encoder_name)
    started_here = not ray.is_initialized()
    if started_here:
        try:
            ray.init(
                address=None if address == "local" else address,
                include_dashboard=False,
                log_to_driver=False,
                configure_logging=False,
                # Workers import paperfeed from the same installation as the driver.
                runtime_env={"env_vars": {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}},
            )
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise InvalidInput(f"cannot join the Ray cluster at {address[:100]}: {exc}") from None
    try:
        resources = ray.cluster_resources()
        gpus = float(resources.get("GPU", 0))
        remote = ray.remote(_embed_batch).options(
            num_cpus=1, num_gpus=1 if gpus and name == "minilm" else 0, max_retries=3,
            scheduling_strategy="SPREAD",
        )
        window = max(2, int(resources.get("CPU", 1) * IN_FLIGHT_PER_CPU))
        engine.index.sync()
        pending: deque[tuple[Any, np.ndarray]] = deque()
        done = 0
        after = 0
        work: dict[str, dict[str, Any]] = {}

        def drain(keep: int) -> None:
            nonlocal done
            while len(pending) > keep:  # in submission order: writes follow key order
                ref, keys = pending.popleft()
                vecs, node, device = ray.get(ref)
                ran = work.setdefault(node, {"batches": 0, "papers": 0, "devices": set()})
                ran["batches"] += 1
                ran["papers"] += len(keys)
                ran["devices"].add(device)
                seq = engine.vectors.put(keys.tolist(), vecs)
                engine.index.add(keys, vecs, seq)
                done += len(keys)
                if progress:
                    progress(len(keys))

        while rows := engine.vectors.missing(batch, after_key=after):
            after = rows[-1][0]
            keys = np.array([r[0] for r in rows], dtype=np.uint64)
            pending.append((remote.remote(name, [paper_text(t, a) for _, t, a in rows]), keys))
            drain(window)
        drain(0)
        engine.index.save()
        alive = {n["NodeID"]: n.get("Resources", {}) for n in ray.nodes() if n.get("Alive")}
        return {
            "encoder": name,
            "embedded": done,
            "cluster_cpus": resources.get("CPU", 0),
            "cluster_gpus": gpus,
            "nodes": len(alive),
            "work": [
                {"node": node, "gpus": alive.get(node, {}).get("GPU", 0), "batches": ran["batches"],
                 "papers": ran["papers"], "devices": sorted(ran["devices"])}
                for node, ran in sorted(work.items())
            ],
        }
    finally:
        if started_here:
            ray.shutdown()
