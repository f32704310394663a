"""Terminal escape sequences in paper text never reach the terminal: `show`, `search` and
`daily`, as text and as JSON, piped and on a pseudo-terminal."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from paperfeed.cli import app
from paperfeed.terminal import clean, safe_json

HOSTILE_TITLE = "Evil \x1b]0;pwned\x07Title \x1b[31mred\x1b[0m \u202egnp.exe\u202c \x9b2J end\r"
HOSTILE_ABSTRACT = "An abstract \x1b[2J\x1b[Hthat clears the screen\x1bP+q\x1b\\ and rings\x07."
UNSAFE = ("\x1b", "\x07", "\x9b", "\u202e", "\r")


@pytest.fixture
def hostile_home(tmp_path: Path) -> Path:
    item = {
        "paper": {"id": "2502.00042", "title": HOSTILE_TITLE, "summary": HOSTILE_ABSTRACT,
                  "authors": [{"name": "Mal \x1b[5mLory"}], "publishedAt": "2025-02-04T00:00:00.000Z",
                  "upvotes": 3},
        "publishedAt": "2025-02-04T09:00:00.000Z",
    }
    path = tmp_path / "daily.json"
    path.write_text(json.dumps([item]))
    home = tmp_path / "home"
    r = CliRunner().invoke(app, ["--home", str(home), "import", str(path)])
    assert r.exit_code == 0, r.output
    return home


COMMANDS = [["show", "2502.00042"], ["search", "evil title"], ["daily", "--date", "2025-02-04"]]


@pytest.mark.parametrize("command", COMMANDS)
def test_text_output_carries_no_control_sequences(hostile_home: Path, command: list[str]) -> None:
    r = CliRunner().invoke(app, ["--home", str(hostile_home), *command])
    assert r.exit_code == 0, r.output
    assert "Evil" in r.stdout and "red" in r.stdout
    for bad in UNSAFE:
        assert bad not in r.stdout, (bad, r.stdout)
    assert "pwned" not in r.stdout  # the whole OSC sequence went, not only its ESC


@pytest.mark.parametrize("command", COMMANDS)
def test_json_output_is_lossless_and_escapes_controls(hostile_home: Path, command: list[str]) -> None:
    r = CliRunner().invoke(app, ["--home", str(hostile_home), *command, "--json"])
    assert r.exit_code == 0, r.output
    for bad in UNSAFE:
        assert bad not in r.stdout, (bad, r.stdout)
    data = json.loads(r.stdout)
    paper = data if isinstance(data, dict) else data[0]
    assert "\x1b]0;pwned\x07" in paper["title"]  # the data itself is kept


def test_on_a_terminal_too(hostile_home: Path) -> None:
    controller, terminal = pty.openpty()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "paperfeed.cli", "--home", str(hostile_home), "show", "2502.00042"],
        stdout=terminal, stderr=terminal, stdin=subprocess.DEVNULL, env=env,
    )
    os.close(terminal)
    out = b""
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    assert proc.wait(timeout=60) == 0, out
    os.close(controller)
    text = out.decode("utf-8")
    assert "Evil" in text
    for bad in ("\x1b", "\x07", "\x9b", "\u202e"):
        assert bad not in text, (bad, text)


def test_clean_keeps_ordinary_text() -> None:
    assert clean("Attention Is All You Need\n\tby Vaswani, Ł. Kaiser — 注意") == (
        "Attention Is All You Need\n\tby Vaswani, Ł. Kaiser — 注意"
    )
    assert clean("a\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\b") == "alinkb"
    assert json.loads(safe_json('"\u202e\x9b\x7f"'.encode())) == "\u202e\x9b\x7f"
