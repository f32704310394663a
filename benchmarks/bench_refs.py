"""Reference-manager formats: import parse rate of a generated 5,000-entry Zotero-style BibTeX
library (entries/s), and export rates (papers/s) of BibTeX, RIS, CSL-JSON and markdown.

The library looks like a Zotero 7 BibTeX export of an ML reading list: tab-indented fields, 85 %
arXiv preprints (`url`, arXiv `doi`, `note = {arXiv:ID [cs]}`, `month = aug`, arXiv-category
`keywords`), 15 % conference/journal papers without an arXiv id; 1-12 authors (some with TeX
accents), abstracts of 120-260 words with Zotero's escapes (`\\%`, `\\&`, `{\\textbackslash}`,
`\\_`) in a third of them, `{Capitalised}` title words, `file`/`urldate`/`annote` fields.

Baselines in the same run: bibtexparser 2 alone (`parse_string`, the floor our reader pays), and
the same entries read back by rispy / orjson for the RIS and CSL-JSON readers. Import here is
parsing into Paper records (no store): storing is the store's figure.

    python benchmarks/bench_refs.py [--entries 5000] [--runs 5] [--json out.json]
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import random
import statistics
import time
from collections.abc import Callable

import bibtexparser
import orjson
import rispy

from paperfeed.exports import to_bibtex, to_csl_json, to_markdown, to_ris
from paperfeed.records import Paper
from paperfeed.sources.bibtex import read_bibtex
from paperfeed.sources.csl_json import read_csl_json
from paperfeed.sources.ris import read_ris

WORDS = (
    "we propose novel transformer attention sparse diffusion model training inference language "
    "quantization gradient robust benchmark dataset graph neural network optimal bound convex "
    "reinforcement learning policy reward latent representation contrastive retrieval"
).split()
SURNAMES = ["Vaswani", "M{\\\"u}ller", "Garc{\\'i}a", "Chen", "Smith", "Nov{\\'a}k", "Kim", "Okafor"]
GIVEN = ["Ashish", "J{\\\"o}rg", "Mar{\\'i}a", "Wei", "Jane", "Petr", "Min-jun", "Chidi"]
TAGS = [
    "Computer Science - Machine Learning",
    "Computer Science - Computation and Language",
    "Computer Science - Computer Vision and Pattern Recognition",
    "Statistics - Machine Learning",
    "Computer Science - Artificial Intelligence",
]
MONTHS = "jan feb mar apr may jun jul aug sep oct nov dec".split()


def _words(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def zotero_entry(rng: random.Random, i: int) -> str:
    authors = " and ".join(f"{rng.choice(SURNAMES)}, {rng.choice(GIVEN)}" for _ in range(rng.randint(1, 12)))
    abstract = _words(rng, rng.randint(120, 260))
    if rng.random() < 0.33:
        abstract += " We gain 12\\% with \\_fast\\_ code, A \\& B and C:{\\textbackslash}data."
    words = _words(rng, rng.randint(6, 14)).split()
    title = " ".join(w.capitalize() if rng.random() < 0.5 else w for w in words)
    title = title.replace("Transformer", "{Transformer}")
    year = rng.randint(2015, 2024)
    fields = [f"\ttitle = {{{title}}}"]
    if rng.random() < 0.85:
        arxiv_id = f"{year % 100:02d}{rng.randint(1, 12):02d}.{i:05d}"
        fields += [
            f"\turl = {{http://arxiv.org/abs/{arxiv_id}}}",
            f"\tdoi = {{10.48550/arXiv.{arxiv_id}}}",
            f"\tabstract = {{{abstract}}}",
            f"\turldate = {{2024-05-{rng.randint(1, 28):02d}}}",
            "\tpublisher = {arXiv}",
            f"\tauthor = {{{authors}}}",
            f"\tmonth = {rng.choice(MONTHS)}",
            f"\tyear = {{{year}}}",
            f"\tnote = {{arXiv:{arxiv_id} [cs]}}",
            f"\tkeywords = {{{', '.join(rng.sample(TAGS, rng.randint(1, 3)))}}}",
            "\tannote = {Comment: 12 pages, 5 figures}",
            f"\tfile = {{arXiv Fulltext PDF:/home/u/Zotero/storage/K{i:07d}/paper.pdf:application/pdf}}",
        ]
        kind = "misc"
    else:
        fields += [
            f"\tbooktitle = {{Proceedings of the {{Conference}} on {_words(rng, 3)}}}",
            f"\tabstract = {{{abstract}}}",
            f"\tauthor = {{{authors}}}",
            f"\tmonth = {rng.choice(MONTHS)}",
            f"\tyear = {{{year}}}",
            f"\tpages = {{{rng.randint(1, 900)}--{rng.randint(901, 999)}}}",
        ]
        kind = "inproceedings"
    return f"@{kind}{{key{i}_{year},\n" + ",\n".join(fields) + ",\n}\n\n"


def library(n: int, seed: int = 0) -> bytes:
    rng = random.Random(seed)
    return "".join(zotero_entry(rng, i) for i in range(n)).encode()


def timed(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def papers_of(reader, data: bytes) -> list[Paper]:
    return [p for p in reader(io.BytesIO(data), "bench") if isinstance(p, Paper)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--entries", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args()
    n, runs = args.entries, args.runs

    data = library(n)
    text = data.decode()
    papers = papers_of(read_bibtex, data)
    assert len(papers) == n, len(papers)
    ris, csl = to_ris(papers).encode(), to_csl_json(papers).encode()

    figures: dict[str, float] = {
        "bibtex_bytes": len(data),
        "bibtexparser_parse_string_s": timed(lambda: bibtexparser.parse_string(text), runs),
        "read_bibtex_s": timed(lambda: papers_of(read_bibtex, data), runs),
        "rispy_loads_s": timed(lambda: rispy.loads(ris.decode()), runs),
        "read_ris_s": timed(lambda: papers_of(read_ris, ris), runs),
        "orjson_loads_s": timed(lambda: orjson.loads(csl), runs),
        "read_csl_json_s": timed(lambda: papers_of(read_csl_json, csl), runs),
        "to_bibtex_s": timed(lambda: to_bibtex(papers), runs),
        "to_ris_s": timed(lambda: to_ris(papers), runs),
        "to_csl_json_s": timed(lambda: to_csl_json(papers), runs),
        "to_markdown_s": timed(lambda: [to_markdown(p) for p in papers], runs),
    }
    print(f"{n:,} entries, {len(data) / 1e6:.1f} MB of BibTeX; median of {runs} runs; "
          f"{platform.python_version()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")
    for name, value in figures.items():
        if name.endswith("_s"):
            print(f"  {name[:-2]:<28} {value:7.2f} s  {n / value:10,.0f} entries/s")
    if args.json:
        with open(args.json, "wb") as f:
            f.write(orjson.dumps(figures, option=orjson.OPT_INDENT_2))


if __name__ == "__main__":
    main()
