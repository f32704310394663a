"""The harvests `paperfeed serve --schedule` runs daily, from `PAPERFEED_HARVESTS` (the jobs
themselves are `paperfeed.cli.jobs`).

The value lists sources, comma-separated: `arxiv` (all of arXiv over OAI-PMH), `arxiv:SET`
(one set, e.g. `arxiv:cs` or `arxiv:physics:hep-th`), `hf` (Hugging Face daily papers, the last
7 days). Each runs at `PAPERFEED_HARVEST_AT` (UTC, default 04:00) and is incremental.
"""

from __future__ import annotations

from paperfeed.errors import InvalidInput


def parse_harvests(spec: str) -> list[tuple[str, str | None]]:
    """`arxiv:cs,hf` → [("arxiv", "cs"), ("hf", None)]."""
    harvests = []
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        source, _, arg = part.partition(":")
        if source not in ("arxiv", "hf") or (source == "hf" and arg):
            raise InvalidInput(
                f"PAPERFEED_HARVESTS: {part[:40]!r} is not one of arxiv, arxiv:SET, hf"
            )
        harvests.append((source, arg or None))
    return harvests
