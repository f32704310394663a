"""The shared keyword tokenizer (`store.tokens`) gives exactly the tokens of SQLite FTS5's
`porter unicode61 remove_diacritics 2`, the SQLite index's own tokenizer."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from pathlib import Path

from conftest import SAMPLE_DIR

from paperfeed.library import Library
from paperfeed.store.postgres.keyword import keyword_row, pack_tf
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


def test_keyword_row_packs_each_fields_counts_against_fts5_tokens() -> None:
    """The PostgreSQL keyword columns of a paper, built in one pass, against their definition
    (distinct FTS5 tokens; each token's title, abstract and author counts, capped, packed; the
    token count; the title's distinct tokens), with counts past every cap."""
    title = "Grokking grokked " + "loss " * 300 + "Ærø"
    abstract = "loss of the model " * 3 + "token " * 33_000 + "grokking"
    authors = ["Łukasz Kaiser", "Ann Loss"] + ["Loss"] * 260
    terms, tf, length, title_terms = keyword_row(title, abstract, authors)
    fields = fts5_tokens([title, abstract, " ".join(authors)])
    counts = [Counter(f) for f in fields]
    assert terms == list(dict.fromkeys([*fields[0], *fields[1], *fields[2]]))
    assert tf == [pack_tf(counts[0][t], counts[1][t], counts[2][t]) for t in terms]
    assert length == sum(map(len, fields))
    assert title_terms == list(dict.fromkeys(fields[0]))
    loss = tf[terms.index("loss")]
    assert (loss & 255, (loss >> 8) & 255, loss >> 16) == (255, 255, 3)
    assert tf[terms.index("token")] >> 16 == 0x7FFF
