"""The encoders side by side: throughput, memory and quality of all-MiniLM-L6-v2 on onnxruntime
(int8, the bundled `minilm-int8`, and the fused fp32 graph it was quantised from), on torch
(sentence-transformers, `minilm`) and of the static encoder (`minilm-static`).

    python benchmarks/bench_encoders.py speed [--texts 516] [--runs 3]
    python benchmarks/bench_encoders.py sweep [--texts 258]      # batch size x threads, int8
    python benchmarks/bench_encoders.py memory
    python benchmarks/bench_encoders.py graphs A.onnx B.onnx ... [--texts 32]  # candidates, one run
    python benchmarks/bench_encoders.py profile A.onnx [--texts 24]   # onnxruntime per-op totals
    python benchmarks/bench_encoders.py options [--texts 32]   # session settings, shipped graph
    python benchmarks/bench_encoders.py gemm                   # multiply-adds/s the CPU delivers
    python benchmarks/bench_encoders.py quality

Texts are the real sample abstracts (title. abstract, the 86 papers of the two bundled pages),
repeated to the size asked, read to 256 tokens. `speed` times every encoder on the same texts,
interleaved, `--runs` rounds, and reports the median abstracts/s and the load average.
`memory`: each encoder in a fresh process (load + encode 128 texts): peak RSS. `quality`: per
encoder in its own process, nDCG@10 / MRR@10 of semantic and hybrid search on `tests/fixtures/beir`
(what `paperfeed eval` computes) and precision@10 of related papers on the two saved pages (as
`bench_related.py`), with 95 % paired bootstrap intervals of int8 minus fp32 and int8 minus torch.

The fp32 graph is `build/onnx/minilm-fp32.onnx` (`scripts/build_onnx.py --fp32 ...`, built here
when missing); it is loaded as `minilm-int8` through PAPERFEED_ONNX_MODEL in its own process.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
FP32 = ROOT / "build/onnx/minilm-fp32.onnx"
BEIR = ROOT / "tests/fixtures/beir"
VARIANTS = ("int8", "fp32", "torch", "static")
ENV = {"int8": {}, "fp32": {"PAPERFEED_ONNX_MODEL": str(FP32)}, "torch": {}, "static": {}}
NAME = {"int8": "minilm-int8", "fp32": "minilm-int8", "torch": "minilm", "static": "minilm-static"}


def ensure_fp32() -> None:
    if not FP32.exists():
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run([sys.executable, str(ROOT / "scripts/build_onnx.py"), tmp, "--fp32",
                            str(FP32)], check=True)


def sample_texts() -> list[str]:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_related import pages

    from paperfeed.embed import paper_text

    papers, _ = pages()
    return [paper_text(p.title, p.abstract) for p in papers]


def texts_of(n: int) -> list[str]:
    base = sample_texts()
    return [base[i % len(base)] for i in range(n)]


def encoder_of(variant: str, **kwargs):  # noqa: ANN201
    """A fresh encoder object for a variant, in this process."""
    if variant in ("int8", "fp32"):
        from paperfeed.embed.onnx import MODEL_FILE, OnnxEncoder

        return OnnxEncoder(FP32 if variant == "fp32" else MODEL_FILE, **kwargs)
    if variant == "torch":
        from paperfeed.embed.transformer import MiniLMEncoder

        return MiniLMEncoder(device="cpu")
    from paperfeed.embed.static import StaticEncoder

    return StaticEncoder()


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def tokens(texts: list[str]) -> float:
    from tokenizers import Tokenizer

    from paperfeed.embed.onnx import MODEL_DIR

    tok = Tokenizer.from_file(str(MODEL_DIR / "tokenizer.json"))
    tok.enable_truncation(256)
    return float(np.mean([len(e.ids) for e in tok.encode_batch(texts)]))


def speed(n: int, runs: int) -> dict:
    ensure_fp32()
    texts = texts_of(n)
    encoders = {v: encoder_of(v) for v in VARIANTS}
    for enc in encoders.values():
        enc.encode(texts[:16])  # warm up
    rates: dict[str, list[float]] = {v: [] for v in VARIANTS}
    before = load()
    for r in range(runs):
        order = VARIANTS if r % 2 == 0 else VARIANTS[::-1]
        for v in order:
            t = time.perf_counter()
            encoders[v].encode(texts)
            rates[v].append(n / (time.perf_counter() - t))
            print(f"run {r + 1} {v}: {rates[v][-1]:.1f} abstracts/s (load {load()})", flush=True)
    return {
        "texts": n, "mean_tokens": round(tokens(texts), 1), "runs": runs,
        "load_before": before, "load_after": load(),
        "threads": encoders["int8"].threads, "batch": encoders["int8"].batch,
        "abstracts_per_s": {v: round(statistics.median(x), 1) for v, x in rates.items()},
        "all": {v: [round(y, 1) for y in x] for v, x in rates.items()},
    }


def sweep(n: int, runs: int) -> dict:
    """int8: abstracts/s by batch size and intra-op threads (median of `runs`, interleaved)."""
    texts = texts_of(n)
    configs = [(b, t) for t in (1, 2) for b in (1, 4, 8, 16, 32, 64)]
    encoders = {c: encoder_of("int8", batch=c[0], threads=c[1]) for c in configs}
    for enc in encoders.values():
        enc.encode(texts[:8])
    rates: dict[tuple[int, int], list[float]] = {c: [] for c in configs}
    before = load()
    for r in range(runs):
        for c in configs if r % 2 == 0 else configs[::-1]:
            t = time.perf_counter()
            encoders[c].encode(texts)
            rates[c].append(n / (time.perf_counter() - t))
        print(f"round {r + 1} done (load {load()})", flush=True)
    return {"texts": n, "runs": runs, "load_before": before, "load_after": load(),
            "abstracts_per_s": {f"batch {b}, threads {t}": round(statistics.median(rates[(b, t)]), 1)
                                for b, t in configs}}


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024


def _memory_here(variant: str) -> dict:
    """In this fresh process: RSS after importing paperfeed, after loading the encoder, after
    encoding 500 texts, and the peak."""
    import resource

    import paperfeed  # noqa: F401

    base = _rss_mb()
    encoder = encoder_of(variant)
    loaded = _rss_mb()
    encoder.encode(texts_of(128))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"python_paperfeed_mb": round(base), "loaded_mb": round(loaded),
            "after_128_mb": round(_rss_mb()), "peak_mb": round(peak),
            "torch_imported": "torch" in sys.modules}


def _peak_rss_of(variant: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "_memory", variant], capture_output=True,
                         text=True, check=True, env={**os.environ, **ENV[variant]})
    return json.loads(out.stdout)


def memory() -> dict:
    ensure_fp32()
    return {v: _peak_rss_of(v) for v in VARIANTS}


# -- quality ------------------------------------------------------------------------------------


def _quality_here(variant: str) -> dict:
    """In this process (PAPERFEED_ONNX_MODEL set by the caller for fp32): per-query retrieval
    scores and per-paper related-papers precision."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_related import cosine_lists, library_with, pages, per_paper, related_lists

    from paperfeed.embed import get_encoder, paper_text
    from paperfeed.evaluate import library_ranker, load_beir, load_library, mrr_at, ndcg_at

    name = NAME[variant]
    data = load_beir(BEIR)
    out: dict = {"retrieval": {}, "related": {}}
    with tempfile.TemporaryDirectory() as tmp:
        lib = load_library(data, Path(tmp) / "beir", name, embed=True)
        try:
            for mode in ("semantic", "hybrid", "keyword"):
                rank = library_ranker(lib, mode)
                rows = {}
                for qid, rels in data.qrels.items():
                    ranked = rank(data.queries[qid], 100)
                    rows[qid] = (ndcg_at(ranked, rels), mrr_at(ranked, rels))
                out["retrieval"][mode] = rows
        finally:
            lib.close()
        papers, on = pages()
        lib = library_with(name, Path(tmp) / "pages")
        try:
            vectors = get_encoder(name).encode([paper_text(p.title, p.abstract) for p in papers])
            out["related"]["cosine"] = per_paper(cosine_lists([p.id for p in papers], vectors), on)
            out["related"]["related"] = per_paper(related_lists(lib, papers), on)
        finally:
            lib.close()
    return out


