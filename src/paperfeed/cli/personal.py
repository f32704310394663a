"""`paperfeed library ...` (collections, notes, read marks, "not interested", import and export)
and `paperfeed recommend`. Each command acts for `--user EMAIL`, by default the instance owner.

Exit codes: 0 done; 1 an import left rejected entries; 2 bad input (an unknown paper, user or
collection, a bad collection name, an unreadable file). Text from papers and collection names is
printed without control characters, so nothing in a title can drive the terminal.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path
from typing import Annotated, Any

import typer

from paperfeed.cli.common import emit_json, err, fail, library
from paperfeed.records import Paper

app = typer.Typer()  # `paperfeed recommend`
library_app = typer.Typer(
    help="Your library: collections, notes, read marks, \"not interested\", import and export.",
    no_args_is_help=True,
)

AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]
UserOpt = Annotated[
    str | None, typer.Option("--user", help="Act for this account (default: the instance owner).")
]
CollectionOpt = Annotated[str | None, typer.Option("--collection", help="A collection name.")]
MAX_REJECTS_SHOWN = 50
EXPORT_FORMATS = ("bibtex", "ris", "csl-json")


def term(text: object) -> str:
    """Untrusted text made safe for a terminal: control and format characters (escape
    sequences, bidirectional overrides, line breaks) dropped, white space collapsed."""
    cleaned = "".join(
        " " if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") else ch for ch in str(text or "")
    )
    return " ".join(cleaned.split())


def _paper_line(paper: Paper, head: str = "") -> str:
    day = paper.day.isoformat() if paper.day else " " * 10
    return f"{head}{paper.upvotes or 0:>4}▲ {day}  {term(paper.id):<18} {term(paper.title)}"


def _say(message: str) -> None:
    err.print(message, markup=False, highlight=False, soft_wrap=True)


@library_app.command("import")
def import_(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="BibTeX (or another format paperfeed reads).")],
    collection: Annotated[str, typer.Option("--collection", help="The collection to fill.")],
    user: UserOpt = None,
    as_json: AsJson = False,
) -> None:
    """Import a reference manager's export into a collection: entries are matched to known
    papers by arXiv id, DOI, then title; the others become new papers."""
    with library(ctx) as lib:
        report = lib.library_import(file, collection, user=user)
    if as_json:
        emit_json(report.to_dict())
    else:
        for shown, entry in enumerate(report.rejected):
            if shown >= MAX_REJECTS_SHOWN:
                _say(f"… and {len(report.rejected) - MAX_REJECTS_SHOWN} more rejected entries")
                break
            _say(f"rejected {term(file.name)}:{entry.where}: {term(entry.reason)}")
        s = report.summary()
        _say(
            f"{term(report.collection)}: matched {s['matched']}, added {s['added']}, "
            f"duplicates {s['duplicates']}, rejected {s['rejected']}"
        )
    if report.rejected:
        raise typer.Exit(1)


@library_app.command("add")
def add(
    ctx: typer.Context,
    paper_id: Annotated[str, typer.Argument(metavar="ID")],
    collection: Annotated[str, typer.Option("--collection", help="Created if new.")],
    user: UserOpt = None,
) -> None:
    """Save a paper to a collection (this also undoes a "not interested")."""
    with library(ctx) as lib:
        saved = lib.library_add(paper_id, collection, user=user)
    _say(f"saved to {term(saved.name)} ({saved.size} papers)")


@library_app.command("remove")
def remove(
    ctx: typer.Context,
    paper_id: Annotated[str, typer.Argument(metavar="ID")],
    collection: CollectionOpt = None,
    user: UserOpt = None,
) -> None:
    """Take a paper out of a collection (without --collection: out of every collection)."""
    with library(ctx) as lib:
        removed = lib.library_remove(paper_id, collection, user=user)
    _say(f"removed from {removed} collection{'s' if removed != 1 else ''}")


@library_app.command("dismiss")
def dismiss(
    ctx: typer.Context, paper_id: Annotated[str, typer.Argument(metavar="ID")], user: UserOpt = None
) -> None:
    """"Not interested": hide the paper everywhere and recommend less like it."""
    with library(ctx) as lib:
        new = lib.dismiss(paper_id, user=user)
    _say("dismissed" if new else "already dismissed")


@library_app.command("undismiss")
def undismiss(
    ctx: typer.Context, paper_id: Annotated[str, typer.Argument(metavar="ID")], user: UserOpt = None
) -> None:
    """Undo "not interested"."""
    with library(ctx) as lib:
        was = lib.undismiss(paper_id, user=user)
    _say("undismissed" if was else "was not dismissed")


@library_app.command("dismissed")
def dismissed(ctx: typer.Context, user: UserOpt = None, as_json: AsJson = False) -> None:
    """The papers you marked "not interested", most recent first."""
    with library(ctx) as lib:
        papers = lib.dismissed(user=user)
    if as_json:
        emit_json([p.to_dict() for p in papers])
        return
    for p in papers:
        typer.echo(_paper_line(p))


@library_app.command("list")
def list_(
    ctx: typer.Context,
    collection: CollectionOpt = None,
    sort: Annotated[str, typer.Option(help="added | published | upvotes")] = "added",
    user: UserOpt = None,
    as_json: AsJson = False,
) -> None:
    """Your saved papers, of one collection or all, most recently saved first."""
    with library(ctx) as lib:
        saved = lib.library_list(collection, user=user, sort=sort)  # type: ignore[arg-type]
    if as_json:
        emit_json([s.to_dict() for s in saved])
        return
    for s in saved:
        mark = " " if s.read else "•"
        typer.echo(_paper_line(s.paper, f"{mark} ") + f"  [{term(', '.join(s.collections))}]")


@library_app.command("collections")
def collections(ctx: typer.Context, user: UserOpt = None, as_json: AsJson = False) -> None:
    """Your collections and how many papers each holds."""
    with library(ctx) as lib:
        found = lib.collections(user=user)
    if as_json:
        emit_json([c.to_dict() for c in found])
        return
    for c in found:
        typer.echo(f"{c.size:>6}  {term(c.name)}")


@library_app.command("create")
def create(ctx: typer.Context, name: Annotated[str, typer.Argument()], user: UserOpt = None) -> None:
    """Create an empty collection."""
    with library(ctx) as lib:
        made = lib.create_collection(name, user=user)
    _say(f"created {term(made.name)}")


@library_app.command("rename")
def rename(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument()],
    new_name: Annotated[str, typer.Argument()],
    user: UserOpt = None,
) -> None:
    """Rename a collection."""
    with library(ctx) as lib:
        renamed = lib.rename_collection(name, new_name, user=user)
    _say(f"renamed to {term(renamed.name)}")


@library_app.command("delete")
def delete(ctx: typer.Context, name: Annotated[str, typer.Argument()], user: UserOpt = None) -> None:
    """Delete a collection (its papers stay in your other collections)."""
    with library(ctx) as lib:
        held = lib.delete_collection(name, user=user)
    _say(f"deleted ({held} papers were in it)")


@library_app.command("note")
def note(
    ctx: typer.Context,
    paper_id: Annotated[str, typer.Argument(metavar="ID")],
    text: Annotated[str | None, typer.Argument(help="The note (omit to show it).")] = None,
    clear: Annotated[bool, typer.Option("--clear", help="Delete the note.")] = False,
    user: UserOpt = None,
) -> None:
    """Show, set or clear your private note on a paper."""
    with library(ctx) as lib:
        if clear or text is not None:
            kept = lib.set_note(paper_id, "" if clear else text or "", user=user)
            _say("note saved" if kept else "note cleared")
            return
        lib.known_paper(paper_id)
        found = lib.note(paper_id, user=user)
    if found:
        for line in found.splitlines():
            typer.echo(term(line))


@library_app.command("read")
def read(
    ctx: typer.Context,
    paper_id: Annotated[str, typer.Argument(metavar="ID")],
    unread: Annotated[bool, typer.Option("--unread", help="Mark unread instead.")] = False,
    user: UserOpt = None,
) -> None:
    """Mark a paper read (or --unread)."""
    with library(ctx) as lib:
        lib.mark_read(paper_id, not unread, user=user)
    _say("marked unread" if unread else "marked read")


@library_app.command("reset")
def reset(
    ctx: typer.Context,
    saved: Annotated[bool, typer.Option("--saved", help="Also empty every collection.")] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask.")] = False,
    user: UserOpt = None,
) -> None:
    """Reset what you taught it: forget every "not interested" (and with --saved, every saved
    paper; the collections stay)."""
    if not yes and not typer.confirm("Forget everything you taught paperfeed?", default=False):
        raise fail("nothing reset", 1)
    with library(ctx) as lib:
        counts = lib.reset_feedback(user=user, saved=saved)
    _say(f"forgot {counts['dismissals']} dismissals and {counts['saved']} saved papers")


@library_app.command("export")
def export(
    ctx: typer.Context,
    format: Annotated[str, typer.Option("--format", help="bibtex | ris | csl-json")],  # noqa: A002
    collection: CollectionOpt = None,
    paper_id: Annotated[str | None, typer.Option("--id", help="One paper instead.")] = None,
    user: UserOpt = None,
) -> None:
    """A collection (default: your whole library) or one paper as BibTeX, RIS or CSL-JSON on
    stdout."""
    if format not in EXPORT_FORMATS:
        raise fail(f"--format must be one of {', '.join(EXPORT_FORMATS)}")
    with library(ctx) as lib:
        text = lib.library_export(format, collection=collection, paper_id=paper_id, user=user)
    typer.echo(text, nl=not text.endswith("\n"))


@library_app.command("explain")
def explain(
    ctx: typer.Context, collection: CollectionOpt = None, user: UserOpt = None, as_json: AsJson = False
) -> None:
    """What the recommendations learned: the saved papers weighing most, liked and disliked terms."""
    with library(ctx) as lib:
        found = lib.explain(collection, user=user)
        titles = {p.id: p.title for p in lib.store.get_many([pid for pid, _ in found.weights[:20]]).values()}
    data: dict[str, Any] = {
        "weights": [{"id": pid, "title": titles.get(pid), "weight": round(w, 4)} for pid, w in found.weights],
        "likes": found.likes,
        "dislikes": found.dislikes,
    }
    if as_json:
        emit_json(data)
        return
    for item in data["weights"][:20]:
        typer.echo(f"{item['weight']:7.3f}  {term(item['id']):<18} {term(item['title'])}")
    typer.echo("likes: " + term(", ".join(found.likes)))
    typer.echo("dislikes: " + term(", ".join(found.dislikes)))


@library_app.command("feed-token")
def feed_token(
    ctx: typer.Context,
    revoke: Annotated[bool, typer.Option("--revoke", help="Revoke the token, issue none.")] = False,
    user: UserOpt = None,
) -> None:
    """Issue a new secret token for your personal feed (the old one stops working), or revoke it."""
    with library(ctx) as lib:
        if revoke:
            _say("revoked" if lib.revoke_feed_token(user=user) else "there was no token")
            return
        typer.echo(lib.issue_feed_token(user=user))


@app.command("recommend")
def recommend(
    ctx: typer.Context,
    collection: CollectionOpt = None,
    limit: Annotated[int, typer.Option(help="At most this many.")] = 10,
    since: Annotated[str | None, typer.Option(help="Only papers from this day on (YYYY-MM-DD).")] = None,
    user: UserOpt = None,
    as_json: AsJson = False,
) -> None:
    """Papers for you, learned from your saved and dismissed papers (one collection, or all:
    "For you"), each with the reasons it was chosen."""
    with library(ctx) as lib:
        who = lib.user_of(user)
        if not lib.personal.collections.saved_ids(who.id, collection):
            if collection is not None:
                lib.personal.collections.get(who.id, collection)  # unknown name: exit 2
            if as_json:
                emit_json([])
            _say("save a few papers first: `paperfeed library add ID --collection NAME`")
            return
        hits = lib.recommend(collection=collection, user=who, limit=limit, since=since)
    if as_json:
        emit_json(
            [{**h.paper.to_dict(), "score": round(h.score, 6), "reasons": list(h.reasons)} for h in hits]
        )
        if not hits:
            _say("nothing new for you today")
        return
    if not hits:
        _say("nothing new for you today")
        return
    for h in hits:
        typer.echo(_paper_line(h.paper, f"{h.score:8.3f} "))
        for reason in h.reasons:
            typer.echo(f"{'':>10}· {term(reason)}")
