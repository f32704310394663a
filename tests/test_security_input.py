"""Hostile files: decompression bombs are refused in bounded memory with a clear message, oversized
records are refused one by one, and two small cases of format detection and cut .gz files."""

from __future__ import annotations

import gzip
import os
import re
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient

from paperfeed.config import Config
from paperfeed.library import Library
from paperfeed.web.app import create_app

MiB = 1 << 20


def snapshot_line(i: int, **overrides: object) -> bytes:
    rec = {
        "id": f"2402.{i:05d}",
        "title": f"A good paper number {i}",
        "abstract": "We show something useful.",
        "authors": "Ada Lovelace",
        "categories": "cs.LG",
        "versions": [{"version": "v1", "created": "Tue, 6 Feb 2024 10:00:00 GMT"}],
        "update_date": "2024-02-06",
        "authors_parsed": [["Lovelace", "Ada", ""]],
    }
    rec.update(overrides)
    return orjson.dumps(rec) + b"\n"


def gzip_bomb(path: Path, head: bytes, filler: bytes, size: int, tail: bytes = b"") -> Path:
    """`head`, then `size` bytes of `filler`, then `tail`, gzipped as it is streamed (the file
    is a few hundred KB; nothing of its decompressed size is ever held in memory here)."""
    block = filler * (MiB // len(filler))
    with gzip.open(path, "wb", compresslevel=9) as out:
        out.write(head)
        for _ in range(size // len(block)):
            out.write(block)
        out.write(tail)
    return path


def run_import(home: Path, path: Path, tmp: Path, **env: str) -> tuple[int, str, int]:
    """`paperfeed import` in a child process: (exit code, stderr, its peak RSS in bytes)."""
    out, err = tmp / "out.txt", tmp / "err.txt"
    with out.open("wb") as o, err.open("wb") as e:
        proc = subprocess.Popen(
            [sys.executable, "-m", "paperfeed.cli", "--home", str(home), "import", "--no-index",
             str(path)],
            stdout=o, stderr=e, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), **env},
        )
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, err.read_text(), usage.ru_maxrss * 1024


@pytest.fixture
def baseline_rss(tmp_path: Path) -> int:
    """The peak RSS of importing a small, good file the same way."""
    small = tmp_path / "small.jsonl"
    small.write_bytes(b"".join(snapshot_line(i) for i in range(50)))
    code, err, rss = run_import(tmp_path / "base-home", small, tmp_path)
    assert code == 0, err
    return rss


def test_a_json_document_bomb_is_refused_in_bounded_memory(tmp_path: Path, baseline_rss: int) -> None:
    head = b'[{"paper": {"id": "2501.00001", "title": "'
    bomb = gzip_bomb(tmp_path / "daily.json.gz", head, b"0", 768 * MiB, b'"}}]')
    assert bomb.stat().st_size < 2 * MiB
    code, err, rss = run_import(tmp_path / "home", bomb, tmp_path,
                                PAPERFEED_MAX_DOCUMENT_BYTES=str(16 * MiB))
    assert code == 2, err
    assert "PAPERFEED_MAX_DOCUMENT_BYTES" in err and "Traceback" not in err
    assert rss < baseline_rss + 128 * MiB, (rss, baseline_rss)


def test_a_snapshot_line_bomb_is_refused_in_bounded_memory(tmp_path: Path, baseline_rss: int) -> None:
    head = snapshot_line(1)[:-2] + b', "abstract": "'
    bomb = gzip_bomb(tmp_path / "snapshot.json.gz", head, b" ", 768 * MiB, b'"}\n')
    code, err, rss = run_import(tmp_path / "home", bomb, tmp_path,
                                PAPERFEED_MAX_RECORD_BYTES=str(4 * MiB))
    assert code == 2, err
    assert "PAPERFEED_MAX_RECORD_BYTES" in err and "Traceback" not in err
    assert rss < baseline_rss + 128 * MiB, (rss, baseline_rss)


def test_an_oversized_record_inside_a_snapshot_is_rejected_and_the_rest_imported(tmp_path: Path) -> None:
    huge = snapshot_line(2, comments="x" * (3 * MiB))
    path = tmp_path / "snap.jsonl"
    path.write_bytes(snapshot_line(1) + huge + snapshot_line(3))
    with Library(Config(home=tmp_path / "home", max_record_bytes=MiB)) as lib:
        report = lib.import_files([path], index=False)
        assert report.files[0].error is None
        rejected = [(r.where, "PAPERFEED_MAX_RECORD_BYTES" in r.reason) for r in report.files[0].rejected]
        assert rejected == [("line 2", True)]
        assert lib.get("2402.00001") and lib.get("2402.00003") and lib.get("2402.00002") is None


