"""Importing a reference manager's BibTeX library into a collection of a large store.

A synthetic store (benchmarks/synth.py records, a fifth of them given a DOI) is built once in
`--home`. Each run then writes a 5,000-entry BibTeX file as Zotero writes one: 1,500 entries
known by `eprint`, 1,000 by an arxiv.org `url`, 1,000 by DOI only, 1,000 by title only, and 500
papers the store does not have (new titles each run), and times, in the same run:

  1. `Library.library_import(file, collection)`: read, match (arXiv id, DOI, title), import the
     unmatched, fill the collection;
  2. the baseline: `Library.import_files([file])`, the plain import of the same file (reads and
     merges every entry into the store, fills no collection).

    python benchmarks/bench_library_import.py [--papers 1000000] [--runs 3] [--home DIR]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
from pathlib import Path

import orjson
from synth import records

import paperfeed

ROOT = Path(__file__).resolve().parent


def build(home: Path, n: int) -> None:
    if (home / "built").exists():
        return
    snapshot = home.parent / f"library-snapshot-{n}.jsonl"
    with snapshot.open("wb") as f:
        for i, rec in enumerate(records(n)):
            if i % 5 == 0:
                rec["doi"] = f"10.9999/synth.{i}"
            f.write(orjson.dumps(rec) + b"\n")
    with paperfeed.open(home) as lib:
        started = time.perf_counter()
        lib.import_files([snapshot], index=False)
        print(f"built {lib.store.count():,} papers in {time.perf_counter() - started:.0f} s")
    snapshot.unlink()
    (home / "built").write_text("ok")


def bibtex(lib, rng: random.Random, run: int, n_papers: int) -> str:
    picks = rng.sample(range(n_papers), 5_000)
    ids = [_id(i, n_papers) for i in picks]
    found = lib.store.get_many(ids)
    entries = []
    for k, i in enumerate(picks):
        paper = found.get(_id(i, n_papers))
        if paper is None:
            continue
        title = paper.title.replace("{", "").replace("}", "")
        if k < 1500:
            entries.append(f"@article{{e{k},\n  title = {{{title}}},\n  eprint = {{{paper.id}}},\n"
                           f"  archivePrefix = {{arXiv}},\n}}\n")
        elif k < 2500:
            entries.append(
                f"@misc{{u{k},\n  title = {{{title}}},\n  url = {{http://arxiv.org/abs/{paper.id}}},\n}}\n"
            )
        elif k < 3500 and paper.doi:
            entries.append(f"@article{{d{k},\n  title = {{Retitled {k}}},\n  doi = {{{paper.doi}}},\n}}\n")
        elif k < 4500:
            entries.append(f"@article{{t{k},\n  title = {{{title}}},\n  author = {{Doe, Jane}},\n}}\n")
        else:
            entries.append(f"@article{{n{k},\n  title = {{A new paper {run}-{k} on sparse kernels}},\n"
                           f"  author = {{Roe, Richard}},\n  year = {{2024}},\n}}\n")
    return "\n".join(entries)


def _id(i: int, n: int) -> str:
    """The arXiv id synth.py gives record i."""
    from datetime import date, timedelta

    day = date(2007, 4, 1) + timedelta(days=int(i * 7000 / n))
    return f"{day:%y%m}.{i % 100000:05d}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--papers", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--home", default=str(ROOT / "data" / "home-library"))
    args = parser.parse_args()
    home = Path(args.home)
    home.mkdir(parents=True, exist_ok=True)
    build(home, args.papers)
    rng = random.Random(13)
    ours, plain = [], []
    with paperfeed.open(home) as lib:
        n = lib.store.count()
        for run in range(args.runs):
            path = home.parent / f"library-{run}.bib"
            path.write_text(bibtex(lib, rng, run, args.papers))
            started = time.perf_counter()
            report = lib.library_import(path, f"Zotero {run}")
            ours.append(time.perf_counter() - started)
            print(f"run {run}: library import {ours[-1]:.2f} s {report.summary()}")
            again = home.parent / f"library-{run}-plain.bib"
            again.write_text(path.read_text().replace("A new paper", "Another new paper"))
            started = time.perf_counter()
            plain_report = lib.import_files([again])
            plain.append(time.perf_counter() - started)
            print(f"run {run}: plain import  {plain[-1]:.2f} s {plain_report.summary()}")
            path.unlink()
            again.unlink()
    load = os.getloadavg()
    print(
        f"store {n:,} papers, 5,000 entries, {args.runs} runs: library import median "
        f"{statistics.median(ours):.2f} s (min {min(ours):.2f}), plain import median "
        f"{statistics.median(plain):.2f} s (min {min(plain):.2f}); load average {load[0]:.1f}"
    )


if __name__ == "__main__":
    main()
