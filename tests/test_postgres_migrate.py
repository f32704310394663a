"""`paperfeed migrate --to postgresql://…`: an SQLite library copied whole into PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
from conftest import SAMPLE_DIR

import paperfeed
from paperfeed.config import Config
from paperfeed.library import Library
from paperfeed.migrate import feature_tables
from paperfeed.records import Author, make_paper


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).with_name("paperfeed")), *args], capture_output=True, text=True, timeout=300
    )


def test_migrate_copies_papers_vectors_and_feature_tables_and_verifies(
    pg_server, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    with paperfeed.open(home) as lib:
        lib.import_files(sorted(SAMPLE_DIR.glob("*.txt")))
        lib.store.upsert([make_paper(
            title="With authors", arxiv_id="2501.00001", source="t", abstract="Some text.",
            authors=[Author("Ada Lovelace", "Analytical Engines"), Author("Alan Turing")],
        )])
        lib.index()
        with_authors = lib.get("2501.00001")
        ada = lib.accounts.signup("ada@example.org", "correct horse battery")
        bob = lib.accounts.signup("bob@example.org", "correct horse battery")
        voted = lib.daily()[0]
        lib.upvote(ada.id, voted.id)
        lib.upvote(bob.id, voted.id)
        upvotes_before = lib.get(voted.id).upvotes
        semantic_before = [h.paper.id for h in lib.search("reasoning with language models",
                                                          mode="semantic", limit=10)]
    url = pg_server.new_database()

    proc = run("--home", str(home), "migrate", "--to", url, "--json")
    assert proc.returncode == 0, proc.stderr
    result = orjson.loads(proc.stdout)
    assert result["ok"]
    assert result["copied"]["papers"] == 87 and result["copied"]["vectors"] == 87
    assert {"users", "votes", "paper_votes"} <= set(feature_tables())
    assert result["verified"]["users"] == {"sqlite": 2, "postgresql": 2}
    assert result["verified"]["votes"] == {"sqlite": 2, "postgresql": 2}

    with Library(Config.from_env(home=tmp_path / "pg", database_url=url)) as pg:
        assert pg.stats()["papers"] == 87 and pg.missing_vectors() == 0
        assert pg.get("2501.00001") == with_authors  # every field as it was
        assert pg.get(voted.id).upvotes == upvotes_before  # local votes came along
        assert pg.accounts.login("ada@example.org", "correct horse battery").user.id == ada.id
        after = [h.paper.id for h in pg.search("reasoning with language models", mode="semantic",
                                                limit=10)]
        assert after == semantic_before  # the same vectors
        # New papers get keys after the copied ones (the identity sequence moved on).
        pg.store.upsert([make_paper(title="A new one", arxiv_id="2601.00001", source="t")])
        assert pg.index()["embedded"] == 1

    # A second run copies no paper twice and still verifies (the new paper is extra on PG).
    again = orjson.loads(run("--home", str(home), "migrate", "--to", url, "--json").stdout)
    assert again["copied"]["papers"] == 0 and again["copied"]["vectors"] == 0
    assert again["verified"]["users"]["postgresql"] == 2


def test_migrate_refuses_a_target_that_is_not_postgresql(tmp_path: Path) -> None:
    proc = run("--home", str(tmp_path), "migrate", "--to", "mysql://x")
    assert proc.returncode == 2 and "postgresql://" in proc.stderr
