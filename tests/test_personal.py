"""The personal library through the Library API, on SQLite and PostgreSQL: collections, names,
notes, read marks, "not interested" (hidden everywhere), reset, the owner, feed tokens, and the
recommendation contracts."""

from __future__ import annotations

import pytest
from librarydata import only_on, page_ids

from paperfeed.errors import InvalidInput, NotFound
from paperfeed.library import Library


@pytest.fixture
def pages() -> tuple[list[str], list[str]]:
    return page_ids()


def test_the_owner_is_created_once_as_an_admin_and_is_the_default_user(any_lib: Library) -> None:
    owner = any_lib.accounts.owner()
    assert owner.is_admin
    assert any_lib.accounts.owner() == owner
    assert len(any_lib.accounts.users()) == 1
    assert any_lib.user_of(None) == owner


def test_the_owner_is_the_earliest_admin_when_there_is_one(any_lib: Library) -> None:
    ada = any_lib.accounts.signup("ada@example.org", "correct horse", admin=True)
    any_lib.accounts.signup("bob@example.org", "correct horse", admin=False)
    assert any_lib.accounts.owner() == ada


def test_collections_hold_papers_a_paper_may_be_in_several(any_sample_lib: Library, pages) -> None:
    lib = any_sample_lib
    a, b = pages
    lib.library_add(a[0], "Merging")
    lib.library_add(a[1], "Merging")
    lib.library_add(a[0], "To read")
    assert [(c.name, c.size) for c in lib.collections()] == [("Merging", 2), ("To read", 1)]
    saved = lib.library_list()
    assert {s.paper.id for s in saved} == {a[0], a[1]}
    first = next(s for s in saved if s.paper.id == a[0])
    assert first.collections == ("Merging", "To read")
    assert [s.paper.id for s in lib.library_list("to read")] == [a[0]]  # names ignore case
    assert lib.library_remove(a[0], "Merging") == 1
    assert [s.paper.id for s in lib.library_list("Merging")] == [a[1]]
    assert lib.library_remove(a[1]) == 1  # out of every collection
    assert lib.library_remove(a[1]) == 0  # nothing left: not an error
    lib.rename_collection("Merging", "Model merging")
    assert [c.name for c in lib.collections()] == ["Model merging", "To read"]
    assert lib.delete_collection("To read") == 1
    assert [s.paper.id for s in lib.library_list()] == []


def test_sorting_by_published_and_upvotes(any_sample_lib: Library, pages) -> None:
    lib = any_sample_lib
    for pid in pages[0][:6]:
        lib.library_add(pid, "A")
    by_date = [s.paper.published for s in lib.library_list("A", sort="published")]
    assert by_date == sorted(by_date, key=lambda d: d.toordinal() if d else 0, reverse=True)
    votes = [s.paper.upvotes or 0 for s in lib.library_list("A", sort="upvotes")]
    assert votes == sorted(votes, reverse=True)
    with pytest.raises(InvalidInput):
        lib.library_list("A", sort="title")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "name", ["bad\nname", "bad\x1b[31mname", "right\u202eto left", "tab\there", "", "   ", "x" * 101]
)
def test_collection_names_with_control_characters_or_bad_lengths_are_refused(
    any_sample_lib: Library, pages, name: str
) -> None:
    with pytest.raises(InvalidInput):
        any_sample_lib.library_add(pages[0][0], name)
    assert any_sample_lib.collections() == []


def test_html_in_a_collection_name_is_kept_as_text(any_sample_lib: Library, pages) -> None:
    name = '<script>alert("x")</script> & co'
    any_sample_lib.library_add(pages[0][0], name)
    assert [c.name for c in any_sample_lib.collections()] == [name]
    with pytest.raises(InvalidInput):
        any_sample_lib.create_collection(name.upper())  # the same name, another case


def test_unknown_papers_are_not_found_and_change_nothing(any_sample_lib: Library) -> None:
    lib = any_sample_lib
    for call in (
        lambda: lib.library_add("2999.99999", "A"),
        lambda: lib.dismiss("2999.99999"),
        lambda: lib.set_note("no-such-paper", "hello"),
        lambda: lib.mark_read("no-such-paper"),
    ):
        with pytest.raises(NotFound):
            call()
    assert lib.collections() == [] and lib.dismissed() == []


def test_notes_and_read_marks_are_private_and_editable(any_sample_lib: Library, pages) -> None:
    lib = any_sample_lib
    pid = pages[0][0]
    lib.accounts.owner()  # (the owner first: else the earliest admin, Bob, would be the owner)
    lib.accounts.signup("bob@example.org", "correct horse", admin=False)
    assert lib.set_note(pid, "  read §3 <b>twice</b>\r\nthen code ") == "read §3 <b>twice</b>\nthen code"
    assert lib.note(pid) == "read §3 <b>twice</b>\nthen code"
    assert lib.note(pid, user="bob@example.org") is None
    with pytest.raises(InvalidInput):
        lib.set_note(pid, "escape \x1b[2J")
    assert lib.note(pid) == "read §3 <b>twice</b>\nthen code"  # the refused edit lost nothing
    assert lib.set_note(pid, "") == "" and lib.note(pid) is None
    lib.library_add(pid, "A")
    assert lib.mark_read(pid) is True and lib.mark_read(pid) is False
    assert lib.library_list()[0].read is True
    lib.mark_read(pid, False)
    assert lib.library_list()[0].read is False


