"""How two records of one paper become one. Shared by every backend so they merge alike.

Rules:
- Bibliographic fields (title, abstract, authors, categories, dates of the paper, doi, ...): the
  record of the newer arXiv version wins; at equal or unknown versions the incoming record wins.
  A field the winner lacks is filled from the other record.
- Observations (upvotes, comments, GitHub stars): the incoming record is the newest observation,
  so its value wins whenever it has one.
- An arXiv id beats a title-only id; sources are united; `extra` is merged key by key.
Merging is idempotent: merge(merge(a, b), b) == merge(a, b), which makes a re-run import safe.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import TypeVar

from paperfeed.records import Paper

K = TypeVar("K")

_OBSERVATIONS = ("upvotes", "comments", "github_stars")
_RAW = {"title": "title_raw", "abstract": "abstract_raw"}
_SPECIAL = {"id", "sources", "extra", "version", *_RAW.values(), *_OBSERVATIONS}
_BIBLIOGRAPHIC = tuple(f.name for f in fields(Paper) if f.name not in _SPECIAL)


def _empty(value: object) -> bool:
    return value is None or value == "" or value == [] or value == {}


def merge(existing: Paper, incoming: Paper) -> Paper:
    """The paper that `existing` becomes once `incoming` has been seen."""
    incoming_wins = (
        incoming.version is None
        or existing.version is None
        or incoming.version >= existing.version
    )
    winner, loser = (incoming, existing) if incoming_wins else (existing, incoming)
    merged = replace(winner)
    for name in _BIBLIOGRAPHIC:
        if _empty(getattr(merged, name)) and not _empty(getattr(loser, name)):
            setattr(merged, name, getattr(loser, name))
    # The raw text travels with the cleaned text it belongs to.
    for name, raw in _RAW.items():
        source = winner if getattr(merged, name) == getattr(winner, name) else loser
        setattr(merged, raw, getattr(source, raw))
    for name in _OBSERVATIONS:
        value = getattr(incoming, name)
        setattr(merged, name, value if value is not None else getattr(existing, name))
    merged.version = max(
        (v for v in (existing.version, incoming.version) if v is not None), default=None
    )
    merged.id = existing.id if incoming.arxiv_id is None else incoming.id
    if existing.arxiv_id and not incoming.arxiv_id:
        merged.id = existing.id
    merged.sources = list(dict.fromkeys([*existing.sources, *incoming.sources]))
    merged.extra = {**loser.extra, **winner.extra}
    return merged


@dataclass
class UpsertPlan:
    """What a batch does to the table: rows to insert (by id, with their title keys), existing
    rows (by key) whose merged paper changed, and how many existing rows it touched."""

    new: dict[str, Paper] = field(default_factory=dict)
    new_keys: dict[str, str] = field(default_factory=dict)
    changed: dict[int, Paper] = field(default_factory=dict)
    touched: int = 0


def plan_upsert(
    papers: Sequence[Paper], keys: Sequence[str], existing: Iterable[tuple[int, str, str, Paper]]
) -> UpsertPlan:
    """Merge a batch into the rows it can touch, in memory; shared by every backend.

    `keys` are the papers' title keys; `existing` holds (row key, id, title key, paper) of the
    stored rows with any of the batch's ids or title keys. An arXiv record joins the row of its
    id, else a title-only row of its title; a title-only record joins any row of its title (an
    arXiv row first); records inside the batch merge the same way."""
    by_pk: dict[int, Paper] = {}
    by_id: dict[str, int] = {}
    by_key: dict[str, list[int]] = {}
    pk: int | None
    pid: str | None
    for pk, pid, key, paper in existing:
        if pk in by_pk:
            continue
        by_pk[pk] = paper
        by_id[pid] = pk
        by_key.setdefault(key, []).append(pk)
    original = dict(by_pk)
    touched: set[int] = set()
    plan = UpsertPlan()
    new_by_key: dict[str, list[str]] = {}
    for paper, key in zip(papers, keys, strict=True):
        pk = by_id.get(paper.id)
        if pk is None:
            pk = _title_match(paper, by_key.get(key, ()), by_pk)
        if pk is not None:
            merged = merge(by_pk[pk], paper)
            by_pk[pk] = merged
            by_id[merged.id] = pk
            touched.add(pk)
            continue
        pid = paper.id if paper.id in plan.new else None
        if pid is None:
            pid = _title_match(paper, new_by_key.get(key, ()), plan.new)
        if pid is None:
            plan.new[paper.id] = paper
            plan.new_keys[paper.id] = key
            new_by_key.setdefault(key, []).append(paper.id)
            continue
        merged = merge(plan.new[pid], paper)
        if merged.id != pid:
            del plan.new[pid]
            new_by_key[key] = [merged.id if i == pid else i for i in new_by_key[key]]
        plan.new[merged.id] = merged
    plan.changed = {pk: by_pk[pk] for pk in sorted(touched) if by_pk[pk] != original[pk]}
    plan.touched = len(touched)
    return plan


def _title_match(paper: Paper, candidates: Iterable[K], papers: Mapping[K, Paper]) -> K | None:
    """A row that is the same paper by title: a title-only record joins any row with its title
    (an arXiv row first); an arXiv record joins only a title-only row."""
    found = list(candidates)
    if paper.arxiv_id is None:
        found.sort(key=lambda c: papers[c].arxiv_id is None)
        return found[0] if found else None
    return next((c for c in found if papers[c].arxiv_id is None), None)
