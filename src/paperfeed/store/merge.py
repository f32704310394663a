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

from dataclasses import fields, replace

from paperfeed.records import Paper

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
