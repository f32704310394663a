"""Helpers of the personal-library tests: the sample's two saved HF pages (two topics), read
with the real source reader, so a test knows which papers belong to which page."""

from __future__ import annotations

from pathlib import Path

import paperfeed
from paperfeed.importer import read_records
from paperfeed.records import Paper

SAMPLE_DIR = Path(paperfeed.__file__).parent / "sample"


def page_ids() -> tuple[list[str], list[str]]:
    """The paper ids of page A and page B, in page order."""
    pages = []
    for path in sorted(SAMPLE_DIR.glob("*.txt")):
        _, stream, items = read_records(path, None)
        with stream:
            pages.append([i.id for i in items if isinstance(i, Paper)])
    return pages[0], pages[1]


def only_on(first: list[str], other: list[str]) -> list[str]:
    return [pid for pid in first if pid not in set(other)]
