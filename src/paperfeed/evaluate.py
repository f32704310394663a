"""Retrieval quality on a BEIR-layout directory: `corpus.jsonl` (`_id`, `title`, `text`),
`queries.jsonl` (`_id`, `text`), `qrels/test.tsv` (`query-id corpus-id score`, header line).

The corpus is loaded into a throw-away library (its own temporary home), embedded when the mode
needs vectors, and every query with judgements is run through the same `Library.search` users
get. Metrics follow BEIR: nDCG@10 (linear gains), Recall@100, MRR@10, averaged over queries.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, cast

import orjson

from paperfeed.config import Config
from paperfeed.errors import InvalidInput
from paperfeed.records import Paper, clean_text

if TYPE_CHECKING:
    from paperfeed.library import Library, SearchMode

ID_PREFIX = "beir:"
"""Corpus ids are stored with this prefix: ids that are not title ids are never merged by title,
so two corpus documents that share a title stay two documents."""
BATCH = 2_000

Ranker = Callable[[str, int], list[str]]
"""(query text, depth) -> corpus ids, best first."""


@dataclass
class BeirData:
    corpus: dict[str, tuple[str, str]]  # _id -> (title, text)
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]  # query id -> corpus id -> relevance


def _jsonl(path: Path) -> Iterator[dict]:
    with path.open("rb") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                raise InvalidInput(f"{path}:{number}: not JSON ({exc})") from None
            if not isinstance(record, dict) or "_id" not in record:
                raise InvalidInput(f"{path}:{number}: a record needs an _id")
            yield record


def load_beir(directory: Path | str, split: str = "test") -> BeirData:
    d = Path(directory)
    for name in ("corpus.jsonl", "queries.jsonl", f"qrels/{split}.tsv"):
        if not (d / name).is_file():
            raise InvalidInput(f"{d}: not a BEIR directory (missing {name})")
    corpus = {
        str(r["_id"]): (str(r.get("title") or ""), str(r.get("text") or ""))
        for r in _jsonl(d / "corpus.jsonl")
    }
    queries = {str(r["_id"]): str(r.get("text") or "") for r in _jsonl(d / "queries.jsonl")}
    qrels: dict[str, dict[str, int]] = {}
    lines = (d / f"qrels/{split}.tsv").read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines[1:], start=2):  # the first line is a header
        if not line.strip():
            continue
        parts = line.split("\t") if "\t" in line else line.split()
        if len(parts) < 3:
            raise InvalidInput(f"{d}/qrels/{split}.tsv:{number}: expected query-id corpus-id score")
        try:
            score = int(float(parts[2]))
        except ValueError:
            raise InvalidInput(f"{d}/qrels/{split}.tsv:{number}: score is not a number") from None
        qrels.setdefault(parts[0], {})[parts[1]] = score
    return BeirData(corpus, queries, qrels)


def corpus_papers(corpus: dict[str, tuple[str, str]]) -> Iterator[Paper]:
    for cid, (title, text) in corpus.items():
        yield Paper(id=ID_PREFIX + cid, title=clean_text(title), abstract=clean_text(text))


def load_library(data: BeirData, home: Path, encoder: str | None, embed: bool) -> Library:
    """A library in `home` holding the corpus (and its vectors when `embed`)."""
    from paperfeed.library import Library

    config = Config.from_env(home=home)
    lib = Library(replace(config, encoder=encoder or config.encoder))
    batch: list[Paper] = []
    for paper in corpus_papers(data.corpus):
        batch.append(paper)
        if len(batch) >= BATCH:
            lib.store.upsert(batch)
            batch.clear()
    lib.store.upsert(batch)
    if embed:
        lib.index(encoder)
    return lib


# -- metrics ------------------------------------------------------------------------------------


def ndcg_at(ranked: list[str], rels: dict[str, int], k: int = 10) -> float:
    dcg = sum(rels.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked[:k]))
    ideal = sorted((r for r in rels.values() if r > 0), reverse=True)[:k]
    idcg = sum(r / math.log2(i + 2) for i, r in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def recall_at(ranked: list[str], rels: dict[str, int], k: int = 100) -> float:
    relevant = {d for d, r in rels.items() if r > 0}
    return len(relevant & set(ranked[:k])) / len(relevant) if relevant else 0.0


def mrr_at(ranked: list[str], rels: dict[str, int], k: int = 10) -> float:
    for i, d in enumerate(ranked[:k]):
        if rels.get(d, 0) > 0:
            return 1.0 / (i + 1)
    return 0.0


def score_run(data: BeirData, ranker: Ranker, depth: int = 100) -> dict[str, float]:
    """Mean nDCG@10, Recall@100 and MRR@10 over the queries that have a relevant document."""
    totals = {"ndcg@10": 0.0, "recall@100": 0.0, "mrr@10": 0.0}
    n = 0
    for qid, rels in data.qrels.items():
        if qid not in data.queries or not any(r > 0 for r in rels.values()):
            continue
        ranked = ranker(data.queries[qid], depth)
        totals["ndcg@10"] += ndcg_at(ranked, rels)
        totals["recall@100"] += recall_at(ranked, rels)
        totals["mrr@10"] += mrr_at(ranked, rels)
        n += 1
    if n == 0:
        raise InvalidInput("no query in queries.jsonl has a relevant document in the qrels")
    return {k: round(v / n, 4) for k, v in totals.items()} | {"queries": n}


def library_ranker(lib: Library, mode: str) -> Ranker:
    def rank(query: str, depth: int) -> list[str]:
        try:
            hits = lib.search(query, mode=cast("SearchMode", mode), limit=depth)  # the Library checks it
        except InvalidInput:
            return []
        return [h.paper.id.removeprefix(ID_PREFIX) for h in hits]

    return rank


def evaluate(
    directory: Path | str, mode: str = "hybrid", encoder: str | None = None
) -> dict[str, float]:
    """Load a BEIR directory into a temporary library and score `mode` on it."""
    if mode not in ("keyword", "semantic", "hybrid"):
        raise InvalidInput(f"mode must be keyword, semantic or hybrid, not {mode[:40]!r}")
    data = load_beir(directory)
    with tempfile.TemporaryDirectory(prefix="paperfeed-eval-") as tmp:
        lib = load_library(data, Path(tmp), encoder, embed=mode != "keyword")
        try:
            return score_run(data, library_ranker(lib, mode))
        finally:
            lib.close()