def _paired(a: list[float], b: list[float], rounds: int = 10_000) -> tuple[float, float, float]:
    diff = np.asarray(a) - np.asarray(b)
    rng = np.random.default_rng(7)
    means = diff[rng.integers(0, len(diff), size=(rounds, len(diff)))].mean(axis=1)
    return float(diff.mean()), float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def quality() -> dict:
    ensure_fp32()
    runs = {}
    for v in VARIANTS:
        out = subprocess.run([sys.executable, __file__, "_quality", v], capture_output=True,
                             text=True, check=True, env={**os.environ, **ENV[v]})
        runs[v] = json.loads(out.stdout)
        print(f"quality {v} done", flush=True)
    table: dict = {}
    for v, run in runs.items():
        row = {}
        for mode, per_query in run["retrieval"].items():
            if mode == "keyword" and v != "static":
                continue
            ndcg, mrr = zip(*per_query.values(), strict=True)
            row[f"{mode} nDCG@10"] = round(float(np.mean(ndcg)), 4)
            row[f"{mode} MRR@10"] = round(float(np.mean(mrr)), 4)
        for ranker, per_paper in run["related"].items():
            row[f"related P@10 ({ranker})"] = round(float(np.mean(list(per_paper.values()))), 4)
        table[v] = row
    diffs: dict = {}
    for other in ("fp32", "torch"):
        for mode in ("semantic", "hybrid"):
            a, b = runs["int8"]["retrieval"][mode], runs[other]["retrieval"][mode]
            qids = sorted(a)
            for i, metric in enumerate(("nDCG@10", "MRR@10")):
                d, lo, hi = _paired([a[q][i] for q in qids], [b[q][i] for q in qids])
                diffs[f"int8 - {other}: {mode} {metric}"] = [round(d, 4), round(lo, 4), round(hi, 4)]
        for ranker in ("cosine", "related"):
            a, b = runs["int8"]["related"][ranker], runs[other]["related"][ranker]
            ids = sorted(a)
            d, lo, hi = _paired([a[p] for p in ids], [b[p] for p in ids])
            diffs[f"int8 - {other}: related P@10 ({ranker})"] = [round(d, 4), round(lo, 4), round(hi, 4)]
    return {"table": table, "int8_minus (mean, 95% CI)": diffs,
            "keyword baseline": {k: v for k, v in table["static"].items() if k.startswith("keyword")}}


