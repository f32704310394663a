"""The recommender's text analyses: term ids that are the same in every process, and the
analyses of saved papers kept in the store (`paperfeed.terms.TermRows`), filled by `index` and
by each digest run, read instead of analysing a library's texts again, and never trusted for a
text that changed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from digestdata import DAY, later
from hypothesis import given, settings
from hypothesis import strategies as st
from librarydata import only_on, page_ids

from paperfeed.embed import paper_text
from paperfeed.library import Library
from paperfeed.recommend import forget_background
from paperfeed.terms import FAST_TOKEN_PATTERN, TOKEN_PATTERN, TermRows, analyser, decode, encode

TEXT = "Quantization-aware training of large language models: 4-bit weights, naïve rounding."

ANALYSE = """
import json, sys
from paperfeed.terms import Analyser
(ids, counts), tokens = Analyser().analyse(sys.argv[1])
print(json.dumps({"ids": ids.tolist(), "counts": counts.tolist(), "tokens": tokens}))
"""


def _analysed_elsewhere(seed: str) -> dict:
    env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(Path(__file__).parents[1] / "src")}
    out = subprocess.run([sys.executable, "-c", ANALYSE, TEXT], env=env, capture_output=True,
                         text=True, check=True)
    return json.loads(out.stdout)


def test_term_ids_are_the_same_in_every_process() -> None:
    # Python's own string hashes differ per process (PYTHONHASHSEED): stored ids must not
    (ids, counts), tokens = analyser().analyse(TEXT)
    one, other = _analysed_elsewhere("1"), _analysed_elsewhere("4242")
    assert one == other == {"ids": ids.tolist(), "counts": counts.tolist(), "tokens": tokens}
    assert "quantization-aware" in tokens and "naive" in tokens  # accents stripped, as sklearn does
    # uni- and bigrams, each once, sorted; distinct terms get distinct ids
    assert len(ids) == len(set(ids.tolist())) == len(set(tokens)) + len(tokens) - 1
    assert list(ids) == sorted(ids)


def test_an_encoded_analysis_reads_back_exactly_and_damage_is_refused() -> None:
    analysis = analyser().analyse(TEXT * 3)[0]
    ids, counts = decode(encode(analysis))
    assert np.array_equal(ids, analysis[0]) and np.array_equal(counts, analysis[1])
    assert counts.max() == 3
    for damaged in ("not base64!", encode(analysis)[:-4], ""):
        if damaged == "":
            assert decode(damaged)[0].size == 0
            continue
        with pytest.raises(ValueError):
            decode(damaged)


def _saved(lib: Library) -> tuple[list[str], list[str]]:
    a, b = page_ids()
    return only_on(a, b)[:6], only_on(b, a)[:2]


def _texts(lib: Library, ids: list[str]) -> dict[str, str]:
    return {pid: paper_text(t, a) for pid, (t, a) in lib.store.texts_of(ids).items()}


def _ranked(lib: Library, pos: list[str], neg: list[str]) -> list[tuple[str, float, list[str]]]:
    forget_background(lib.store)
    hits = lib.recommend(positive=pos, negative=neg, limit=8)
    return [(h.paper.id, round(h.score, 6), h.reasons) for h in hits]


def test_stored_analyses_change_no_recommendation(any_sample_lib: Library) -> None:
    lib = any_sample_lib
    pos, neg = _saved(lib)
    fresh = _ranked(lib, pos, neg)
    rows = TermRows(lib.store.db)
    assert rows.get(_texts(lib, pos + neg)) == {}
    assert rows.remember(_texts(lib, pos + neg)) == len(pos + neg)
    assert rows.remember(_texts(lib, pos + neg)) == 0  # the same texts: nothing rewritten
    stored = rows.get(_texts(lib, pos + neg))
    assert set(stored) == set(pos + neg)
    for pid, (ids, counts) in stored.items():
        again = analyser().analyse(_texts(lib, [pid])[pid])[0]
        assert np.array_equal(ids, again[0]) and np.array_equal(counts, again[1])
    assert fresh and _ranked(lib, pos, neg) == fresh


def test_a_changed_text_is_analysed_afresh_and_a_damaged_row_is_a_miss(sample_lib: Library) -> None:
    lib = sample_lib
    pos, neg = _saved(lib)
    rows = TermRows(lib.store.db)
    rows.remember(_texts(lib, pos + neg))
    lib.store.db.execute("UPDATE paper_terms SET terms = 'garbage' WHERE paper_id = ?", (pos[1],))
    # a new version of the first paper: the row made from the old text is not used
    lib.store.db.execute("UPDATE papers SET abstract = ? WHERE id = ?",
                         ("A new abstract about protein folding with diffusion models.", pos[0]))
    assert set(rows.get(_texts(lib, pos + neg))) == set(pos + neg) - {pos[0], pos[1]}
    with_rows = _ranked(lib, pos, neg)
    lib.store.db.execute("DELETE FROM paper_terms")
    assert with_rows and _ranked(lib, pos, neg) == with_rows
    # remembering the new text replaces the stale row
    assert rows.remember(_texts(lib, [pos[0]])) == 1 and pos[0] in rows.get(_texts(lib, [pos[0]]))


def _a_reader_with_three_saves(lib: Library) -> tuple[str, list[str], list[str]]:
    """(the reader's email, papers to save (the first three saved), papers to dismiss)."""
    email = "ada@example.org"
    lib.accounts.signup(email, "correct horse")
    pos, neg = _saved(lib)
    for pid in pos[:3]:
        lib.library_add(pid, "Optimisers", email)
    return email, pos, neg


def test_index_and_every_digest_run_fill_the_saved_papers_rows(
    sample_lib: Library, monkeypatch: pytest.MonkeyPatch
) -> None:
    lib = sample_lib
    email, pos, neg = _a_reader_with_three_saves(lib)
    lib.dismiss(neg[0], email)
    rows = TermRows(lib.store.db)
    assert rows.unanalysed() == sorted([*pos[:3], neg[0]])
    assert lib.index()["analysed"] == 4
    assert rows.unanalysed() == [] and lib.index()["analysed"] == 0
    # saved after: the next digest run fills them before it composes
    for pid in pos[3:]:
        lib.library_add(pid, "Optimisers", email)
    assert rows.unanalysed() == sorted(pos[3:])
    lib.subscribers.add(email, confirmed=True, trending=False)
    lib.digests.compose(DAY, later())
    assert rows.unanalysed() == []
    assert set(rows.get(_texts(lib, pos[:3] + pos[3:] + neg[:1]))) == {*pos, neg[0]}


def test_a_digest_runs_fill_checks_only_what_was_saved_since_the_last_fill(
    sample_lib: Library,
) -> None:
    """The digest's fill checks the saves and dismissals made since (an hour before) the last
    fill began, not every saved paper again; `index` checks them all."""
    lib = sample_lib
    email, pos, neg = _a_reader_with_three_saves(lib)
    assert lib.fill_terms() == 3
    # an old save whose row went missing, and a save made now
    lib.store.db.execute("DELETE FROM paper_terms WHERE paper_id = ?", (pos[0],))
    lib.store.db.execute("UPDATE collection_papers SET added_at = ? WHERE paper_id = ?",
                         ("2020-01-01T00:00:00+00:00", pos[0]))
    lib.library_add(pos[3], "Optimisers", email)
    lib.dismiss(neg[0], email)
    rows = TermRows(lib.store.db)
    assert rows.unanalysed() == sorted([pos[0], pos[3], neg[0]])
    assert lib.fill_terms(since_last=True) == 2  # the new save and dismissal, not the old save
    assert rows.unanalysed() == [pos[0]]
    assert lib.fill_terms() == 1 and rows.unanalysed() == []


def test_the_store_drops_a_row_whose_text_changes_so_a_kept_row_needs_no_text(
    any_sample_lib: Library,
) -> None:
    """A row written now is kept current by the store's triggers: read without its text, and
    gone when the paper's title or abstract changes or the paper goes (on both backends)."""
    lib = any_sample_lib
    pos, neg = _saved(lib)
    rows = TermRows(lib.store.db)
    assert rows.remember(_texts(lib, pos)) == len(pos)
    current, unsure = rows.current(pos)
    assert set(current) == set(pos) and unsure == {}
    paper = lib.store.get(pos[0])
    assert paper is not None
    lib.store.upsert([replace(paper, title=paper.title + " (revised)")])
    lib.store.delete([pos[1]])
    lib.store.db.execute("UPDATE papers SET abstract = abstract WHERE id = ?", (pos[2],))  # no change
    current, _ = rows.current(pos)
    assert set(current) == set(pos) - {pos[0], pos[1]}
    # the revised paper's row is written again from its new text
    assert rows.remember(_texts(lib, [pos[0]])) == 1 and pos[0] in rows.current([pos[0]])[0]


def test_a_text_that_changed_before_its_row_is_written_gets_no_row(any_sample_lib: Library) -> None:
    lib = any_sample_lib
    pos, _ = _saved(lib)
    rows = TermRows(lib.store.db)
    old = _texts(lib, pos[:2])
    lib.store.db.execute("UPDATE papers SET abstract = ? WHERE id = ?", ("Rewritten since.", pos[0]))
    assert rows.remember(old) == 1  # the analysis of the text as it was read is not kept
    assert set(rows.current(pos[:2])[0]) == {pos[1]}


def test_an_earlier_releases_rows_are_checked_by_text_and_marked_current_by_the_fill(
    sample_lib: Library, monkeypatch: pytest.MonkeyPatch,
) -> None:
    lib = sample_lib
    email, pos, neg = _a_reader_with_three_saves(lib)
    assert lib.fill_terms() == 3
    lib.store.db.execute("UPDATE paper_terms SET kept = 0")  # as an earlier release wrote them
    rows = TermRows(lib.store.db)
    current, unsure = rows.current(pos[:3])
    assert current == {} and set(unsure) == set(pos[:3])
    assert set(rows.get(_texts(lib, pos[:3]))) == set(pos[:3])  # still used, checked by text
    assert rows.unanalysed() == sorted(pos[:3])
    # marked current without analysing the texts again
    monkeypatch.setattr("paperfeed.terms.Analyser.analyse", lambda *a: pytest.fail("analysed"))
    assert lib.fill_terms() == 3
    assert set(rows.current(pos[:3])[0]) == set(pos[:3]) and rows.unanalysed() == []


def test_a_library_with_current_rows_reads_no_abstract(
    any_sample_lib: Library, monkeypatch: pytest.MonkeyPatch,
) -> None:
    lib = any_sample_lib
    pos, neg = _saved(lib)
    TermRows(lib.store.db).remember(_texts(lib, pos + neg))
    fresh = _ranked(lib, pos, neg)
    asked: list[str] = []
    texts_of = lib.store.texts_of

    def spy(ids):  # type: ignore[no-untyped-def]
        asked.extend(ids)
        return texts_of(ids)

    monkeypatch.setattr(lib.store, "texts_of", spy)
    assert _ranked(lib, pos, neg) == fresh
    assert not set(asked) & set(pos + neg)
    # one row damaged: that paper's text is read (and analysed afresh), the rest still not
    monkeypatch.setattr(lib.store, "texts_of", texts_of)
    lib.store.db.execute("UPDATE paper_terms SET terms = 'garbage' WHERE paper_id = ?", (pos[-1],))
    monkeypatch.setattr(lib.store, "texts_of", spy)
    asked.clear()
    assert _ranked(lib, pos, neg) == fresh
    assert set(asked) & set(pos + neg) == {pos[-1]}


# letters, digits, the pattern's own punctuation, word characters outside ASCII (accented, Greek,
# a combining accent, a ligature, a digit of another script), spaces and other punctuation
_TRICKY = "aZ_-09 .,'éßΩα\u0301ﬁ٣\n"


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=_TRICKY, max_size=40))
def test_the_fast_token_pattern_finds_the_tokens_sklearns_does(text: str) -> None:
    """The recommender tokenises with a faster pattern than arxiv-sanity's: the same tokens on
    any text, so every analysis (and every stored one) is unchanged."""
    import re

    from sklearn.feature_extraction.text import TfidfVectorizer

    sklearn_tokens = TfidfVectorizer(token_pattern=TOKEN_PATTERN).build_tokenizer()
    assert re.findall(FAST_TOKEN_PATTERN, text) == sklearn_tokens(text)
    assert analyser().tokenize(text) == sklearn_tokens(text)


