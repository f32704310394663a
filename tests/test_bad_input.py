"""Bad input never crashes and never loses data: each bad record is reported with where it was,
the rest of the file is imported, and nothing half-written stays in the store."""

from __future__ import annotations

import gzip
import json
import os
from datetime import date, timedelta
from pathlib import Path

import orjson
import pytest

from paperfeed.library import Library


@pytest.fixture
def lib(any_lib: Library) -> Library:
    """Every test of this module runs on SQLite and on PostgreSQL (see conftest `any_lib`)."""
    return any_lib


def snapshot_line(i: int, **overrides) -> bytes:
    rec = {
        "id": f"2402.{i:05d}",
        "title": f"A good paper number {i}",
        "abstract": "We show something useful.",
        "authors": "Ada Lovelace",
        "authors_parsed": [["Lovelace", "Ada", ""]],
        "categories": "cs.LG",
        "versions": [{"version": "v1", "created": "Tue, 6 Feb 2024 10:00:00 GMT"}],
        "update_date": "2024-02-06",
    }
    rec.update(overrides)
    return orjson.dumps(rec) + b"\n"


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def import_one(lib: Library, path: Path, fmt: str | None = "arxiv-snapshot"):
    report = lib.import_files([path], format=fmt)
    assert len(report.files) == 1
    return report.files[0]


def test_random_bytes_are_refused_as_a_whole_with_the_file_named(lib: Library, tmp_path: Path):
    path = write(tmp_path, "noise.bin", os.urandom(10_000))
    result = import_one(lib, path, None)
    assert result.error and "noise.bin" in result.error
    assert lib.stats()["papers"] == 0


def test_an_empty_file_is_refused(lib: Library, tmp_path: Path):
    result = import_one(lib, write(tmp_path, "empty.json", b""), None)
    assert result.error and "empty" in result.error


def test_a_truncated_gzip_keeps_what_came_before_the_cut(lib: Library, tmp_path: Path):
    data = gzip.compress(b"".join(snapshot_line(i) for i in range(2_000)))
    path = write(tmp_path, "cut.json.gz", data[: len(data) // 2])
    result = import_one(lib, path)
    assert result.rejected, "the cut is reported"
    assert "gzip" in result.rejected[-1].reason
    kept = lib.stats()["papers"]
    assert 0 < kept < 2_000
    assert lib.store.integrity()["fts_rows"] == kept


@pytest.mark.parametrize(
    ("bad_line", "reason_word"),
    [
        (snapshot_line(99)[:40] + b"\n", ""),  # a JSON line cut in half
        (snapshot_line(99, title=None), "title"),  # a record without a title
        (snapshot_line(99, title="   "), "title"),
        (snapshot_line(99, abstract="x" * 10_000_000), "abstract"),  # a 10 MB abstract
        (b'{"id": "2402.00099", "title": "Bad \xff\xfe utf8"}\n', ""),  # invalid UTF-8
        (snapshot_line(99, versions=[{"version": "v1", "created": "Mon, 1 Jan 2999 10:00:00 GMT"}]), "future"),
        (snapshot_line(99, versions=[{"version": "v1", "created": "the day before yesterday"}]), ""),
        (snapshot_line(99, update_date="0001-01-01"), ""),
        (snapshot_line(99, id="not an id"), "id"),
        (b"[1, 2, 3]\n", ""),
    ],
)
def test_a_bad_line_is_reported_with_its_line_number_and_the_rest_imported(
    lib: Library, tmp_path: Path, bad_line: bytes, reason_word: str
):
    lines = [snapshot_line(1), snapshot_line(2), bad_line, snapshot_line(3)]
    result = import_one(lib, write(tmp_path, "mixed.jsonl", b"".join(lines)))
    assert [r.where for r in result.rejected] == ["line 3"]
    assert reason_word in result.rejected[0].reason.lower()
    assert {p.id for p in lib.daily(month="2024-02")} == {"2402.00001", "2402.00002", "2402.00003"}
    assert lib.store.integrity()["fts_rows"] == 3


def test_a_future_date_in_hf_json_is_rejected(lib: Library, tmp_path: Path):
    future = (date.today() + timedelta(days=400)).isoformat()
    items = [
        {"paper": {"id": "2501.00001", "title": "Fine", "summary": "ok", "upvotes": 1,
                   "authors": [], "publishedAt": "2025-01-02T00:00:00.000Z"}},
        {"paper": {"id": "2501.00002", "title": "Later", "summary": "ok", "upvotes": 1,
                   "authors": [], "publishedAt": f"{future}T00:00:00.000Z"}},
    ]
    result = import_one(lib, write(tmp_path, "daily.json", json.dumps(items).encode()), None)
    assert len(result.rejected) == 1 and "future" in result.rejected[0].reason
    assert lib.get("2501.00001") is not None and lib.get("2501.00002") is None


@pytest.mark.parametrize(
    "query",
    ['"unbalanced', "AND", "((", "*", "NEAR(", "-", "'; DROP TABLE papers; --", "", "   ",
     "title:foo", "a OR b NOT c", "^start", "\x00", "🙂", "NEAR(a b, 3)", "{col}: x"],
)
def test_search_treats_any_text_as_words(sample_lib: Library, query: str):
    hits = sample_lib.search(query)
    assert isinstance(hits, list)
    assert sample_lib.stats()["papers"] == 86


def test_a_ten_thousand_word_query_answers(sample_lib: Library):
    query = " ".join(["pruning", "weights", "language", "models"] * 2_500)
    hits = sample_lib.search(query, limit=5)
    assert hits and "prun" in (hits[0].paper.title + hits[0].paper.abstract).lower()


def test_a_small_truncated_gzip_still_imports_what_came_before_the_cut(lib: Library, tmp_path: Path):
    data = gzip.compress(b"".join(snapshot_line(i) for i in range(20)))
    result = import_one(lib, write(tmp_path, "small-cut.json.gz", data[:-30]), None)
    assert result.error is None
    assert result.rejected and "gzip" in result.rejected[-1].reason
    assert 0 < lib.stats()["papers"] < 20