def graphs(paths: list[str], n: int, runs: int) -> dict:
    """Candidate graphs side by side in one process (batch 1, the default threads), interleaved,
    median abstracts/s; and each one's smallest / mean cosine to sentence-transformers' vectors
    (torch fp32) over the 86 sample abstracts, what `scripts/build_onnx.py --check` tests."""
    from paperfeed.embed.onnx import OnnxEncoder

    texts = texts_of(n)
    encoders = {p: OnnxEncoder(Path(p)) for p in paths}
    for enc in encoders.values():
        enc.encode(texts[:2])
    rates: dict[str, list[float]] = {p: [] for p in paths}
    before = load()
    for r in range(runs):
        for p in paths if r % 2 == 0 else paths[::-1]:
            t = time.perf_counter()
            encoders[p].encode(texts)
            rates[p].append(n / (time.perf_counter() - t))
        print(f"round {r + 1} done (load {load()})", flush=True)
    out = {"texts": n, "runs": runs, "load_before": before, "load_after": load(), "graphs": {}}
    sample = sample_texts()
    reference = _reference(sample)
    for p, enc in encoders.items():
        cos = np.sum(enc.encode(sample) * reference, axis=1)
        out["graphs"][p] = {"abstracts_per_s": round(statistics.median(rates[p]), 1),
                            "all": [round(x, 1) for x in rates[p]],
                            "min_cos": round(float(cos.min()), 4), "mean_cos": round(float(cos.mean()), 4)}
    return out


def _reference(texts: list[str]) -> np.ndarray:
    """sentence-transformers' vectors of the texts (torch fp32, 256 tokens), cached in build/."""
    import hashlib

    digest = hashlib.sha256("\n".join(texts).encode()).hexdigest()[:16]
    cache = ROOT / f"build/onnx/reference-{digest}.npy"
    if cache.exists():
        return np.load(cache)
    sys.path.insert(0, str(ROOT / "scripts"))
    from build_onnx import reference_vectors

    from paperfeed.embed.transformer import minilm_path

    vecs = reference_vectors(minilm_path(), texts)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.save(cache, vecs)
    return vecs


