"""The quality encoder without torch: all-MiniLM-L6-v2 as an int8 ONNX graph (bundled under
`models/minilm-int8`, rebuilt by `scripts/build_onnx.py`), run by onnxruntime on the CPU with the
`tokenizers` fast tokenizer. Its vectors match sentence-transformers' (mean pooling inside the
graph, then unit length; smallest cosine 0.993 to torch fp32 over the 86 sample abstracts, each text run alone;
the build fails below 0.99).

Speed comes from not computing padding: texts are tokenised once, sorted by length and run in
batches of similar lengths, each padded only to its own longest text. One InferenceSession is
built per model file and process and shared by every encoder object.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from paperfeed.config import setting
from paperfeed.embed.base import Encoder
from paperfeed.errors import EncoderUnavailable

if TYPE_CHECKING:
    import onnxruntime
    from tokenizers import Tokenizer

MODEL_DIR = Path(__file__).resolve().parent / "models" / "minilm-int8"
MODEL_FILE = MODEL_DIR / "model.onnx"
MAX_TOKENS = 256
"""all-MiniLM-L6-v2 was trained at 128 tokens and sentence-transformers reads 256."""
BATCH = 1
"""Texts per run. One: dynamic int8 quantisation scales activations per tensor, so a text run
beside others gets a slightly different vector (cosine down to 0.97 seen at 8 per run); alone,
a paper's vector depends on its text only, whatever else is embedded with it or in which order.
Measured on 64 sample abstracts in one run (a loaded machine): 2.6-3.8 texts/s alone against
3.0-3.6 at 8 per run, within noise (without padding, batching saves little on the CPU)."""
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
REBUILD = "rebuild it with `make onnx` (scripts/build_onnx.py)"


def model_file() -> Path:
    """The model to load: PAPERFEED_ONNX_MODEL (a .onnx file with its tokenizer.json beside it, or
    a folder `scripts/build_onnx.py DIR` wrote), else the bundled one."""
    configured: Path | None = setting("onnx_model")
    return configured if configured else MODEL_FILE


def default_threads() -> int:
    """onnxruntime's intra-op threads: PAPERFEED_ONNX_THREADS, else the cores this process may
    use (capped at 4: past that, a 6-layer model of this size gains little)."""
    configured: int | None = setting("onnx_threads")
    if configured:
        return configured
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, 4))


@lru_cache(maxsize=4)
def _session(path: Path, threads: int) -> onnxruntime.InferenceSession:
    """The session for a model file (one per process and file); EncoderUnavailable for a missing,
    unreadable or foreign file, never onnxruntime's own traceback."""
    if not path.is_file():
        raise EncoderUnavailable(f"ONNX model missing at {path}: {REBUILD}")
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3  # errors only: no warnings on stderr at every start
    try:
        session = onnxruntime.InferenceSession(
            str(path), sess_options=options, providers=["CPUExecutionProvider"]
        )
    except Exception as exc:  # onnxruntime raises its own classes (InvalidProtobuf, Fail, ...)
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise EncoderUnavailable(f"ONNX model at {path} cannot be loaded ({first}): {REBUILD}") from None
    names = tuple(i.name for i in session.get_inputs())
    outputs = session.get_outputs()
    if set(names) != set(INPUTS) or len(outputs) != 1 or outputs[0].shape[-1] != 384:
        raise EncoderUnavailable(
            f"ONNX model at {path} is not a MiniLM sentence encoder (inputs {names}): {REBUILD}"
        )
    return session


def _tokenizer(path: Path) -> Tokenizer:
    from tokenizers import Tokenizer

    if not path.is_file():
        raise EncoderUnavailable(f"tokenizer missing at {path}: {REBUILD}")
    try:
        tokenizer = Tokenizer.from_file(str(path))
    except Exception as exc:  # tokenizers raises a bare Exception for a malformed file
        raise EncoderUnavailable(f"tokenizer at {path} cannot be read ({exc}): {REBUILD}") from None
    tokenizer.no_padding()
    tokenizer.enable_truncation(MAX_TOKENS)
    return tokenizer


class OnnxEncoder(Encoder):
    """all-MiniLM-L6-v2 through onnxruntime: `OnnxEncoder().encode(texts)` gives (n, 384) float32
    unit rows. `path` is the .onnx file (its folder holds tokenizer.json; default `model_file()`)."""

    name = "minilm-int8"
    dim = 384
    device = "cpu"

    def __init__(self, path: Path | None = None, threads: int | None = None, batch: int = BATCH) -> None:
        path = Path(path or model_file()).resolve()
        self.batch = max(1, batch)
        self.threads = threads or default_threads()
        if path.is_dir():
            path = path / "model.onnx"
        self.path = path
        self._session = _session(path, self.threads)
        self._tokenizer = _tokenizer(path.parent / "tokenizer.json")

    def _encode(self, texts: list[str]) -> np.ndarray:
        encodings = self._tokenizer.encode_batch_fast(texts)
        lengths = np.fromiter((len(e.ids) for e in encodings), dtype=np.int64, count=len(texts))
        order = np.argsort(lengths, kind="stable")
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(order), self.batch):
            rows = order[start : start + self.batch]
            width = int(lengths[rows].max())
            ids = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for r, i in enumerate(rows):
                n = int(lengths[i])
                ids[r, :n] = encodings[i].ids
                mask[r, :n] = 1
            feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            out[rows] = self._session.run(None, feed)[0]
        return out