def test_a_dismissed_paper_is_hidden_from_that_user_everywhere(any_sample_lib: Library, pages) -> None:
    lib = any_sample_lib
    owner = lib.accounts.owner()
    bob = lib.accounts.signup("bob@example.org", "correct horse", admin=False)
    target = lib.search("model merging", mode="keyword", limit=5)[0].paper
    lib.dismiss(target.id)
    def found(**user: object) -> list[str]:
        return [h.paper.id for h in lib.search("model merging", mode="keyword", limit=5, **user)]

    assert target.id not in found(user=owner) and len(found(user=owner)) == 5
    assert target.id in found(user=bob) and target.id in found()
    day = target.day
    assert target.id in {p.id for p in lib.daily(date=day)}
    assert target.id not in {p.id for p in lib.daily(date=day, user=owner)}
    assert target.id not in {p.id for p, _ in lib.daily_scored(date=day, sort="trending", user=owner)[1]}
    assert target.id not in {p.id for p, _ in lib.trending(days=366, limit=200, user=owner)}
    assert target.id in {p.id for p, _ in lib.trending(days=366, limit=200, user=bob)}
    other = next(pid for pid in pages[0] if pid != target.id)
    assert target.id not in {h.paper.id for h in lib.related(other, limit=50, user=owner)}
    # Paging skips the hidden paper without losing or repeating any other.
    everything = [p.id for p in lib.daily(date=day, user=owner)]
    starts = range(0, len(everything) + 2, 2)
    pages_of_two = [lib.daily(date=day, limit=2, offset=k, user=owner) for k in starts]
    paged = [p.id for page in pages_of_two for p in page]
    assert paged == everything
    lib.undismiss(target.id)
    assert target.id in found(user=owner)


def test_saving_undoes_a_dismissal_and_dismissing_unsaves(any_sample_lib: Library, pages) -> None:
    lib = any_sample_lib
    pid = pages[0][0]
    lib.library_add(pid, "A")
    assert lib.dismiss(pid) is True and lib.dismiss(pid) is False
    assert lib.library_list() == [] and [p.id for p in lib.dismissed()] == [pid]
    lib.library_add(pid, "A")
    assert lib.dismissed() == [] and [s.paper.id for s in lib.library_list()] == [pid]


def test_reset_forgets_dismissals_and_optionally_saved_papers(any_sample_lib: Library, pages) -> None:
    lib = any_sample_lib
    a, b = pages
    lib.library_add(a[0], "A")
    lib.dismiss(b[0])
    lib.dismiss(b[1])
    assert lib.reset_feedback() == {"dismissals": 2, "saved": 0}
    assert lib.dismissed() == [] and len(lib.library_list()) == 1
    lib.dismiss(b[0])
    assert lib.reset_feedback(saved=True) == {"dismissals": 1, "saved": 1}
    assert lib.library_list() == [] and [c.name for c in lib.collections()] == ["A"]


def test_feed_tokens_are_secret_replaceable_and_revocable(any_lib: Library) -> None:
    token = any_lib.issue_feed_token()
    owner = any_lib.accounts.owner()
    assert any_lib.feed_token_user(token) == owner
    stored = any_lib.store.db.query("SELECT token_hash FROM feed_tokens")
    assert stored and token not in stored[0][0]  # only a hash is kept
    newer = any_lib.issue_feed_token()
    assert any_lib.feed_token_user(token) is None and any_lib.feed_token_user(newer) == owner
    assert any_lib.revoke_feed_token() is True
    assert any_lib.feed_token_user(newer) is None
    assert any_lib.feed_token_user("") is None and any_lib.feed_token_user("x" * 10_000) is None


# -- recommendations -----------------------------------------------------------------------------

def test_recommendations_from_a_collection_are_its_topic_and_carry_reasons(
    any_sample_lib: Library, pages
) -> None:
    lib = any_sample_lib
    a, b = pages
    saved = only_on(a, b)[:5]
    for pid in saved:
        lib.library_add(pid, "Alignment")
    hits = lib.recommend(collection="Alignment", limit=10)
    assert len(hits) >= 3
    on_a = sum(h.paper.id in set(a) for h in hits)
    assert on_a > len(hits) / 2, [h.paper.title for h in hits]
    for h in hits:
        assert h.paper.id not in saved
        assert h.reasons and all(isinstance(r, str) and r for r in h.reasons)
        assert isinstance(h.score, float)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_for_you_never_returns_saved_dismissed_or_sent_papers(any_sample_lib: Library, pages) -> None:
    lib = any_sample_lib
    a, b = pages
    for pid in only_on(a, b)[:3]:
        lib.library_add(pid, "A")
    for pid in only_on(b, a)[:3]:
        lib.library_add(pid, "B")
    first = [h.paper.id for h in lib.recommend(limit=20)]
    assert first
    lib.dismiss(first[0])
    lib.mark_sent(first[1:3])
    again = {h.paper.id for h in lib.recommend(limit=50)}
    saved = {s.paper.id for s in lib.library_list()}
    assert not again & (saved | set(first[:3]))


