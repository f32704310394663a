"""The command line's human output: `stats` as a table (and `--json`), `show` with links,
affiliations and DOI, plurals, `search "" --author`, `daily --sort` names as on the web, and
untrusted text kept inert in the terminal."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from typer.testing import CliRunner

import paperfeed
from paperfeed.cli import app
from paperfeed.records import Author, make_paper

runner = CliRunner()


def cli(home: Path, *args: str):
    return runner.invoke(app, ["--home", str(home), *args], catch_exceptions=False)


def seed(home: Path) -> None:
    with paperfeed.open(home) as lib:
        lib.store.upsert([
            make_paper(title="Solo work\x1b[2J", arxiv_id="2501.00001", source="test",
                       authors=[Author("Ada Lovelace", "Analytical Engines Ltd")],
                       published=date(2025, 1, 6), doi="10.1000/xyz", upvotes=1,
                       github_repo="https://github.com/ada/engine", github_stars=1200),
            make_paper(title="Pair work", arxiv_id="2501.00002", source="test",
                       authors=[Author("Ada Lovelace"), Author("Charles Babbage")],
                       published=date(2025, 1, 6), upvotes=5),
            make_paper(title="Other work", arxiv_id="2501.00003", source="test",
                       authors=[Author("Grace Hopper")], published=date(2025, 1, 6), upvotes=3),
        ])


def test_stats_is_a_table_and_json_on_request(home: Path) -> None:
    seed(home)
    table = cli(home, "stats").output
    assert "papers" in table and "with arxiv id" in table and "{" not in table and "'" not in table
    data = json.loads(cli(home, "stats", "--json").output)
    assert data["papers"] == 3 and data["with_arxiv_id"] == 3


def test_show_prints_links_affiliations_doi_and_plurals(home: Path) -> None:
    seed(home)
    out = cli(home, "show", "2501.00001").output
    assert "1 author: Ada Lovelace (Analytical Engines Ltd)" in out and "2025-01-06 · 1 upvote\n" in out
    assert "https://arxiv.org/abs/2501.00001" in out and "https://arxiv.org/pdf/2501.00001" in out
    assert "10.1000/xyz" in out and "https://doi.org/10.1000/xyz" in out
    assert "https://github.com/ada/engine (★ 1,200)" in out
    assert "\x1b" not in out
    assert "2 authors: Ada Lovelace, Charles Babbage" in cli(home, "show", "2501.00002").output
    assert "5 upvotes" in cli(home, "show", "2501.00002").output


def test_an_empty_search_with_an_author_lists_their_papers(home: Path) -> None:
    seed(home)
    r = cli(home, "search", "", "--author", "Lovelace", "--json")
    assert r.exit_code == 0 and sorted(p["id"] for p in json.loads(r.output)) == ["2501.00001", "2501.00002"]
    assert "Other work" not in cli(home, "search", "", "--author", "Lovelace").output


def test_daily_sort_names_match_the_web_and_the_old_ones_still_work(home: Path) -> None:
    seed(home)
    by_upvotes = [p["id"] for p in json.loads(cli(home, "daily", "--sort", "upvotes", "--json").output)]
    assert by_upvotes == ["2501.00002", "2501.00003", "2501.00001"]
    old_name = json.loads(cli(home, "daily", "--sort", "published", "--json").output)
    assert [p["id"] for p in old_name] == by_upvotes
    assert cli(home, "daily", "--sort", "trending").exit_code == 0
    assert "# 2025-01-06: 3 papers" in cli(home, "daily").output
    bad = cli(home, "daily", "--sort", "hot")
    assert bad.exit_code == 2 and "upvotes, trending" in bad.output
