"""Synthetic arXiv bulk-metadata snapshots with realistic field lengths, for the benchmarks.

Words are drawn with a Zipf law from a vocabulary seeded with the words of the bundled sample
abstracts (real paper vocabulary at the head) and completed with pseudo-words (a long tail, as a
million real abstracts have). Titles ~10 words, abstracts ~120-260 words (arXiv's median abstract
is about 1,000 characters), 1-12 authors, 1-3 categories, 1-3 versions.

    python benchmarks/synth.py 1000000 benchmarks/data/snapshot-1M.jsonl
"""

from __future__ import annotations

import re
import sys
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import orjson

SAMPLE = Path(__file__).resolve().parents[1] / "src" / "paperfeed" / "sample"
CATEGORIES = [
    "cs.LG", "cs.CL", "cs.CV", "cs.AI", "stat.ML", "math.OC", "cs.RO", "cs.IR", "cs.NE",
    "physics.comp-ph", "quant-ph", "eess.IV", "cs.CR", "math.PR", "hep-th", "astro-ph.GA",
]
FIRST = ["Wei", "Maria", "John", "Yuki", "Ahmed", "Elena", "Li", "Carlos", "Priya", "Anna", "Tom"]
LAST = ["Zhang", "Smith", "Garcia", "Tanaka", "Kumar", "Müller", "Wang", "Rossi", "Kim", "Chen"]
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


HEADER = {"new", "get", "trending", "papers", "in", "your", "email", "inbox", "subscribe", "daily",
          "byak", "and", "the", "research", "community", "authors"}


def vocabulary(rng: np.random.Generator, size: int = 60_000) -> list[str]:
    """Real words of the sample abstracts, most frequent first, then pseudo-words."""
    text = " ".join(p.read_text() for p in SAMPLE.glob("*.txt"))
    counts: dict[str, int] = {}
    for w in re.findall(r"[A-Za-z][A-Za-z\-]+", text):
        counts[w.lower()] = counts.get(w.lower(), 0) + 1
    words = sorted(counts, key=lambda w: -counts[w])
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    seen = set(words)
    while len(words) < size:
        w = "".join(rng.choice(letters, int(rng.integers(4, 12))))
        if w not in seen:
            seen.add(w)
            words.append(w)
    return words


def _date_line(d: date) -> str:
    return f"{DAYS[d.weekday()]}, {d.day} {MONTHS[d.month - 1]} {d.year} 12:00:00 GMT"


def records(n: int, seed: int = 7, chunk: int = 10_000):
    rng = np.random.default_rng(seed)
    vocab = np.array(vocabulary(rng), dtype=object)
    cdf = np.cumsum(1.0 / np.arange(1, len(vocab) + 1) ** 1.07)
    cdf /= cdf[-1]
    start = date(2007, 4, 1)
    for base in range(0, n, chunk):
        m = min(chunk, n - base)
        t_len = rng.integers(6, 15, m)
        a_len = rng.integers(120, 260, m)
        words = vocab[np.searchsorted(cdf, rng.random(int(t_len.sum() + a_len.sum())))]
        pos = 0
        for j in range(m):
            i = base + j
            day = start + timedelta(days=int(i * 7000 / n))
            title = " ".join(words[pos : pos + t_len[j]]).capitalize()
            pos += t_len[j]
            abstract_words = words[pos : pos + a_len[j]]
            pos += a_len[j]
            # hard line breaks every dozen words, as in the real snapshot
            lines = [" ".join(abstract_words[k : k + 12]) for k in range(0, a_len[j], 12)]
            n_auth = int(rng.integers(1, 13))
            parsed = [[LAST[int(rng.integers(10))], FIRST[int(rng.integers(11))], ""]
                      for _ in range(n_auth)]
            n_ver = int(rng.integers(1, 4))
            yield {
                "id": f"{day:%y%m}.{i % 100000:05d}",
                "submitter": f"{parsed[0][1]} {parsed[0][0]}",
                "authors": ", ".join(f"{f} {last}" for last, f, _ in parsed),
                "title": title,
                "comments": f"{int(rng.integers(5, 40))} pages, {int(rng.integers(1, 12))} figures",
                "journal-ref": None,
                "doi": None,
                "report-no": None,
                "categories": " ".join(rng.choice(CATEGORIES, int(rng.integers(1, 4)), replace=False)),
                "license": "http://arxiv.org/licenses/nonexclusive-distrib/1.0/",
                "abstract": "  " + "\n".join(lines) + "\n",
                "versions": [
                    {"version": f"v{v + 1}", "created": _date_line(day + timedelta(days=30 * v))}
                    for v in range(n_ver)
                ],
                "update_date": (day + timedelta(days=30 * (n_ver - 1))).isoformat(),
                "authors_parsed": parsed,
            }


def main() -> None:
    n = int(sys.argv[1])
    out = Path(sys.argv[2])
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("wb") as f:
        for rec in records(n):
            f.write(orjson.dumps(rec) + b"\n")


if __name__ == "__main__":
    main()
