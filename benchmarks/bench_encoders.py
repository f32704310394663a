"""The encoders side by side: throughput, memory and quality of all-MiniLM-L6-v2 on onnxruntime
(int8, the bundled `minilm-int8`, and the fused fp32 graph it was quantised from), on torch
(sentence-transformers, `minilm`) and of the static encoder (`minilm-static`).

    python benchmarks/bench_encoders.py speed [--texts 516] [--runs 3]
    python benchmarks/bench_encoders.py sweep [--texts 258]      # batch size x threads, int8
    python benchmarks/bench_encoders.py memory
    python benchmarks/bench_encoders.py graphs A.onnx B.onnx ... [--texts 32]  # candidates, one run
    python benchmarks/bench_encoders.py profile A.onnx [--texts 24]   # onnxruntime per-op totals
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["speed", "sweep", "memory", "quality", "graphs", "profile",
                                         "_quality", "_memory"])
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
    else:
        result = quality()
    print(json.dumps({"started": started, args.what: result}, indent=2))


if __name__ == "__main__":
    main()
