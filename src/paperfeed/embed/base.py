"""The encoder interface: text in, unit-length float32 vectors out."""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np

# Nothing here may ever reach a model hub: every encoder loads from files on local disk.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

MAX_QUERY_CHARS = 4_000
"""A query longer than this is cut before encoding: a pasted 10,000-word text still answers
quickly, and both encoders read only their first few hundred tokens anyway."""


class Encoder(ABC):
    """Turns texts into vectors. `name` is recorded with the stored vectors (vectors of two
    encoders are never mixed); `dim` is the vector length."""

    name: str
    dim: int

    @abstractmethod
    def _encode(self, texts: list[str]) -> np.ndarray: ...

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length float32 vectors, one row per text (an empty text gives a zero row)."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = np.asarray(self._encode(list(texts)), dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        np.divide(vectors, norms, out=vectors, where=norms > 0)
        return vectors

    def encode_query(self, query: str) -> np.ndarray:
        return self.encode([query[:MAX_QUERY_CHARS]])[0]


def paper_text(title: str, abstract: str) -> str:
    """What is embedded for a paper: its title, then its abstract."""
    return f"{title}. {abstract}" if abstract else title
