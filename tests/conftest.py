"""Shared fixtures: a fresh library in a temporary home for each test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import paperfeed
from paperfeed.library import Library

SAMPLE_DIR = Path(paperfeed.__file__).parent / "sample"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def lib(home: Path) -> Iterator[Library]:
    with paperfeed.open(home) as library:
        yield library


@pytest.fixture
def sample_lib(lib: Library) -> Library:
    lib.import_files(sorted(SAMPLE_DIR.glob("*.txt")))
    return lib
