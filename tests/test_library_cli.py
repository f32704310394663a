"""`paperfeed library ...` and `paperfeed recommend`, as a user drives them: the owner by default,
`--user` for another account, JSON listings, exit codes, and terminal-safe output."""

from __future__ import annotations

import json
from pathlib import Path

import bibtexparser
import pytest
import rispy
from librarydata import only_on, page_ids
from typer.testing import CliRunner

import paperfeed
from paperfeed.cli import app

runner = CliRunner()


def cli(home: Path, *args: str, input: str | None = None):  # noqa: A002
    return runner.invoke(app, ["--home", str(home), *args], catch_exceptions=False, input=input)


@pytest.fixture
def sample_home(home: Path) -> Path:
    assert cli(home, "import", "--sample").exit_code == 0
    return home


@pytest.fixture
def pages() -> tuple[list[str], list[str]]:
    return page_ids()


def test_add_list_remove_and_collections(sample_home: Path, pages) -> None:
    a, _ = pages
    assert cli(sample_home, "library", "add", a[0], "--collection", "Merging").exit_code == 0
    assert cli(sample_home, "library", "add", a[1], "--collection", "Merging").exit_code == 0
    listed = json.loads(cli(sample_home, "library", "list", "--json").stdout)
    assert {p["id"] for p in listed} == {a[0], a[1]}
    assert all(p["collections"] == ["Merging"] and p["title"] and "authors" in p for p in listed)
    cols = json.loads(cli(sample_home, "library", "collections", "--json").stdout)
    assert [(c["name"], c["size"]) for c in cols] == [("Merging", 2)]
    assert cli(sample_home, "library", "remove", a[0]).exit_code == 0
    listed = json.loads(cli(sample_home, "library", "list", "--collection", "Merging", "--json").stdout)
    assert [p["id"] for p in listed] == [a[1]]
    assert cli(sample_home, "library", "list", "--collection", "Nope").exit_code == 2


def test_unknown_papers_and_users_are_exit_2_with_a_message(sample_home: Path) -> None:
    for args in (
        ("library", "add", "2999.99999", "--collection", "A"),
        ("library", "dismiss", "2999.99999"),
        ("library", "undismiss", "not-a-paper"),
        ("library", "list", "--user", "nobody@example.org"),
    ):
        result = cli(sample_home, *args)
        assert result.exit_code == 2, args
        assert "no such" in result.stderr
    assert json.loads(cli(sample_home, "library", "collections", "--json").stdout) == []


def test_bad_collection_names_are_refused_and_html_is_kept_as_text(sample_home: Path, pages) -> None:
    bad = cli(sample_home, "library", "add", pages[0][0], "--collection", "evil\x1b]0;pwned\x07")
    assert bad.exit_code == 2 and "control characters" in bad.stderr
    html = "<img src=x onerror=alert(1)>"
    assert cli(sample_home, "library", "add", pages[0][0], "--collection", html).exit_code == 0
    assert json.loads(cli(sample_home, "library", "collections", "--json").stdout)[0]["name"] == html


def test_dismiss_hides_and_undismiss_restores(sample_home: Path, pages) -> None:
    pid = pages[0][0]
    assert cli(sample_home, "library", "dismiss", pid).exit_code == 0
    dismissed = json.loads(cli(sample_home, "library", "dismissed", "--json").stdout)
    assert [p["id"] for p in dismissed] == [pid]
    assert cli(sample_home, "library", "undismiss", pid).exit_code == 0
    assert json.loads(cli(sample_home, "library", "dismissed", "--json").stdout) == []


def test_user_option_keeps_each_library_apart(sample_home: Path, pages) -> None:
    with paperfeed.open(sample_home) as lib:
        lib.accounts.owner()
        lib.accounts.signup("bob@example.org", "correct horse", admin=False)
    cli(sample_home, "library", "add", pages[0][0], "--collection", "Mine")
    cli(sample_home, "library", "add", pages[1][0], "--collection", "Bob's", "--user", "bob@example.org")
    cli(sample_home, "library", "note", pages[0][0], "owner's secret")
    mine = json.loads(cli(sample_home, "library", "list", "--json").stdout)
    bobs = json.loads(cli(sample_home, "library", "list", "--json", "--user", "bob@example.org").stdout)
    assert [p["id"] for p in mine] == [pages[0][0]] and [p["id"] for p in bobs] == [pages[1][0]]
    assert mine[0]["note"] == "owner's secret"
    assert cli(sample_home, "library", "note", pages[0][0], "--user", "bob@example.org").stdout == ""
    # Bob cannot reach the owner's collection by its name.
    other = cli(sample_home, "library", "list", "--collection", "Mine", "--user", "bob@example.org")
    assert other.exit_code == 2


