"""The settings registry: every `PAPERFEED_*` variable declared once, read in one place, bad
values refused by name, all of them documented in the README; and every public Library operation
reachable from the command line."""

from __future__ import annotations

import dataclasses
import inspect
import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer.main

from paperfeed.cli import app
from paperfeed.config import SETTINGS, Config, HarvestConfig, read_settings, settings_markdown
from paperfeed.errors import InvalidInput
from paperfeed.library import Library

README = Path(__file__).resolve().parents[1] / "README.md"
SRC = Path(__file__).resolve().parents[1] / "src"


def test_every_config_field_has_exactly_one_setting() -> None:
    declared = [s.field for s in SETTINGS]
    wanted = {f.name for f in dataclasses.fields(Config) if f.name != "harvest"}
    wanted |= {f"harvest.{f.name}" for f in dataclasses.fields(HarvestConfig)}
    assert sorted(declared) == sorted(wanted)
    assert len({s.name for s in SETTINGS}) == len(SETTINGS)
    assert all(s.name.startswith("PAPERFEED_") and s.help for s in SETTINGS)


def test_the_environment_is_read_only_by_the_configuration() -> None:
    """No module but config.py looks up a PAPERFEED_ variable in the environment."""
    offenders = []
    for path in (SRC / "paperfeed").rglob("*.py"):
        if path.name == "config.py":
            continue
        text = path.read_text(encoding="utf-8")
        for needle in ('environ.get("PAPERFEED_', 'environ["PAPERFEED_', 'getenv("PAPERFEED_'):
            if needle in text:
                offenders.append(f"{path.name}: {needle}")
    assert offenders == []