def profile(path: str, n: int) -> dict:
    """Where a graph's time goes: onnxruntime's own profiler, kernel time per operator type over
    `n` texts at batch 1 (the shipped setting)."""
    import onnxruntime

    from paperfeed.embed.onnx import OnnxEncoder

    enc = OnnxEncoder(Path(path))
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = enc.threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.enable_profiling = True
    with tempfile.TemporaryDirectory() as tmp:
        options.profile_file_prefix = str(Path(tmp) / "ort")
        enc._session = onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        texts = texts_of(n)
        t = time.perf_counter()
        enc.encode(texts)  # no warm-up: kernel and wall time cover the same texts
        wall = time.perf_counter() - t
        events = json.loads(Path(enc._session.end_profiling()).read_text())
    per_op: dict[str, float] = {}
    for e in events:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"):
            op = e["args"]["op_name"]
            per_op[op] = per_op.get(op, 0.0) + e["dur"] / 1e6
    total = sum(per_op.values())
    return {"texts": n, "wall_s": round(wall, 2), "kernel_s": round(total, 2), "load": load(),
            "share": {op: round(100 * v / total, 1)
                      for op, v in sorted(per_op.items(), key=lambda kv: -kv[1]) if v / total > 0.001}}


# -- session settings and the arithmetic -----------------------------------------------------


def _options_of(name: str, threads: int, optimised: Path) -> tuple[Path | None, dict]:
    """(graph to load instead of the shipped one, settings) of a session-settings variant."""
    import onnxruntime as ort

    level = {"BASIC": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
             "EXTENDED": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
             "ALL": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
             "NONE": ort.GraphOptimizationLevel.ORT_DISABLE_ALL}
    base: dict = {"level": level["ALL"], "intra": threads, "inter": 1,
                  "mode": ort.ExecutionMode.ORT_SEQUENTIAL, "config": {}}
    variants: dict[str, tuple[Path | None, dict]] = {
        "shipped (ALL, 2 threads, spinning)": (None, {}),
        "EXTENDED": (None, {"level": level["EXTENDED"]}),
        "BASIC": (None, {"level": level["BASIC"]}),
        "offline-optimised graph (ALL, saved), loaded with optimisations off": (
            optimised, {"level": level["NONE"]}),
        "intra-op spinning off": (None, {"config": {"session.intra_op.allow_spinning": "0"}}),
        "inter_op 2, ORT_PARALLEL": (None, {"inter": 2, "mode": ort.ExecutionMode.ORT_PARALLEL}),
        "intra-op thread pinned to core 2 (+ caller on core 1)": (
            None, {"config": {"session.intra_op_thread_affinities": "2"}, "pin": True}),
        "denormals as zero": (None, {"config": {"session.set_denormal_as_zero": "1"}}),
        "1 thread each, 2 sessions in parallel over the texts": (None, {"intra": 1, "split": 2}),
        "shipped settings, 8 texts a run": (None, {"batch": 8}),
    }
    path, change = variants[name]
    return path, {**base, **change}


OPTION_VARIANTS = (
    "shipped (ALL, 2 threads, spinning)", "EXTENDED", "BASIC",
    "offline-optimised graph (ALL, saved), loaded with optimisations off", "intra-op spinning off",
    "inter_op 2, ORT_PARALLEL", "intra-op thread pinned to core 2 (+ caller on core 1)",
    "denormals as zero", "1 thread each, 2 sessions in parallel over the texts",
    "shipped settings, 8 texts a run",
)


class _Variant:
    """One session-settings variant of the shipped graph, encoding like OnnxEncoder (batch 1
    unless the variant says otherwise)."""

    def __init__(self, name: str, threads: int, optimised: Path) -> None:
        import onnxruntime as ort

        from paperfeed.embed.onnx import MODEL_FILE, OnnxEncoder

        path, o = _options_of(name, threads, optimised)
        self.pin = bool(o.get("pin"))
        self.encoders = []
        for _ in range(int(o.get("split", 1))):
            enc = OnnxEncoder(MODEL_FILE, batch=int(o.get("batch", 1)))
            options = ort.SessionOptions()
            options.intra_op_num_threads = o["intra"]
            options.inter_op_num_threads = o["inter"]
            options.execution_mode = o["mode"]
            options.graph_optimization_level = o["level"]
            options.log_severity_level = 3
            for key, value in o["config"].items():
                options.add_session_config_entry(key, value)
            enc._session = ort.InferenceSession(str(path or MODEL_FILE), options,
                                                providers=["CPUExecutionProvider"])
            self.encoders.append(enc)

    def encode(self, texts: list[str]) -> np.ndarray:
        if len(self.encoders) == 1:
            if not self.pin:
                return self.encoders[0].encode(texts)
            me = threading.get_native_id()
            before = os.sched_getaffinity(me)
            os.sched_setaffinity(me, {0})
            try:
                return self.encoders[0].encode(texts)
            finally:
                os.sched_setaffinity(me, before)
        from concurrent.futures import ThreadPoolExecutor

        parts = np.array_split(np.arange(len(texts)), len(self.encoders))
        with ThreadPoolExecutor(len(self.encoders)) as pool:
            outs = list(pool.map(lambda ep: ep[0].encode([texts[i] for i in ep[1]]),
                                 zip(self.encoders, parts, strict=True)))
        return np.concatenate(outs)


