"""paperfeed: self-hosted research-paper discovery.

`paperfeed.open(home_or_url)` returns the `Library`, the API both the CLI and the web app use.
"""

import os as _os

# One BLAS thread. paperfeed's numpy work is many small products (fusing search results, the
# related-papers diffusion over ~100 candidates); with OpenBLAS's worker threads each one wakes a
# pool that competes with the web workers, and on a busy 2-core machine a 116 x 116 solve took
# 30-120 ms instead of 0.5 ms (BENCHMARKS.md). The encoders and the ANN index bring
# their own threads. An explicit OPENBLAS_NUM_THREADS from the user wins.
if "OPENBLAS_NUM_THREADS" not in _os.environ:
    _os.environ["OPENBLAS_NUM_THREADS"] = "1"  # for numpy loaded from here on, and subprocesses
    from threadpoolctl import threadpool_limits as _threadpool_limits

    _threadpool_limits(1, user_api="blas")  # for a numpy the caller had already loaded

from paperfeed.library import Library, open  # noqa: E402
from paperfeed.records import Author, Paper  # noqa: E402
from paperfeed.search import Hit  # noqa: E402
from paperfeed.version import __version__  # noqa: E402

__all__ = ["Author", "Hit", "Library", "Paper", "__version__", "open"]
