"""The shared keyword tokenizer (`store.tokens`) gives exactly the tokens of SQLite FTS5's
`porter unicode61 remove_diacritics 2`, the SQLite index's own tokenizer."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from conftest import SAMPLE_DIR

from paperfeed.library import Library
from paperfeed.store.sqlite.keyword import TOKENIZER
from paperfeed.store.tokens import query_tokens, tokens

FIXTURES = Path(__file__).parent / "fixtures"
TRICKY = [
    "Café naïve Ærøskøbing ﬁne straße Ångström Dvořák Łukasz İstanbul Ṣeyḥ ǅemal",
    "x² H₂O ＡＢＣ ℌ gpt_4 v2.0 3D-printing e\u0301te\u0301",
    "日本語のテキスト 中文 Ελληνικά Русский текст",
    "grokking methodology generalization relational conditioning happily skies dying",
    "a ab abc " + "x" * 70 + " " + "ing" * 30,
]


def fts5_tokens(texts: list[str]) -> list[list[str]]:
    conn = sqlite3.connect(":memory:")
    conn.execute(f"CREATE VIRTUAL TABLE f USING fts5(t, tokenize='{TOKENIZER}')")
    conn.execute("CREATE VIRTUAL TABLE v USING fts5vocab(f, instance)")
    conn.executemany("INSERT INTO f(rowid, t) VALUES (?, ?)", enumerate(texts, 1))
    out: list[list[str]] = [[] for _ in texts]
    for doc, term in conn.execute("SELECT doc, term FROM v ORDER BY doc, offset"):
        out[doc - 1].append(term)
    return out


FIXTURE_FILES = [*sorted(SAMPLE_DIR.glob("*.txt")), FIXTURES / "hf_daily.json",
                 FIXTURES / "arxiv_snapshot.jsonl", FIXTURES / "arxiv_atom.xml"]


def fixture_texts(lib: Library) -> list[str]:
    """Every indexed field of the fixture papers, and the BEIR fixture corpus."""
    lib.import_files(FIXTURE_FILES, index=False)
    texts: list[str] = []
    for row in lib.store.db.query("SELECT title, abstract, author_names FROM papers"):
        texts += list(row)
    for line in (FIXTURES / "beir" / "corpus.jsonl").read_text(encoding="utf-8").splitlines():
        doc = json.loads(line)
        texts += [doc.get("title", ""), doc.get("text", "")]
    return texts


def test_same_tokens_as_fts5_on_the_fixtures(lib: Library) -> None:
    texts = fixture_texts(lib) + TRICKY
    assert len(texts) > 300
    theirs = fts5_tokens(texts)
    differing = [(t[:60], tokens(t), f) for t, f in zip(texts, theirs, strict=True) if tokens(t) != f]
    assert not differing, differing[:3]


def test_query_words_become_index_tokens() -> None:
    assert query_tokens(["Transformers", "grokking", "Łukasz", "___"]) == ["transform", "grok", "łukasz", ""]
