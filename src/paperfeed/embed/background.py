"""The background embedder of `paperfeed serve`: fills the vector sets while the server answers.

One low-priority thread per process, and one embedder per store across processes (the store's
embedder lock: the other workers' threads wait for it). It encodes with its own single-threaded
onnxruntime session, so the quality encoder's work stays on one core, in this thread. It first
brings the active set's index up to date and saves it (so the first searches after a crash do
not pay for the catch-up), then completes the static set, then the quality set, newest papers
first, in small batches, sleeping between batches and pausing while requests are in flight; the
quality set becomes active in one transaction once it covers every paper. A missing or corrupt
model file, or a full disk, stops a round with a warning (the active set keeps serving) and the
next round tries again.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable

from paperfeed.embed.base import Encoder
from paperfeed.embed.engine import SemanticEngine
from paperfeed.errors import EncoderUnavailable

log = logging.getLogger(__name__)

BATCH = 32
"""Papers per encoder call: ~2.5 s of work for the quality encoder on one core (~12-13/s)."""
PAUSE = 0.05
"""Seconds slept after every batch, so queries get the cores."""
NICE = 5
"""The thread's nice value: below the request threads, yet not starved on a busy machine (19
let other processes' work stall it for minutes)."""
THREADS: int | None = 1
"""onnxruntime intra-op threads of the embedder's own session of the ONNX model (None: share the
process's, one thread per core). One: the work runs in this thread at its nice value and leaves
the other cores to requests. Measured at 1M papers, 4 searches/s (BENCHMARKS.md, "Two vector
sets"): with the shared two-thread session search p50 rose ~2 ms (~12 %) while filling; with its
own one-thread session p50 and p99 stayed within the idle runs' spread, for ~30 % less fill rate
(~12 against ~17 papers/s on 2 cores)."""
POLL = 30.0
"""Seconds between rounds once everything is embedded (new papers arrive by import)."""


class BackgroundEmbedder:
    def __init__(
        self,
        engine: SemanticEngine,
        busy: Callable[[], bool] = lambda: False,
        *,
        batch: int = BATCH,
        pause: float = PAUSE,
        poll: float = POLL,
        nice: int = NICE,
        threads: int | None = THREADS,
    ) -> None:
        self.engine = engine
        self.busy = busy
        self.batch = batch
        self.nice = nice
        self.threads = threads
        self._own: Encoder | None = None
        self.pause = pause
        self.poll = poll
        self.error: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="embedder", daemon=True)

    def start(self) -> BackgroundEmbedder:
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    # -- the thread -----------------------------------------------------------------------------

    def _run(self) -> None:
        with contextlib.suppress(AttributeError, OSError):  # Linux: a thread's own nice value
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), self.nice)
        while not self._stop.is_set():
            lock = self.engine.sets.try_embedder_lock()
            if lock is None:  # another worker or process embeds this store
                self._stop.wait(self.poll)
                continue
            try:
                while not self._stop.is_set():
                    self._round()
                    self._stop.wait(self.poll)
            finally:
                lock.release()

    def _round(self) -> None:
        try:
            active = self.engine.view()
            active.index.sync()  # caught up here, not by the first search
            active.index.save()
            self.engine.fill(newest_first=True, batch=self.batch, between=self._between,
                             encoder=self._encoder)
            self.engine.save()
            self.error = None
        except EncoderUnavailable as exc:
            self.error = str(exc)
            log.warning("quality embedding stopped: %s", exc)
        except OSError as exc:  # a full disk: the active set keeps serving; retried next round
            self.error = f"embedding stopped: {exc}"
            log.warning("background embedding stopped: %s", exc)
        except Exception:  # never let the thread die: the next round tries again
            log.exception("background embedding failed")

    def _encoder(self, name: str) -> Encoder | None:
        """The embedder's own session of the ONNX model (`threads` intra-op threads; one runs in
        this thread, at its nice value), or None: the process's shared encoder."""
        if self.threads is None or name != "minilm-int8":
            return None
        if self._own is None:
            from paperfeed.embed.onnx import OnnxEncoder

            self._own = OnnxEncoder(threads=self.threads)
        return self._own

    def _between(self) -> bool:
        """After each batch: yield the cores, wait while requests are in flight."""
        time.sleep(self.pause)
        while self.busy() and not self._stop.is_set():
            time.sleep(0.02)
        return not self._stop.is_set()