def test_texts_analysed_together_are_analysed_as_one_by_one() -> None:
    from paperfeed.terms import Analyser

    # an empty text and one of stop words only (no terms), one word (no bigram), and texts
    # whose neighbours' words would make a bigram across them ("molecules graph"), first, in
    # the middle and last
    texts = ["", TEXT, TEXT.upper() + " and more words", "", "Graph neural networks for molecules.",
             "graph", "the and of", "graph", TEXT, ""]
    alone = Analyser()
    together = Analyser().of_many([(f"p{i}", t) for i, t in enumerate(texts)])
    assert len(together) == len(texts)
    for (ids, counts), text in zip(together, texts, strict=True):
        ref_ids, ref_counts = np.unique(alone.ids(alone.tokens(text)), return_counts=True)
        assert np.array_equal(ids, ref_ids) and np.array_equal(counts, ref_counts.astype(np.float32))


def test_a_text_changing_while_its_row_is_written_leaves_no_stale_row(
    any_sample_lib: Library,
) -> None:
    """A writer that changed the abstract, not yet committed, while the fill writes: the fill
    waits for it (PostgreSQL: FOR SHARE on the paper; SQLite: one writer at a time) and then
    sees the new text, so no row made from the old text is kept."""
    import threading

    lib = any_sample_lib
    pos, _ = _saved(lib)
    old = _texts(lib, pos[:1])
    rows = TermRows(lib.store.db)
    written: list[int] = []
    started = threading.Event()
    with lib.store.db.transaction() as tx:
        tx.execute("UPDATE papers SET abstract = ? WHERE id = ?", ("Changed meanwhile.", pos[0]))
        fill = threading.Thread(target=lambda: (started.set(), written.append(rows.remember(old))))
        fill.start()
        started.wait(5)
        fill.join(0.5)  # it waits for this transaction
        assert fill.is_alive()
    fill.join(30)
    assert written == [0]
    assert rows.current(pos[:1])[0] == {}