def test_values_are_typed_and_defaults_apply() -> None:
    config = Config.from_env(env={
        "PAPERFEED_HOME": "/tmp/h", "PAPERFEED_BULK_MIN_BYTES": "1024", "PAPERFEED_HTTP_TIMEOUT": "2.5",
        "PAPERFEED_DIGEST_HOUR": "7", "PAPERFEED_HF_ENDPOINT": "http://127.0.0.1:9/",
        "PAPERFEED_SEARCH_CACHE": "",
    })
    assert config.home == Path("/tmp/h") and config.bulk_min_bytes == 1024
    assert config.harvest.timeout == 2.5 and config.harvest.attempts == 6
    assert config.digest_at == "07:00" and config.harvest.hf_endpoint == "http://127.0.0.1:9"
    assert config.search_cache == 60_000  # empty means unset


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("PAPERFEED_BULK_MIN_BYTES", "abc", "must be a whole number"),
        ("PAPERFEED_HTTP_ATTEMPTS", "0", "at least 1"),
        ("PAPERFEED_ARXIV_INTERVAL", "soon", "must be a number"),
        ("PAPERFEED_SEARCH_CACHE", "-5", "at least 0"),
    ],
)
def test_a_bad_value_is_invalid_input_naming_the_variable(name: str, value: str, says: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        Config.from_env(env={"PAPERFEED_HOME": "/tmp/h", name: value})
    assert name in str(caught.value) and says in str(caught.value)


@pytest.mark.parametrize("command", [["stats"], ["serve", "--port", "1"], ["search", "x"]])
def test_the_cli_refuses_a_bad_setting_with_exit_2(tmp_path: Path, command: list[str]) -> None:
    env = {**os.environ, "PAPERFEED_BULK_MIN_BYTES": "abc", "PYTHONPATH": str(SRC)}
    done = subprocess.run(
        [sys.executable, "-m", "paperfeed.cli", "--home", str(tmp_path), *command],
        env=env, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 2
    assert "PAPERFEED_BULK_MIN_BYTES must be a whole number, not 'abc'" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_configuration_survives_the_trip_to_worker_processes(tmp_path: Path) -> None:
    """`serve --workers N` hands its configuration to the workers as variables: all of it."""
    config = Config(
        home=tmp_path, database_url="sqlite:///" + str(tmp_path / "x.db"), base_url="https://p.example.org",
        smtp_url="smtp://u:p@127.0.0.1:2525", encoder="minilm", contact="me@example.org",
        secret_key="k" * 32, bulk_min_bytes=5, digest_at="06:30", digest_retry_seconds=1.5,
        smtp_cafile="/etc/ca.pem", search_cache=0,
        harvest=HarvestConfig(
            oai_url="http://127.0.0.1:1/oai", attempts=2, timeout=0.5, scheduled="hf", at="01:02"
        ),
    )
    assert Config.from_env(env=config.to_env()) == config
    assert Config.from_env(env=Config(home=tmp_path).to_env()) == Config(home=tmp_path)


def test_every_setting_is_documented_in_the_readme() -> None:
    """README's settings table is `settings_markdown()`; regenerate it with
    `python -c 'from paperfeed.config import settings_markdown; print(settings_markdown())'`."""
    text = README.read_text(encoding="utf-8")
    assert settings_markdown() in text
    for s in SETTINGS:
        assert f"| `{s.name}` |" in text


def test_read_settings_only_reports_what_is_set() -> None:
    assert read_settings({}) == {}
    assert read_settings({"PAPERFEED_CONTACT": "me@example.org", "OTHER": "x"}) == {"contact": "me@example.org"}


# -- every Library operation has its command ------------------------------------------------------

# Library method -> the CLI command that runs it (as typed after `paperfeed`).
COMMANDS: dict[str, str] = {
    "import_files": "import",
    "harvest_arxiv": "harvest arxiv",
    "harvest_arxiv_api": "harvest arxiv-api",
    "harvest_hf": "harvest hf",
    "harvest_log": "harvest log",
    "index": "index",
    "related": "related",
    "upvote": "users upvote",
    "get": "show",
    "search": "search",
    "daily": "daily",
    "daily_scored": "daily",
    "trending": "trending",
    "papers_by": "papers",
    "stats": "stats",
    "import_log": "stats",  # the last imports are part of `stats`
    "vector_status": "stats",  # each vector set's coverage is part of `stats`
    "digests": "digest",  # digest preview | send; subscribing is `subscribers add`
    "subscribers": "subscribers",
    "migrate_rows": "migrate",  # its progress bar's total
    "migrate_to": "migrate",
    "collections": "library collections",
    "create_collection": "library create",
    "rename_collection": "library rename",
    "delete_collection": "library delete",
    "library_add": "library add",
    "library_remove": "library remove",
    "library_list": "library list",
    "library_import": "library import",
    "library_export": "library export",
    "dismiss": "library dismiss",
    "undismiss": "library undismiss",
    "dismissed": "library dismissed",
    "note": "library note",
    "set_note": "library note",
    "mark_read": "library read",
    "reset_feedback": "library reset",
    "explain": "library explain",
    "issue_feed_token": "library feed-token",
    "revoke_feed_token": "library feed-token",  # --revoke
    "recommend": "recommend",
    "submit": "submit",
    "comment": "comments add",
    "paper_comments": "comments list",
    "edit_comment": "comments edit",
    "delete_comment": "comments delete",
}
# Public Library members with no command of their own, and why.
EXEMPT: dict[str, str] = {
    "close": "the context manager's end; every command closes its Library",
    "missing_vectors": "the total of `index`'s progress bar",
    "quality_backlog": "the total of `import`'s quality-vector progress bar",
    "fill_quality": "runs at the end of `import` and `library import`; `index` fills any backlog",
    "fill_terms": "runs in `index` and before each `digest send` composes",
    "has_vectors": "whether `search` defaults to hybrid; `stats` and `index` show the vectors",
    "adjacent_day": "the web's previous/next day links",
    "freshness": "the web's status line; `stats` shows all of it and more",
    "personal": "the personal-library service object the library commands go through",
    "user_of": "resolves `--user` (default: the instance owner) for every library command",
    "known_paper": "validates the ids every library command takes",
    "known_ids": "validates the ids a stateless recommendation takes, in one read",
    "feed_token_user": "the personal feed's token check (a web route)",
    "mark_sent": "the digest's bookkeeping of recommendations already sent",
    "vector_warning": "the web status line's warning; `stats` shows it too",
    "missing_arxiv_id": "`search`'s notice for an arXiv id not in the library",
    "signups": "web sign-up by emailed link; on the CLI an admin makes accounts with `users add`",
    "submissions": "the submissions service object `submit` goes through",
    "comments": "the discussion service object the comments commands go through",
    "undated": "the web's list of undated papers; `search \"\"`-style listing is `papers`",
}


def _public_operations() -> set[str]:
    return {
        name for name, member in inspect.getmembers(Library)
        if not name.startswith("_") and (callable(member) or isinstance(member, property))
    }


def _command_exists(path: str) -> bool:
    command = typer.main.get_command(app)
    for part in path.split():
        sub = getattr(command, "commands", {})  # a group's commands (typer's own click)
        if part not in sub:
            return False
        command = sub[part]
    return True


def test_every_library_operation_has_a_cli_command() -> None:
    operations = _public_operations()
    assert operations - set(COMMANDS) - set(EXEMPT) == set(), "add a command (or an exemption)"
    assert set(COMMANDS) | set(EXEMPT) <= operations, "stale entries"
    missing = {op: cmd for op, cmd in COMMANDS.items() if not _command_exists(cmd)}
    assert missing == {}


def test_the_command_check_can_fail() -> None:
    assert not _command_exists("no-such-command")
    assert not _command_exists("users no-such-command")
    assert _command_exists("users upvote")
