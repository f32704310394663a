"""The encoders, for real: the bundled static model and all-MiniLM-L6-v2 from its offline
package. Both must load from local files only (HF_HUB_OFFLINE is set by paperfeed.embed)."""

from __future__ import annotations

import os

import numpy as np
import pytest

from paperfeed.embed import canonical_name, get_encoder
from paperfeed.embed.base import MAX_QUERY_CHARS
from paperfeed.errors import InvalidInput

TEXTS = [
    "Speculative decoding accelerates inference of large language models with a draft model.",
    "A small draft model proposes tokens that a large language model verifies, speeding decoding.",
    "We measure the thermal conductivity of layered ceramic composites at high temperature.",
]


@pytest.mark.parametrize("name", ["minilm-static", "minilm"])
def test_encoders_give_unit_vectors_where_related_texts_are_nearer(name: str) -> None:
    encoder = get_encoder(name)
    vectors = encoder.encode(TEXTS)
    assert vectors.shape == (3, encoder.dim) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)
    sims = vectors @ vectors.T
    # The two texts about speculative decoding are closer to each other than to ceramics.
    assert sims[0, 1] > sims[0, 2] + 0.1
    assert sims[1, 0] > sims[1, 2] + 0.1
    # Deterministic: the same text gives the same vector.
    assert np.allclose(encoder.encode(TEXTS[:1])[0], vectors[0], atol=1e-5)


def test_static_encoder_dimensions_and_the_transformer_dimensions() -> None:
    assert get_encoder("minilm-static").dim == 256
    assert get_encoder("minilm").dim == 384
    assert get_encoder("minilm").device in ("cpu", "cuda")


def test_nothing_reaches_a_model_hub() -> None:
    get_encoder("minilm-static")
    assert os.environ.get("HF_HUB_OFFLINE") == "1"


def test_empty_and_odd_texts_never_fail() -> None:
    encoder = get_encoder("minilm-static")
    assert encoder.encode([]).shape == (0, encoder.dim)
    vectors = encoder.encode(["", "图神经网络的表示学习", "Обучение с подкреплением", "∑∫∂ 🙂"])
    assert vectors.shape == (4, encoder.dim)
    assert np.isfinite(vectors).all()
    # A text of no known token gives a zero vector, not NaN.
    assert not np.isnan(encoder.encode([""])).any()


def test_a_huge_query_is_cut_before_encoding() -> None:
    encoder = get_encoder("minilm-static")
    huge = "transformer attention " * 5_000  # 10,000 words
    vector = encoder.encode_query(huge)
    assert vector.shape == (encoder.dim,)
    assert np.allclose(vector, encoder.encode([huge[:MAX_QUERY_CHARS]])[0], atol=1e-5)


def test_encoder_names_and_aliases() -> None:
    assert canonical_name(None) == "minilm-static"
    assert canonical_name("static") == "minilm-static"
    assert canonical_name("MiniLM") == "minilm"
    assert canonical_name("all-MiniLM-L6-v2") == "minilm"
    with pytest.raises(InvalidInput, match="unknown encoder"):
        canonical_name("bert-huge")


def test_static_pooling_gives_model2vec_own_vectors() -> None:
    """The sparse-product pooling equals model2vec's own encode (mean of token rows, the first
    256 tokens), to float16 precision, on real abstracts of every length."""
    from pathlib import Path

    import paperfeed
    from paperfeed.embed import paper_text
    from paperfeed.records import Paper
    from paperfeed.sources import FORMATS

    sample = sorted((Path(paperfeed.__file__).parent / "sample").glob("*.txt"))[0]
    with sample.open("rb") as f:
        texts = [paper_text(p.title, p.abstract) for p in FORMATS["hf-page"](f, str(sample))
                 if isinstance(p, Paper)]
    # nothing, and a text whose words change after the 256-token cut
    texts += ["", "graph neural networks " * 200 + "protein folding dynamics " * 200]
    encoder = get_encoder("minilm-static")
    ours = encoder.encode(texts)
    theirs = encoder.model.encode(texts, max_length=256).astype(np.float32)
    norms = np.linalg.norm(theirs, axis=1, keepdims=True)
    theirs = np.divide(theirs, norms, out=np.zeros_like(theirs), where=norms > 0)
    assert len(texts) > 40
    assert not ours[-2].any() and not theirs[-2].any()
    cosines = (ours * theirs).sum(axis=1)
    assert np.delete(cosines, -2).min() > 0.999  # the float16 table: ~1e-3 per coordinate


def test_numpy_runs_one_blas_thread() -> None:
    """Small products on OpenBLAS worker threads were 50-200x slower on a busy machine; importing
    paperfeed keeps numpy's BLAS on one thread unless the user set OPENBLAS_NUM_THREADS, also
    after faiss ran a call on both cores. (faiss's own OpenBLAS is an OpenMP build: it follows
    the OpenMP count `embed.ann` sets per faiss call, and only faiss calls it.)"""
    import numpy as np
    from threadpoolctl import threadpool_info

    import paperfeed  # noqa: F401
    from paperfeed.embed import ann

    graph = ann.Graph(8, 16, 64)
    graph.add(np.arange(1, 33, dtype=np.uint64), np.eye(32, 8, dtype=np.float32) + 0.1)
    blas = [i for i in threadpool_info() if i["user_api"] == "blas" and "faiss" not in i["filepath"]]
    assert blas and all(i["num_threads"] == 1 for i in blas), blas