def options(n: int, runs: int) -> dict:
    """The shipped graph under different onnxruntime session settings, side by side in one
    process (batch 1), interleaved, median abstracts/s; and each one's smallest / mean cosine to
    sentence-transformers' vectors over the 86 sample abstracts."""
    import onnxruntime as ort

    from paperfeed.embed.onnx import MODEL_FILE, default_threads

    threads = default_threads()
    optimised = ROOT / "build/onnx/minilm-int8-ort-optimised.onnx"
    if not optimised.exists():
        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.optimized_model_filepath = str(optimised)
        ort.InferenceSession(str(MODEL_FILE), so, providers=["CPUExecutionProvider"])
    texts = texts_of(n)
    variants = {name: _Variant(name, threads, optimised) for name in OPTION_VARIANTS}
    for v in variants.values():
        v.encode(texts[:4])
    rates: dict[str, list[float]] = {name: [] for name in variants}
    before = load()
    for r in range(runs):
        for name in OPTION_VARIANTS if r % 2 == 0 else OPTION_VARIANTS[::-1]:
            t = time.perf_counter()
            variants[name].encode(texts)
            rates[name].append(n / (time.perf_counter() - t))
        print(f"round {r + 1} done (load {load()})", flush=True)
    out = {"texts": n, "runs": runs, "threads": threads, "load_before": before,
           "load_after": load(), "variants": {}}
    checks = {"pages": sample_texts(), "build check": build_check_texts()}
    references = {k: _reference(t) for k, t in checks.items()}
    for name, v in variants.items():
        row: dict = {"abstracts_per_s": round(statistics.median(rates[name]), 1),
                     "all": [round(x, 1) for x in rates[name]]}
        for k, texts in checks.items():
            cos = np.sum(v.encode(texts) * references[k], axis=1)
            row[f"min / mean cos ({k})"] = [round(float(cos.min()), 4), round(float(cos.mean()), 4)]
        out["variants"][name] = row
    return out


def build_check_texts() -> list[str]:
    """The 86 abstracts as `scripts/build_onnx.py --check` reads them (tests/fixtures/beir: the
    same papers, built from the fixture's files)."""
    sys.path.insert(0, str(ROOT / "scripts"))
    from build_onnx import sample_texts as build_texts

    return build_texts()


def macs_per_abstract(tokens: int = 256, layers: int = 6, d: int = 384, ffn: int = 1536) -> dict:
    """Multiply-adds of one MiniLM forward pass at `tokens` tokens: the linear layers (Q, K, V,
    attention output, FFN in and out) and the attention's scores and weighted sum."""
    linear = layers * tokens * (4 * d * d + 2 * d * ffn)
    attention = layers * 2 * tokens * tokens * d
    return {"linear": linear, "attention": attention, "total": linear + attention}