def test_the_admin_import_of_a_bomb_answers_4xx(tmp_path: Path) -> None:
    head = b'[{"paper": {"id": "2501.00001", "title": "'
    bomb = gzip_bomb(tmp_path / "daily.json.gz", head, b"0", 64 * MiB, b'"}}]')
    with Library(Config(home=tmp_path / "home", max_document_bytes=4 * MiB)) as lib:
        lib.accounts.signup("ada@example.org", "correct horse", admin=True)
        with TestClient(create_app(library=lib), follow_redirects=False) as client:
            page = client.get("/login").text
            token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
            r = client.post("/login", data={"csrf": token, "email": "ada@example.org",
                                            "password": "correct horse"})
            assert r.status_code == 303
            token = re.search(r'name="csrf" value="([^"]+)"', client.get("/account").text).group(1)
            r = client.post("/admin/import", data={"csrf": token},
                            files={"files": ("daily.json.gz", bomb.read_bytes(), "application/gzip")})
            assert r.status_code == 413, r.text[:500]
            assert "PAPERFEED_MAX_DOCUMENT_BYTES" in r.text


def test_a_snapshot_whose_first_line_is_over_64_kb_is_detected(tmp_path: Path) -> None:
    first = snapshot_line(1, abstract="word " * 18_000, comments="c" * 1000)
    assert len(first) > 90_000 and first.index(b'"versions"') > 64 * 1024
    path = tmp_path / "snap.jsonl"
    path.write_bytes(first + snapshot_line(2))
    with Library(Config(home=tmp_path / "home")) as lib:
        report = lib.import_files([path], index=False)
        assert report.files[0].error is None and report.files[0].format == "arxiv-snapshot"
        assert report.summary()["imported"] == 2


def test_a_gz_cut_inside_its_first_record_is_not_called_empty(tmp_path: Path) -> None:
    data = gzip.compress(snapshot_line(1, abstract=os.urandom(30_000).hex()) + snapshot_line(2))
    path = tmp_path / "cut.json.gz"
    path.write_bytes(data[: len(data) // 3])
    with Library(Config(home=tmp_path / "home")) as lib:
        report = lib.import_files([path], index=False)
    error = report.files[0].error
    assert error and "empty" not in error and "truncated or corrupt gzip" in error, error




class _BombHandler(BaseHTTPRequestHandler):
    body = b""

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: object) -> None:
        pass


def run_harvest(home: Path, url: str, tmp: Path, **env: str) -> tuple[int, str, int]:
    err = tmp / "harvest-err.txt"
    with err.open("wb") as e:
        proc = subprocess.Popen(
            [sys.executable, "-m", "paperfeed.cli", "--home", str(home), "harvest", "hf",
             "--date", "2025-02-04", "--endpoint", url, "--no-index"],
            stdout=subprocess.DEVNULL, stderr=e,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "PAPERFEED_HTTP_ATTEMPTS": "1",
                 **env},
        )
        _, status, usage = os.wait4(proc.pid, 0)
    return os.waitstatus_to_exitcode(status), err.read_text(), usage.ru_maxrss * 1024


def test_a_gzip_bomb_from_a_harvested_server_is_refused_in_bounded_memory(tmp_path: Path) -> None:
    good = tmp_path / "good.json.gz"
    with gzip.open(good, "wb") as out:
        out.write(b"[]")
    bomb = gzip_bomb(tmp_path / "bomb.json.gz", b"[", b" ", 768 * MiB, b"]")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _BombHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        _BombHandler.body = good.read_bytes()
        code, err, baseline = run_harvest(tmp_path / "home", url, tmp_path)
        assert code == 0, err
        _BombHandler.body = bomb.read_bytes()
        code, err, rss = run_harvest(tmp_path / "home", url, tmp_path,
                                     PAPERFEED_MAX_DOCUMENT_BYTES=str(16 * MiB))
    finally:
        server.shutdown()
    assert code != 0 and "PAPERFEED_MAX_DOCUMENT_BYTES" in err and "Traceback" not in err, err
    assert rss < baseline + 128 * MiB, (rss, baseline)
