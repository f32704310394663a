"""OAI-PMH page parsing speed: records/s of `parse_oai_page` on realistic `ListRecords`
pages of 1,000 records in the `arXiv` metadata format, excluding the network.

Pages look like arXiv's: every record with a header (identifier, datestamp, setSpecs), 1-12
authors (some with affiliations), a ~1,000-character abstract with TeX, comments, categories,
license, now and then a DOI, journal-ref, report-no, msc-class; about 1 % deleted records.

Baseline, side by side: lxml merely building the tree of the same bytes (the floor any lxml
parser pays), so the ratio shows what turning records into Papers costs.

    python benchmarks/bench_oai_parse.py [--pages 10] [--runs 5] [--json out.json]
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import time
from xml.sax.saxutils import escape

import orjson
from lxml import etree

from paperfeed.sources.arxiv_oai import parse_oai_page

WORDS = (
    "we propose novel transformer attention sparse diffusion model training inference language "
    "quantization gradient robust benchmark dataset graph neural network optimal bound convex "
    "reinforcement learning policy reward latent representation contrastive retrieval"
).split()


def _text(rng: random.Random, n: int, tex: float) -> str:
    """n words; with probability `tex` some inline math (arXiv: common in abstracts)."""
    words = [rng.choice(WORDS) for _ in range(n)]
    if rng.random() < tex:
        words[rng.randrange(n)] = "$O(n \\log n)$ with \\emph{high} probability"
    return " ".join(words)


def record(rng: random.Random, n: int) -> str:
    arxiv_id = f"{rng.randint(7, 25):02d}{rng.randint(1, 12):02d}.{n:05d}"
    day = f"20{rng.randint(10, 25)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    header = (
        f"<header><identifier>oai:arXiv.org:{arxiv_id}</identifier><datestamp>{day}</datestamp>"
        "<setSpec>cs</setSpec><setSpec>stat</setSpec></header>"
    )
    if rng.random() < 0.01:
        return f'<record><header status="deleted">{header[8:]}</record>'
    authors = "".join(
        f"<author><keyname>Keyname{rng.randrange(10_000)}</keyname><forenames>Fore N.</forenames>"
        + (f"<affiliation>University {rng.randrange(500)}</affiliation>" if rng.random() < 0.3 else "")
        + "</author>"
        for _ in range(rng.randint(1, 12))
    )
    optional = ""
    if rng.random() < 0.3:
        optional += f"<doi>10.1000/j.{rng.randrange(10**6)}</doi>"
    if rng.random() < 0.2:
        optional += f"<journal-ref>J. Stuff {rng.randrange(100)} ({day[:4]}) 1-20</journal-ref>"
    if rng.random() < 0.05:
        optional += "<report-no>REP-123</report-no><msc-class>68T05</msc-class>"
    return (
        f"<record>{header}<metadata><arXiv xmlns=\"http://arxiv.org/OAI/arXiv/\" "
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        'xsi:schemaLocation="http://arxiv.org/OAI/arXiv/ http://arxiv.org/OAI/arXiv.xsd">'
        f"<id>{arxiv_id}</id><created>{day}</created><updated>{day}</updated><authors>{authors}</authors>"
        f"<title>{escape(_text(rng, 10, 0.15))}</title><categories>cs.LG stat.ML</categories>"
        f"<comments>{rng.randint(5, 40)} pages, {rng.randint(1, 9)} figures</comments>{optional}"
        "<license>http://creativecommons.org/licenses/by/4.0/</license>"
        f"<abstract>  {escape(_text(rng, 150, 0.5))}\n</abstract></arXiv></metadata></record>"
    )


def page(seed: int, size: int = 1000) -> bytes:
    rng = random.Random(seed)
    records = "".join(record(rng, seed * size + i) for i in range(size))
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/">'
        "<responseDate>2025-03-01T00:00:00Z</responseDate>"
        '<request verb="ListRecords" metadataPrefix="arXiv">http://export.arxiv.org/oai2</request>'
        f"<ListRecords>{records}"
        f'<resumptionToken cursor="{seed * size}" completeListSize="2400000">{seed}|1001</resumptionToken>'
        "</ListRecords></OAI-PMH>"
    ).encode()


def measure(pages: list[bytes], fn) -> tuple[float, float]:
    """(records per wall-clock second, records per CPU second of this process). On a shared,
    loaded machine the CPU-time rate is the steadier figure."""
    wall, cpu = time.perf_counter(), time.process_time()
    n = sum(fn(p) for p in pages)
    return n / (time.perf_counter() - wall), n / (time.process_time() - cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=10)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", dest="json_out")
    args = parser.parse_args()

    pages = [page(seed) for seed in range(args.pages)]
    records = 1000 * len(pages)
    check = parse_oai_page(pages[0])
    assert len(check.items) == 1000 and check.resumption_token

    def full(data: bytes) -> int:
        return len(parse_oai_page(data).items)

    def tree_only(data: bytes) -> int:
        etree.fromstring(data)
        return 1000

    parse = [measure(pages, full) for _ in range(args.runs)]
    tree = [measure(pages, tree_only) for _ in range(args.runs)]
    parse_runs, parse_cpu = [w for w, _ in parse], [c for _, c in parse]
    tree_runs = [w for w, _ in tree]
    result = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}",
        "pages": len(pages),
        "records_per_page": 1000,
        "page_bytes_median": int(statistics.median(len(p) for p in pages)),
        "runs": args.runs,
        "parse_oai_page_records_per_s_median": round(statistics.median(parse_runs)),
        "parse_oai_page_records_per_s_all": [round(r) for r in parse_runs],
        "parse_oai_page_records_per_cpu_s_median": round(statistics.median(parse_cpu)),
        "load_average_1min": os.getloadavg()[0],
        "lxml_tree_only_records_per_s_median": round(statistics.median(tree_runs)),
        "ratio_to_tree_only": round(statistics.median(parse_runs) / statistics.median(tree_runs), 3),
        "records": records,
    }
    print(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())
    if args.json_out:
        with open(args.json_out, "wb") as f:
            f.write(orjson.dumps(result, option=orjson.OPT_INDENT_2))


if __name__ == "__main__":
    main()