def gemm(runs: int) -> dict:
    """What the CPU delivers on the model's largest GEMM shape (256 x 384 -> 1536, the FFN's
    first projection) through onnxruntime's own kernels, 1 and 2 threads: fp32 `MatMul`, the
    int8 `DynamicQuantizeMatMul` the shipped graph uses (activations quantised on the fly) and
    the block-quantised 8-bit `MatMulNBits`, in multiply-adds per second; then the abstracts/s
    those rates allow at 256 tokens if every multiply-add of the model ran at them (an upper
    bound: layer norms, GELU, softmax excluded)."""
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    m, k, n = 256, 384, 1536
    rng = np.random.default_rng(0)
    w = rng.standard_normal((k, n)).astype(np.float32) * 0.05
    a = rng.standard_normal((1, m, k)).astype(np.float32)
    x = helper.make_tensor_value_info("A", TensorProto.FLOAT, [1, m, k])
    y = helper.make_tensor_value_info("Y", TensorProto.FLOAT, [1, m, n])
    scale = np.abs(w).max(axis=0) / 127
    wq = np.round(w / scale).astype(np.int8)
    graphs = {
        "fp32 MatMul": helper.make_graph(
            [helper.make_node("MatMul", ["A", "W"], ["Y"])], "g", [x], [y],
            [numpy_helper.from_array(w, "W")]),
        "int8 DynamicQuantizeMatMul (per channel)": helper.make_graph(
            [helper.make_node("DynamicQuantizeMatMul", ["A", "W", "S", "Z"], ["Y"],
                              domain="com.microsoft")], "g", [x], [y],
            [numpy_helper.from_array(wq, "W"), numpy_helper.from_array(scale.astype(np.float32), "S"),
             numpy_helper.from_array(np.zeros(n, dtype=np.int8), "Z")]),
    }
    block = 32  # MatMulNBits: 8-bit weights in blocks of 32 along K, int8 compute (level 4)
    blocks = w.T.reshape(n, k // block, block)
    bscale = np.abs(blocks).max(axis=2) / 127
    graphs["int8 MatMulNBits (8 bits, blocks of 32, accuracy_level 4)"] = helper.make_graph(
        [helper.make_node("MatMulNBits", ["A", "B", "S"], ["Y"], domain="com.microsoft", K=k, N=n,
                          bits=8, block_size=block, accuracy_level=4)], "g", [x], [y],
        [numpy_helper.from_array((np.round(blocks / bscale[..., None]) + 128).astype(np.uint8), "B"),
         numpy_helper.from_array(bscale.reshape(-1).astype(np.float32), "S")])
    ops = float(m * k * n)
    out: dict = {"shape": f"{m}x{k} @ {k}x{n}", "load_before": load(), "gmacs_per_s": {}}
    for name, g in graphs.items():
        model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17),
                                                    helper.make_opsetid("com.microsoft", 1)])
        model.ir_version = 8
        for threads in (1, 2):
            so = ort.SessionOptions()
            so.intra_op_num_threads = threads
            so.log_severity_level = 3
            sess = ort.InferenceSession(model.SerializeToString(), so,
                                        providers=["CPUExecutionProvider"])
            for _ in range(20):
                sess.run(None, {"A": a})
            meds = []
            for _ in range(runs):
                t = time.perf_counter()
                for _ in range(100):
                    sess.run(None, {"A": a})
                meds.append(100 * ops / (time.perf_counter() - t) / 1e9)
            out["gmacs_per_s"][f"{name}, {threads} thread(s)"] = round(statistics.median(meds), 1)
    macs = macs_per_abstract()
    out["macs_per_abstract_256"] = macs
    best8 = out["gmacs_per_s"]["int8 DynamicQuantizeMatMul (per channel), 2 thread(s)"]
    best32 = out["gmacs_per_s"]["fp32 MatMul, 2 thread(s)"]
    out["bound_abstracts_per_s"] = {
        "linear int8 + attention fp32, at the measured rates": round(
            1e9 / (macs["linear"] / best8 + macs["attention"] / best32), 1),
        "everything at the int8 rate": round(best8 * 1e9 / macs["total"], 1),
    }
    out["load_after"] = load()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["speed", "sweep", "memory", "quality", "graphs", "profile",
                                         "options", "gemm", "_quality", "_memory"])
    parser.add_argument("variant", nargs="*", help="graphs / profile: .onnx files")
    parser.add_argument("--texts", type=int, default=516)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if args.what in ("_quality", "_memory"):
        run = _quality_here if args.what == "_quality" else _memory_here
        print(json.dumps(run(args.variant[0])))
        return
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    if args.what == "speed":
        result = speed(args.texts, args.runs)
    elif args.what == "sweep":
        result = sweep(args.texts, args.runs)
    elif args.what == "memory":
        result = memory()
    elif args.what == "graphs":
        result = graphs(args.variant, args.texts, args.runs)
    elif args.what == "profile":
        result = profile(args.variant[0], args.texts)
    elif args.what == "options":
        result = options(args.texts, args.runs)
    elif args.what == "gemm":
        result = gemm(args.runs)
    else:
        result = quality()
    print(json.dumps({"started": started, args.what: result}, indent=2))


if __name__ == "__main__":
    main()
