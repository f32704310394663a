"""The recommendation engine (`paperfeed.recommend`) on the real sample pages, both backends."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from paperfeed.library import Library
from paperfeed.recommend import _Block, _Text, explain, forget_background, recommend
from paperfeed.records import Paper
from paperfeed.sources import FORMATS

FIXTURES = Path(__file__).parent / "fixtures"


def _by_title(lib: Library, word: str) -> list[str]:
    hits = lib.store.keyword_search([word], limit=200)
    return sorted(p.id for p, _ in hits if word in p.title.lower())


def _foreign() -> list[Paper]:
    """Physics and mathematics records (arXiv fixtures): nothing like the ML sample pages."""
    out: list[Paper] = []
    for fmt, name in (("arxiv-snapshot", "arxiv_snapshot.jsonl"), ("arxiv-atom", "arxiv_atom.xml")):
        with (FIXTURES / name).open("rb") as f:
            out += [p for p in FORMATS[fmt](f, name) if isinstance(p, Paper)]
    return out


@pytest.fixture
def quant(any_sample_lib: Library) -> tuple[Library, list[str]]:
    forget_background(any_sample_lib.store)
    ids = _by_title(any_sample_lib, "quantization")
    assert len(ids) >= 8
    return any_sample_lib, ids


def test_topic_mates_come_first(quant: tuple[Library, list[str]]) -> None:
    lib, ids = quant
    saved, rest = ids[:4], set(ids[4:])
    hits = recommend(lib.store, lib.semantic, saved, floor=False, limit=5)
    assert len(hits) == 5
    mates = sum(h.paper.id in rest for h in hits)
    # 4+ of the sample's ~80 other papers have "quantization" in the title: chance gives < 1 in 5
    assert mates >= 3, [h.paper.title for h in hits]
    assert hits == sorted(hits, key=lambda h: -h.score)


def test_every_hit_has_reasons_naming_a_saved_paper(quant: tuple[Library, list[str]]) -> None:
    lib, ids = quant
    saved = ids[:4]
    titles = {p.id: p.title for p in lib.store.get_many(saved).values()}
    hits = recommend(lib.store, lib.semantic, saved, floor=False)
    assert hits
    for h in hits:
        assert h.reasons and all(isinstance(r, str) and r for r in h.reasons)
        assert h.nearest and set(h.nearest) <= set(saved)
        assert titles[h.nearest[0]][:40] in h.reasons[0]
        assert h.terms and any(r.startswith("terms: ") for r in h.reasons)
        assert 0.0 <= h.score <= 1.0


def test_dismissed_near_duplicate_drops(quant: tuple[Library, list[str]]) -> None:
    lib, ids = quant
    saved, target = ids[:4], ids[4]
    original = lib.store.get(target)
    assert original is not None
    twin = replace(original, id="t-twin-of-target", title=original.title + " (extended version)")
    lib.store.upsert([twin])
    lib.semantic.embed_ids([twin.id])
    forget_background(lib.store)
    before = [h.paper.id for h in recommend(lib.store, lib.semantic, saved, floor=False)]
    assert twin.id in before  # a close topic-mate of the saved papers
    after = [h.paper.id for h in recommend(lib.store, lib.semantic, saved, [target], floor=False)]
    assert target not in after and twin.id not in after


def test_excluded_positive_and_negative_papers_are_never_returned(
    quant: tuple[Library, list[str]],
) -> None:
    lib, ids = quant
    saved, dismissed = ids[:3], ids[3:5]
    first = [h.paper.id for h in recommend(lib.store, lib.semantic, saved, dismissed, floor=False)]
    assert first
    exclude = set(first[:5])
    second = recommend(lib.store, lib.semantic, saved, dismissed, exclude=exclude, floor=False,
                       limit=50)
    got = {h.paper.id for h in second}
    assert got and not got & (exclude | set(saved) | set(dismissed))
    assert len(got) == len(second)  # no paper twice


def test_floor_returns_nothing_for_an_unrelated_library(any_sample_lib: Library) -> None:
    lib = any_sample_lib
    foreign = _foreign()
    lib.store.upsert(foreign)
    lib.semantic.embed_ids([p.id for p in foreign])
    forget_background(lib.store)
    saved = [p.id for p in foreign[:3]]
    others = {p.id for p in foreign} - set(saved)
    assert recommend(lib.store, lib.semantic, saved, exclude=others) == []
    padded = recommend(lib.store, lib.semantic, saved, exclude=others, floor=False)
    assert len(padded) == 10 and all(h.score < 0.5 for h in padded)


def test_floor_lets_real_matches_through(any_sample_lib: Library) -> None:
    """Against a background of ML papers, copies of saved physics papers clear the floor and
    nothing else does."""
    lib = any_sample_lib
    foreign = _foreign()
    copies = [replace(p, id=f"t-copy-{i}", title=p.title + " (revised)") for i, p in
              enumerate(foreign[:3])]
    lib.store.upsert([*foreign, *copies])
    lib.semantic.embed_ids([p.id for p in [*foreign, *copies]])
    forget_background(lib.store)
    for original, copy in zip(foreign, copies, strict=False):
        others = {p.id for p in foreign} - {original.id}
        hits = recommend(lib.store, lib.semantic, [original.id], exclude=others)
        assert [h.paper.id for h in hits] == [copy.id]
        assert hits[0].score >= 0.5


def test_without_vectors_the_text_signal_recommends(lib: Library) -> None:
    lib.import_files(sorted((Path(__file__).parents[1] / "src/paperfeed/sample").glob("*.txt")),
                     index=False)
    forget_background(lib.store)
    assert not lib.has_vectors()
    ids = _by_title(lib, "quantization")
    saved, rest = ids[:4], set(ids[4:])
    for semantic in (None, lib.semantic):
        hits = recommend(lib.store, semantic, saved, floor=False, limit=5)
        assert len(hits) == 5
        assert sum(h.paper.id in rest for h in hits) >= 3, [h.paper.title for h in hits]
        assert all(h.reasons and h.nearest[0] in saved for h in hits)


def test_empty_or_unknown_positives_give_nothing(quant: tuple[Library, list[str]]) -> None:
    lib, ids = quant
    assert recommend(lib.store, lib.semantic, []) == []
    assert recommend(lib.store, lib.semantic, ["t-no-such-paper"], ids[:2]) == []
    with_unknown = recommend(lib.store, lib.semantic, [*ids[:3], "2501.99999"], ["nope"],
                             floor=False)
    assert with_unknown and all(h.paper.id not in ids[:3] for h in with_unknown)


def test_since_keeps_only_the_recent_window(quant: tuple[Library, list[str]]) -> None:
    lib, ids = quant
    since = date(2025, 1, 1)
    hits = recommend(lib.store, lib.semantic, ids[:4], since=since, floor=False, limit=20)
    assert hits
    assert all(h.paper.day is not None and h.paper.day >= since for h in hits)
    everything = recommend(lib.store, lib.semantic, ids[:4], floor=False, limit=40)
    assert any(h.paper.day is None or h.paper.day < since for h in everything)


def test_explain_weighs_saved_papers_and_names_terms(quant: tuple[Library, list[str]]) -> None:
    lib, ids = quant
    odd = _by_title(lib, "unlearning")[:1]
    assert odd
    saved, dismissed = [*ids[:4], *odd], _by_title(lib, "pruning")[:2]
    found = explain(lib.store, lib.semantic, saved, dismissed)
    weights = dict(found.weights)
    assert set(weights) == set(saved)
    assert abs(sum(weights.values()) - 1.0) < 1e-3
    assert weights[odd[0]] == min(weights.values())  # the off-topic save weighs least
    assert any("quantization" in t for t in found.likes[:5])
    assert any("prun" in t for t in found.dislikes)
    assert explain(lib.store, lib.semantic, [], []).weights == []


def test_a_large_library_is_served(quant: tuple[Library, list[str]]) -> None:
    """More positives than ANN anchors: the centroids stand in for them."""
    lib, ids = quant
    everything = [p.id for p, _ in lib.store.keyword_search(["learning"], limit=60)]
    saved, dismissed = everything[:40], everything[40:55]
    hits = recommend(lib.store, lib.semantic, saved, dismissed, floor=False, limit=10)
    assert hits and not {h.paper.id for h in hits} & set(everything[:55])


def test_many_exclusions_still_fill_the_list(quant: tuple[Library, list[str]]) -> None:
    """Papers already sent are dropped before the shortlist is cut, not after it."""
    lib, ids = quant
    saved = ids[:4]
    ranked = [h.paper.id for h in recommend(lib.store, lib.semantic, saved, floor=False, limit=60)]
    assert len(ranked) >= 55
    sent = set(ranked[:45])
    hits = recommend(lib.store, lib.semantic, saved, exclude=sent, floor=False, limit=10)
    assert len(hits) == 10 and not {h.paper.id for h in hits} & sent


def test_exclusions_naming_unknown_papers_are_harmless(quant: tuple[Library, list[str]]) -> None:
    """Excluded ids are looked up by id (a sent paper deleted since is simply not found): the
    known ones are still left out and the list still fills."""
    lib, ids = quant
    saved = ids[:4]
    ranked = [h.paper.id for h in recommend(lib.store, lib.semantic, saved, floor=False, limit=20)]
    sent = {*ranked[:5], "arxiv:0000.00000", "no-such-paper"}
    hits = [h.paper.id for h in recommend(lib.store, lib.semantic, saved, exclude=sent, floor=False,
                                          limit=10)]
    assert len(hits) == 10 and not set(hits) & sent


@pytest.mark.parametrize("with_vectors", [True, False])
def test_among_recommends_only_those_papers(
    quant: tuple[Library, list[str]], with_vectors: bool
) -> None:
    """`among` (a digest's new arrivals) limits the candidates to those papers, exclusions and
    the library still left out; the same scores as the same papers ranked in the whole store
    would not be promised (the shortlist differs), but topic-mates still come first."""
    lib, ids = quant
    semantic = lib.semantic if with_vectors else None
    saved, rest = ids[:4], ids[4:]
    others = [p.id for p, _ in lib.store.keyword_search(["language"], limit=30)
              if p.id not in ids]
    window = [*rest, *others, saved[0]]
    banned = {rest[0]}
    hits = recommend(lib.store, semantic, saved, exclude=banned, among=window, floor=False,
                     limit=30)
    assert hits
    got = [h.paper.id for h in hits]
    assert set(got) <= set(window) - banned - set(saved)
    assert sum(pid in rest for pid in got[:3]) >= 2, [h.paper.title for h in hits]
    assert all(h.reasons for h in hits)
    # the window is read once and shared: a second request with it gives the same answer
    again = recommend(lib.store, semantic, saved, exclude=banned, among=list(window),
                      floor=False, limit=30)
    assert [(h.paper.id, h.score) for h in again] == [(h.paper.id, h.score) for h in hits]
    assert recommend(lib.store, semantic, saved, among=[], floor=False) == []


def test_the_librarys_stateless_request_names_the_first_unknown_paper(
    quant: tuple[Library, list[str]],
) -> None:
    """`Library.recommend(positive=...)` checks every id in one read, each as `get` resolves it
    (arXiv URLs and versions too), and a paper it does not hold is NotFound, by the id given."""
    from paperfeed.errors import NotFound

    lib, ids = quant
    from paperfeed.records import make_paper

    arxiv = "2502.01234"
    lib.store.upsert([make_paper(title="Quantization of large models", arxiv_id=arxiv, source="t",
                                 abstract="Weights in four bits, activations in eight.")])
    given = [f"https://arxiv.org/abs/{arxiv}v2", *ids[1:4], ids[1]]
    assert lib.known_ids(given) == [lib.known_paper(i).id for i in given]
    assert lib.recommend(positive=given, limit=3)
    for bad in (["2501.99999", ids[0]], [ids[0], "no such <b>paper</b>"]):
        with pytest.raises(NotFound, match="no such paper: " + bad[-1 if "no such" in bad[-1] else 0][:20]):
            lib.recommend(positive=bad, limit=3)
    with pytest.raises(NotFound, match="2501.99998"):
        lib.recommend(positive=ids[:3], negative=["2501.99998"], limit=3)


def test_a_space_ending_with_a_merged_block_is_the_space_sorted_whole() -> None:
    # the background's analyses are merged once per sample; a request sorts only its own
    # documents' terms and merges: every column and entry the same as sorting all of them
    from paperfeed.terms import analyser

    words = "graph neural network depth estimation diffusion model language agent robot".split()
    rng = np.random.default_rng(3)
    texts = [(f"p{i}", " ".join(rng.choice(words, int(rng.integers(0, 30))))) for i in range(40)]
    texts += [("only-mine", "quasar spectroscopy"), ("empty", "")]
    for split in (0, 1, 20, 42):
        docs = texts[split:] + texts[:split]  # the last `split` documents are the known block
        known = [analyser().of(pid, text) for pid, text in docs[len(docs) - split:]]
        whole, merged = _Text(docs, known), _Text(docs, _Block.of(known))
        assert np.array_equal(whole.columns, merged.columns)
        for a, b in (("data", "data"), ("indices", "indices"), ("indptr", "indptr")):
            assert np.array_equal(getattr(whole.matrix, a), getattr(merged.matrix, b)), (split, a)


def test_a_paper_with_a_saved_papers_title_is_left_out_and_old_saves_are_named(
    quant: tuple[Library, list[str]],
) -> None:
    # Two arXiv records with one title stay two papers (a re-submission). Saved first, before
    # 25 other papers, the original is not among the latest saves whose texts a request reads:
    # its twin is still left out (the store's title-key index), and a reason naming the
    # original still shows its title.
    lib, ids = quant
    source = lib.store.get(ids[0])
    assert source is not None
    original = replace(source, id="2501.00011", title="Quantised transformers, the sequel")
    twin = replace(original, id="2501.00012")
    lib.store.upsert([original, twin])
    assert lib.semantic is not None
    lib.semantic.embed_ids([original.id, twin.id])
    forget_background(lib.store)
    sample = lib.store.get_by_keys(list(range(1, 90))).values()
    others = sorted(p.id for p in sample if p.id not in {*ids, original.id, twin.id})[:25]
    assert len(others) == 25
    saved = [original.id, *ids[1:4], *others]
    hits = recommend(lib.store, lib.semantic, saved, floor=False, limit=20)
    assert hits and twin.id not in [h.paper.id for h in hits]
    without = recommend(lib.store, lib.semantic, saved[1:], floor=False, limit=20)
    assert twin.id in [h.paper.id for h in without] or original.id in [h.paper.id for h in without]
    # the same from a digest's pool of arrivals (whose title owners are read once per pool)
    pool = [p.id for p in lib.store.get_many([*ids, original.id, twin.id, *others]).values()]
    pooled = recommend(lib.store, lib.semantic, saved, floor=False, limit=20, among=pool)
    assert pooled and twin.id not in [h.paper.id for h in pooled]
    pooled = recommend(lib.store, lib.semantic, saved[1:], floor=False, limit=20, among=pool)
    assert {twin.id, original.id} & {h.paper.id for h in pooled}
    named = [h for h in hits if h.nearest and h.nearest[0] == original.id]
    assert named and all(original.title in h.reasons[0] for h in named)
