"""Text encoders (a fast static default; the transformer for quality, on onnxruntime int8 or on
torch) and the vector index.

    from paperfeed.embed import get_encoder
    enc = get_encoder("minilm-static")     # or "minilm-int8" (onnxruntime), "minilm" (torch)
    vectors = enc.encode(["a title. an abstract", ...])   # unit-length float32 rows
"""

from __future__ import annotations

from functools import lru_cache

from paperfeed.embed.base import Encoder, paper_text
from paperfeed.errors import InvalidInput

DEFAULT_ENCODER = "minilm-static"
ENCODERS = ("minilm-static", "minilm-int8", "minilm")
ALIASES = {
    "static": "minilm-static", "transformer": "minilm", "all-minilm-l6-v2": "minilm",
    "onnx": "minilm-int8", "minilm-onnx": "minilm-int8",
}


def canonical_name(name: str | None) -> str:
    """The encoder's canonical name; InvalidInput for an unknown one."""
    if not name:
        return DEFAULT_ENCODER
    key = ALIASES.get(name.strip().lower(), name.strip().lower())
    if key not in ENCODERS:
        raise InvalidInput(f"unknown encoder {name[:40]!r}; choose from {', '.join(ENCODERS)}")
    return key


@lru_cache(maxsize=4)
def get_encoder(name: str | None = None) -> Encoder:
    """A loaded encoder (cached per process: loading MiniLM takes seconds)."""
    key = canonical_name(name)
    if key == "minilm":
        from paperfeed.embed.transformer import MiniLMEncoder

        return MiniLMEncoder()
    if key == "minilm-int8":
        from paperfeed.embed.onnx import OnnxEncoder

        return OnnxEncoder()
    from paperfeed.embed.static import StaticEncoder

    return StaticEncoder()


__all__ = ["DEFAULT_ENCODER", "ENCODERS", "Encoder", "canonical_name", "get_encoder", "paper_text"]