def test_notes_read_marks_and_reset(sample_home: Path, pages) -> None:
    pid = pages[0][0]
    cli(sample_home, "library", "add", pid, "--collection", "A")
    assert cli(sample_home, "library", "note", pid, "line one").exit_code == 0
    assert cli(sample_home, "library", "note", pid).stdout.strip() == "line one"
    assert cli(sample_home, "library", "read", pid).exit_code == 0
    assert json.loads(cli(sample_home, "library", "list", "--json").stdout)[0]["read"] is True
    cli(sample_home, "library", "dismiss", pages[1][0])
    assert cli(sample_home, "library", "reset", input="n\n").exit_code == 1  # asked, declined
    assert cli(sample_home, "library", "reset", "--yes").exit_code == 0
    assert json.loads(cli(sample_home, "library", "dismissed", "--json").stdout) == []
    assert len(json.loads(cli(sample_home, "library", "list", "--json").stdout)) == 1


def test_recommend_with_an_empty_library_says_so(sample_home: Path) -> None:
    result = cli(sample_home, "recommend")
    assert result.exit_code == 0 and "save a few papers first" in result.stderr
    result = cli(sample_home, "recommend", "--json")
    assert result.exit_code == 0 and json.loads(result.stdout) == []


def test_recommend_lists_hits_with_reasons_and_says_when_nothing_is_new(sample_home: Path, pages) -> None:
    a, b = pages
    for pid in only_on(a, b)[:4]:
        cli(sample_home, "library", "add", pid, "--collection", "A")
    hits = json.loads(cli(sample_home, "recommend", "--collection", "A", "--limit", "5", "--json").stdout)
    assert 1 <= len(hits) <= 5
    for hit in hits:
        assert hit["reasons"] and isinstance(hit["score"], float) and hit["id"] not in only_on(a, b)[:4]
        assert {"id", "title", "abstract", "authors", "published", "upvotes"} <= set(hit)
    text = cli(sample_home, "recommend", "--limit", "3")
    assert text.exit_code == 0 and "·" in text.stdout
    nothing = cli(sample_home, "recommend", "--since", "2099-01-01")
    assert nothing.exit_code == 0 and "nothing new for you today" in nothing.stderr
    nothing = cli(sample_home, "recommend", "--since", "2099-01-01", "--json")
    assert nothing.exit_code == 0 and json.loads(nothing.stdout) == []
    assert cli(sample_home, "recommend", "--since", "yesterday-ish").exit_code == 2
    assert cli(sample_home, "recommend", "--collection", "No such").exit_code == 2


def test_export_formats_read_back_with_their_parsers(sample_home: Path, pages) -> None:
    for pid in pages[0][:3]:
        cli(sample_home, "library", "add", pid, "--collection", "A")
    bib = cli(sample_home, "library", "export", "--collection", "A", "--format", "bibtex")
    assert bib.exit_code == 0
    parsed = bibtexparser.parse_string(bib.stdout)
    assert len(parsed.entries) == 3 and not parsed.failed_blocks
    ris = cli(sample_home, "library", "export", "--collection", "A", "--format", "ris")
    assert len(rispy.loads(ris.stdout)) == 3
    csl = cli(sample_home, "library", "export", "--id", pages[0][0], "--format", "csl-json")
    shown = json.loads(cli(sample_home, "show", pages[0][0], "--json").stdout)
    assert [item["title"] for item in json.loads(csl.stdout)] == [shown["title"]]
    assert cli(sample_home, "library", "export", "--format", "docx").exit_code == 2
    assert cli(sample_home, "library", "export", "--id", "2999.99999", "--format", "ris").exit_code == 2


def test_import_into_a_collection_reports_and_exits_1_on_rejected_entries(
    sample_home: Path, tmp_path: Path
) -> None:
    bib = tmp_path / "lib.bib"
    bib.write_text(
        "@article{good, title = {A Good Paper About Kernels}}\n"
        "@article{broken,\n  title = {Never closed,\n\n"
        "@article{notitle, author = {Doe, Jane}}\n"
        "@article{good2, title = {Another Good Paper}}\n"
    )
    result = cli(sample_home, "library", "import", str(bib), "--collection", "Imported")
    assert result.exit_code == 1
    assert "lib.bib:line 2: BibTeX syntax error" in result.stderr
    assert "added 2" in result.stderr and "rejected 2" in result.stderr
    again = cli(sample_home, "library", "import", str(bib), "--collection", "Imported", "--json")
    report = json.loads(again.stdout)
    assert report["matched"] == 2 and report["added"] == 0
    empty = tmp_path / "empty.bib"
    empty.write_text("")
    result = cli(sample_home, "library", "import", str(empty), "--collection", "Imported")
    assert result.exit_code == 2 and "empty" in result.stderr


def test_untrusted_text_reaches_the_terminal_without_control_characters(home: Path, tmp_path: Path) -> None:
    bib = tmp_path / "evil.bib"
    bib.write_text("@article{evil, title = {Evil \x1b[31m Title \u202e reversed}}\n")
    assert cli(home, "library", "import", str(bib), "--collection", "E").exit_code == 0
    with paperfeed.open(home) as lib:
        [saved] = lib.library_list()
    assert "\x1b" in saved.paper.title  # kept as given; only the terminal is spared
    listed = cli(home, "library", "list").stdout
    cli(home, "library", "dismiss", saved.paper.id)
    dismissed = cli(home, "library", "dismissed").stdout
    for out in (listed, dismissed):
        assert "\x1b" not in out and "\u202e" not in out and "Evil" in out