def test_stateless_recommendations_follow_the_positives_and_exclude_the_inputs(
    any_sample_lib: Library, pages
) -> None:
    lib = any_sample_lib
    a, b = pages
    positive = only_on(b, a)[:4]
    negative = only_on(a, b)[:2]
    hits = lib.recommend(positive=positive, negative=negative, limit=10)
    assert hits and all(h.reasons for h in hits)
    ids = [h.paper.id for h in hits]
    assert not set(ids) & set(positive + negative)
    assert sum(pid in set(b) for pid in ids) > len(ids) / 2
    assert lib.collections() == []  # stateless: nothing stored
    with pytest.raises(NotFound):
        lib.recommend(positive=["2999.99999"])


def test_recommend_with_an_empty_library_or_nothing_new_is_an_empty_list(
    any_sample_lib: Library, pages
) -> None:
    lib = any_sample_lib
    assert lib.recommend() == []
    assert lib.recommend(positive=[]) == []
    lib.library_add(pages[0][0], "A")
    assert lib.recommend(since="2099-01-01") == []  # nothing that recent
    with pytest.raises(NotFound):
        lib.recommend(collection="no such collection")
    with pytest.raises(InvalidInput):
        lib.recommend(limit=0)


def test_explain_names_the_saved_papers_and_terms(any_sample_lib: Library, pages) -> None:
    lib = any_sample_lib
    a, b = pages
    for pid in only_on(a, b)[:4]:
        lib.library_add(pid, "A")
    lib.dismiss(only_on(b, a)[0])
    found = lib.explain()
    assert {pid for pid, _ in found.weights} == set(only_on(a, b)[:4])
    assert found.likes and found.dislikes
    assert not set(found.likes) & set(found.dislikes)


def test_a_user_s_data_export_includes_the_library(any_sample_lib: Library, pages) -> None:
    lib = any_sample_lib
    lib.library_add(pages[0][0], "A")
    lib.set_note(pages[0][0], "mine")
    lib.dismiss(pages[1][0])
    data = lib.accounts.export(lib.accounts.owner())["library"]
    assert data["collections"] == [
        {"name": "A", "created_at": data["collections"][0]["created_at"], "papers": [pages[0][0]]}
    ]
    assert [n["note"] for n in data["notes"]] == ["mine"]
    assert [d["paper_id"] for d in data["dismissed"]] == [pages[1][0]]


def test_a_refused_write_leaves_nothing_half_written(
    any_sample_lib: Library, pages, monkeypatch: pytest.MonkeyPatch
) -> None:
    from paperfeed.personal import collections as collections_module

    lib = any_sample_lib
    lib.dismiss(pages[0][0])
    monkeypatch.setattr(collections_module, "MAX_PAPERS_PER_COLLECTION", 2)
    with pytest.raises(InvalidInput):
        lib.personal.collections.add(lib.accounts.owner().id, "New", pages[0][:3])
    # Neither the collection, nor any membership, nor the undone dismissal stayed.
    assert lib.collections() == [] and [p.id for p in lib.dismissed()] == [pages[0][0]]
    lib.library_add(pages[0][1], "A")
    lib.library_add(pages[0][2], "A")
    with pytest.raises(InvalidInput):
        lib.library_add(pages[0][3], "A")
    assert [(c.name, c.size) for c in lib.collections()] == [("A", 2)]


def test_a_library_snapshot_reads_as_the_per_collection_reads_do(any_sample_lib: Library, pages) -> None:
    """The digest reads a user's library once for its sections (`Personal.snapshot`): the same
    saved papers, in the same order, and the same recommendations as reading per collection."""
    lib = any_sample_lib
    a, b = pages
    for pid in a[:4]:
        lib.library_add(pid, "Merging")
    for pid in [a[2], *only_on(b, a)[:3]]:
        lib.library_add(pid, "To read")
    lib.dismiss(only_on(b, a)[5])
    uid = lib.user_of(None).id
    snap = lib.personal.snapshot(uid)
    assert snap.saved.saved_ids() == lib.personal.collections.saved_ids(uid)
    assert snap.dismissed == lib.personal.feedback.dismissed_ids(uid)
    for c in lib.collections():
        assert snap.saved.saved_ids(c.id) == lib.personal.collections.saved_ids(uid, c.name)
        alone = lib.recommend(collection=c.name, limit=20)
        shared = lib.recommend(collection=c.name, limit=20, snapshot=snap)
        assert [(h.paper.id, h.score) for h in shared] == [(h.paper.id, h.score) for h in alone]
    assert snap.collection("merging").name == "Merging"  # names match as the store's do
    with pytest.raises(NotFound):
        snap.collection("Unknown")
