"""The search-result cache (`paperfeed.search_cache`): repeated searches are answered from memory,
and never after the store changed — whether the change came from this connection, another
connection, or another process (an importer, another web worker), on SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import httpx
import orjson
import pytest
from fastapi.testclient import TestClient
from test_multi_server import free_port, wait_up

from paperfeed.config import Config
from paperfeed.library import Library
from paperfeed.search_cache import SearchCache
from paperfeed.web.app import create_app

QUERY = "quantization zyxwvut"  # the sample has quantization papers; zyxwvut only the new one
SAMPLE_QUERY = "weight quantization"  # (QUERY alone finds nothing before: below the relevance floor)


def paperfeed_cli(database: str, *args: str) -> list[str]:
    return [str(Path(sys.executable).with_name("paperfeed")), "--database", database, *args]


def snapshot(path: Path, title: str, pid: str = "2403.99999") -> Path:
    path.write_bytes(orjson.dumps({
        "id": pid, "title": title, "authors": "Ada Lovelace", "categories": "cs.LG",
        "abstract": "A paper that arrives while a web worker has searches cached.",
        "versions": [{"version": "v1", "created": "Mon, 4 Mar 2024 10:00:00 GMT"}],
        "update_date": "2024-03-04",
    }) + b"\n")
    return path


def other(lib: Library) -> Library:
    """A second Library on the same database: another connection, as another worker has."""
    return Library(Config.from_env(home=lib.config.home, database_url=lib.config.database_url))


def ids(hits) -> list[str]:
    return [h.paper.id for h in hits]


def test_a_repeated_search_is_answered_from_the_cache(any_sample_lib: Library) -> None:
    lib = any_sample_lib
    # PostgreSQL's first reads after an import set hint bits, which writes WAL: the cache then
    # (rightly) cannot tell that nothing changed, and stores nothing until that settles.
    lib.search("warm up", mode="keyword")
    lib.search_cache.hits = lib.search_cache.misses = 0
    first = lib.search(SAMPLE_QUERY, mode="keyword", limit=20)
    assert first and lib.search_cache.misses == 1 and lib.search_cache.hits == 0
    first[-1].why.append("changed by the first caller")  # not the copy the cache keeps
    again = lib.search("  weight \t quantization ", mode="keyword", limit=20)  # same words
    assert lib.search_cache.hits == 1 and lib.search_cache.last_was_hit()
    first[-1].why.pop()
    assert [(h.paper.id, h.score, h.why) for h in again] == [(h.paper.id, h.score, h.why) for h in first]
    again[0].why.append("changed by a caller")  # a caller's copy, not the cached list
    assert "changed by a caller" not in lib.search(SAMPLE_QUERY, mode="keyword", limit=20)[0].why
    lib.search(SAMPLE_QUERY, mode="keyword", limit=10)  # another limit, another filter: other entries
    lib.search(SAMPLE_QUERY, mode="keyword", limit=20, since="2025-01-01")
    assert lib.search_cache.misses == 3 and not lib.search_cache.last_was_hit()


def test_an_import_by_another_process_is_seen_at_once(any_sample_lib: Library, tmp_path: Path) -> None:
    lib = any_sample_lib
    before = lib.search(QUERY, mode="keyword", limit=20)
    assert "2403.99999" not in ids(before)
    lib.search(QUERY, mode="keyword", limit=20)
    lib.search(QUERY, mode="keyword", limit=20)  # (PostgreSQL: after the hint-bit writes settle)
    assert lib.search_cache.last_was_hit()
    database = lib.config.database_url or f"sqlite:///{lib.config.sqlite_path}"
    new = snapshot(tmp_path / "new.jsonl", "Zyxwvut quantization of everything")
    subprocess.run(paperfeed_cli(database, "import", "--no-index", str(new)), check=True, capture_output=True)
    after = lib.search(QUERY, mode="keyword", limit=20)
    assert not lib.search_cache.last_was_hit()
    assert ids(after)[0] == "2403.99999"


def test_an_upvote_from_another_connection_or_this_one_is_seen(any_sample_lib: Library) -> None:
    lib = any_sample_lib
    top = lib.search(SAMPLE_QUERY, mode="keyword", limit=20)[0].paper
    with other(lib) as worker:
        worker.accounts.signup("ada@example.org", "correct horse battery")
        assert worker.upvote("ada@example.org", top.id)
    voted = lib.search(SAMPLE_QUERY, mode="keyword", limit=20)[0].paper
    assert voted.id == top.id and voted.upvotes == (top.upvotes or 0) + 1
    assert not lib.upvote("ada@example.org", top.id)  # this connection takes the vote back
    assert lib.search(SAMPLE_QUERY, mode="keyword", limit=20)[0].paper.upvotes == top.upvotes


def test_a_write_from_another_thread_of_the_same_process_is_seen(any_sample_lib: Library) -> None:
    """Web workers serve from a thread pool, one connection per thread."""
    lib = any_sample_lib
    lib.accounts.signup("ada@example.org", "correct horse battery")
    top = lib.search(SAMPLE_QUERY, mode="keyword", limit=20)[0].paper
    voter = threading.Thread(target=lib.upvote, args=("ada@example.org", top.id))
    voter.start()
    voter.join()
    assert lib.search(SAMPLE_QUERY, mode="keyword", limit=20)[0].paper.upvotes == (top.upvotes or 0) + 1


def test_a_result_computed_while_the_store_changed_is_not_kept(any_sample_lib: Library, tmp_path: Path) -> None:
    lib = any_sample_lib
    cache = SearchCache(100, lib.store.change_token)
    with other(lib) as importer:

        def search_during_an_import() -> list[str]:
            found = ids(lib.search(QUERY, mode="keyword", limit=20))
            importer.import_files([snapshot(tmp_path / "new.jsonl", "Zyxwvut quantization")], index=False)
            return found

        stale = cache.get("q", search_during_an_import)
        assert "2403.99999" not in stale
        lib.search("settle", mode="keyword")  # (PostgreSQL: the import's hint-bit writes)
        fresh = cache.get("q", lambda: ids(lib.search(QUERY, mode="keyword", limit=20)))
        assert not cache.last_was_hit() and fresh[0] == "2403.99999"
        # PostgreSQL: reading the new rows the first time writes their hint bits, which moves the
        # change token once more; the result computed after that is kept.
        fresh = cache.get("q", lambda: ids(lib.search(QUERY, mode="keyword", limit=20)))
        assert fresh[0] == "2403.99999"
        assert cache.get("q", list) == fresh and cache.last_was_hit()


def test_size_zero_caches_nothing(home: Path) -> None:
    with Library(Config(home=home, search_cache=0)) as lib:
        lib.search("anything", mode="keyword")
        lib.search("anything", mode="keyword")
        assert lib.search_cache.hits == 0 and len(lib.search_cache) == 0


@pytest.mark.parametrize("size", [1, 3])
def test_the_least_recently_used_entry_goes_first(any_sample_lib: Library, size: int) -> None:
    cache = SearchCache(size, any_sample_lib.store.change_token)
    for key in ("a", "b", "c", "a"):
        cache.get(key, lambda key=key: [key])
    assert len(cache) == size
    assert cache.hits == (1 if size == 3 else 0)


def test_the_size_counts_results_not_entries(any_sample_lib: Library) -> None:
    """A crawler walking 50 pages deep must not make each cached entry a thousand papers."""
    cache = SearchCache(10, any_sample_lib.store.change_token)
    cache.get("big", lambda: list(range(11)))  # more than the whole cache: not kept
    assert len(cache) == 0
    for key in ("a", "b", "c"):
        cache.get(key, lambda: list(range(4)))
    assert len(cache) == 2  # 12 results > 10: the oldest went
    cache.get("b", list)
    assert cache.last_was_hit()


def test_the_search_page_says_whether_the_cache_answered(sample_lib: Library) -> None:
    client = TestClient(create_app(library=sample_lib))
    first = client.get("/search", params={"q": "quantization"})
    again = client.get("/search", params={"q": "quantization"})
    assert first.status_code == again.status_code == 200 and first.text.count("<article") > 1
    assert "cache miss" in first.headers["server-timing"]
    assert "cache hit" in again.headers["server-timing"]
    assert again.text.count("<article") == first.text.count("<article")


def test_every_worker_of_a_server_sees_an_import_by_another_process(
    any_sample_lib: Library, tmp_path: Path
) -> None:
    """`paperfeed serve --workers 2`: each worker process caches; `paperfeed import` writes."""
    lib = any_sample_lib
    database = lib.config.database_url or f"sqlite:///{lib.config.sqlite_path}"
    port = free_port()
    server = subprocess.Popen(
        paperfeed_cli(database, "serve", "--port", str(port), "--workers", "2"),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_up(base, server)

        def pages(n: int) -> list[httpx.Response]:  # new connections: both workers answer some
            return [httpx.get(base + "/search", params={"q": QUERY}, timeout=30) for _ in range(n)]

        before = pages(12)
        assert all("2403.99999" not in r.text for r in before)
        assert any("cache hit" in r.headers["server-timing"] for r in before)
        new = snapshot(tmp_path / "new.jsonl", "Zyxwvut quantization of everything")
        importer = paperfeed_cli(database, "import", "--no-index", str(new))
        subprocess.run(importer, check=True, capture_output=True)
        assert all("2403.99999" in r.text for r in pages(12))
    finally:
        server.terminate()
        server.wait(timeout=30)
