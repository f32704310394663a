"""A small, known corpus for the web tests, imported through the real importer: three days of
Hugging Face daily papers (2025-02-03, 02-04 and 02-06: no papers on the 5th), one of them with a
hostile title and abstract, and one arXiv paper with a DOI and categories."""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn

import paperfeed
from paperfeed import accounts
from paperfeed.library import Library
from paperfeed.records import Paper
from paperfeed.web.app import UVICORN_OPTIONS, create_app

XSS_TITLE = 'Attention <script>alert("title")</script> Is All You Need'
XSS_SUMMARY = 'Summary <script>alert("summary")</script> stays text.'
# Hugging Face's thumbnail CDN (the browser tests answer it locally: there is no internet).
THUMBNAIL = "https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/2502.00004.png"
XSS_ABSTRACT = 'We show <img src=x onerror="alert(1)"> and <script>document.cookie</script> are text.'


def _item(pid: str, day: str, title: str, summary: str, upvotes: int, authors: list[str], **extra) -> dict:
    paper = {
        "id": pid,
        "authors": [{"_id": f"a{i}", "name": n, "hidden": False} for i, n in enumerate(authors)],
        "publishedAt": f"{day}T08:00:00.000Z",
        "submittedOnDailyAt": f"{day}T09:00:00.000Z",
        "title": title,
        "summary": summary,
        "upvotes": upvotes,
        "discussionId": "d" + pid,
        **extra.pop("paper_extra", {}),
    }
    return {
        "paper": paper,
        "publishedAt": f"{day}T09:00:00.000Z",
        "title": title,
        "summary": summary,
        "numComments": 2,
        "submittedBy": {"_id": "s1", "name": "akhaliq", "fullname": "AK", "type": "user"},
        "isAuthorParticipating": False,
        **extra,
    }


ORG = {"_id": "o1", "name": "example-lab", "fullname": "Example Lab", "avatar": ""}

ITEMS = [
    _item("2502.00001", "2025-02-03", "Sparse Mixture of Experts for Speech Recognition",
          "Mixture of experts models scale speech recognition cheaply.", 12, ["Ada Lovelace", "Alan Turing"]),
    _item("2502.00002", "2025-02-03", "Diffusion Transformers for Video Generation",
          "Diffusion transformers generate long videos with temporal attention.", 30, ["Grace Hopper"],
          organization=ORG),
    _item("2502.00003", "2025-02-04", XSS_TITLE, XSS_ABSTRACT, 5, ["Mallory <b>Evil</b>"],
          thumbnail="javascript:alert(1)",
          paper_extra={"githubRepo": "javascript:alert(1)", "projectPage": "https://example.org/p",
                       "ai_summary": XSS_SUMMARY, "ai_keywords": ["<b>bold</b>", 7]}),
    _item("2502.00004", "2025-02-04", "Speculative Decoding for Large Language Models",
          "Speculative decoding speeds up language model inference with a draft model.", 50,
          ["Alan Turing", "Barbara Liskov"], organization=ORG,
          thumbnail=THUMBNAIL,
          paper_extra={"githubRepo": "https://github.com/example/specdec", "githubStars": 321,
                       "ai_summary": "A small draft model proposes tokens the large model checks.",
                       "ai_keywords": ["speculative decoding", "draft model", "inference"]}),
    _item("2502.00005", "2025-02-04", "Speculative Sampling with Draft Trees",
          "Draft trees make speculative decoding of language models faster still.", 20, ["Barbara Liskov"]),
    _item("2502.00006", "2025-02-06", "Retrieval Augmented Generation at Scale",
          "Retrieval augmented generation grounds language models in documents.", 8, ["Donald Knuth"]),
    _item("2502.00007", "2025-02-06", "Graph Neural Networks for Molecules",
          "Graph neural networks predict molecular properties.", 3, ["Edsger Dijkstra"]),
]

ATOM_WITH_DOI = """<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:arxiv="http://arxiv.org/schemas/atom">
  <entry>
    <id>http://arxiv.org/abs/2501.09999v2</id>
    <updated>2025-01-20T00:00:00Z</updated>
    <published>2025-01-17T00:00:00Z</published>
    <title>Language Model Decoding Strategies Revisited</title>
    <summary>A survey of decoding for language models, speculative decoding included.</summary>
    <author><name>Barbara Liskov</name><arxiv:affiliation>MIT</arxiv:affiliation></author>
    <arxiv:doi>10.1234/example.5678</arxiv:doi>
    <arxiv:journal_ref>Journal of Decoding 12 (2025) 1-20</arxiv:journal_ref>
    <arxiv:comment>20 pages, 4 figures</arxiv:comment>
    <arxiv:primary_category term="cs.CL"/>
    <category term="cs.CL"/><category term="cs.LG"/>
  </entry>
</feed>
"""


def build(lib: Library, folder: Path) -> Library:
    folder.mkdir(parents=True, exist_ok=True)
    daily = folder / "daily.json"
    daily.write_text(json.dumps(ITEMS))
    atom = folder / "arxiv.xml"
    atom.write_text(ATOM_WITH_DOI)
    report = lib.import_files([daily, atom])
    assert report.summary()["imported"] == len(ITEMS) + 1, report.summary()
    return lib


@contextmanager
def serving(lib: Library) -> Iterator[str]:
    """The real app on a real uvicorn server on loopback (in a thread); yields its base URL."""
    # The socket is bound here and handed to uvicorn: no other process (a test run on several
    # workers) can take the port between choosing it and listening on it.
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(create_app(library=lib), host="127.0.0.1", port=port, log_level="warning",
                            **UVICORN_OPTIONS)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@contextmanager
def served(root: Path, *extra: Paper) -> Iterator[str]:
    """A library in `root/home` with this corpus and the `extra` papers, on a real uvicorn server;
    yields its base URL (the set-up of the tests that read pages back with real parsers)."""
    with paperfeed.open(root / "home") as lib:
        build(lib, root / "data")
        lib.store.upsert(list(extra))
        with serving(lib) as base:
            yield base


def csrf_of(page: str) -> str:
    """The CSRF token of a page's form (every form carries one)."""
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    assert match, "every form carries a CSRF token"
    return match.group(1)


class CountingHasher(accounts.PasswordHasher):
    """The real argon2 hasher, counting its calls (the same work for known and unknown
    accounts is asserted by counting, not by timing)."""

    def __init__(self) -> None:
        super().__init__()
        self.hashes = 0
        self.verifies = 0

    def hash(self, password, *, salt=None):  # type: ignore[no-untyped-def, override]
        self.hashes += 1
        return super().hash(password, salt=salt)

    def verify(self, hash, password):  # type: ignore[no-untyped-def, override]
        self.verifies += 1
        return super().verify(hash, password)
