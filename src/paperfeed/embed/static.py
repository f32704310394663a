"""The fast default encoder: a static (model2vec) model distilled from all-MiniLM-L6-v2, bundled
under `models/minilm-static` (rebuilt by `scripts/distill.py`). A text's vector is the mean of its
tokens' vectors: no neural network runs at query or import time, so it embeds thousands of
abstracts a second on a laptop CPU."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from paperfeed.embed.base import Encoder

MODEL_DIR = Path(__file__).resolve().parent / "models" / "minilm-static"
MAX_TOKENS = 512


class StaticEncoder(Encoder):
    name = "minilm-static"

    def __init__(self, path: Path = MODEL_DIR) -> None:
        from model2vec import StaticModel

        if not (path / "model.safetensors").exists():
            raise FileNotFoundError(
                f"static model missing at {path}: run `make distill` to rebuild it"
            )
        self.model = StaticModel.from_pretrained(path, force_download=False)
        self.dim = int(self.model.dim)

    def _encode(self, texts: list[str]) -> np.ndarray:
        # model2vec's multiprocessing pays off only on huge batches and forks the caller; the
        # caller batches instead.
        return self.model.encode(
            texts, max_length=MAX_TOKENS, batch_size=1024, use_multiprocessing=False
        )
