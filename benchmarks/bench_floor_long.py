"""The relevance floor's lexical test on long queries, before and after the "strongest words"
allowance (`relevance.STRONGEST`), in one run: the old rule (a paper must hold 40 % of the query's
idf mass) against holding the weight of the query's 2 or 3 rarest words instead when that is less.

On-topic long queries: the "sentences" set of `bench_fusion.py` (query = an abstract's first
sentence, corpus = title + the rest), nDCG@10 per mode, split into the even-numbered queries (the
half the allowance was chosen on) and the odd ones (held out). Off-topic questions: two lists
written for this check, A (looked at while choosing) and B (held out, not looked at until the
choice was made), results per mode on the 86 sample papers; gibberish; short on-topic queries.
Goals: gibberish 0 results in every mode, off-topic at most 3, on-topic a full page.

    PYTHONPATH=src python benchmarks/bench_floor_long.py [--encoder minilm-static]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_fusion import sample_papers, sentence_set  # noqa: E402

from paperfeed import relevance  # noqa: E402
from paperfeed.config import Config  # noqa: E402
from paperfeed.evaluate import ID_PREFIX, load_library, ndcg_at  # noqa: E402
from paperfeed.library import Library  # noqa: E402

MODES = ("keyword", "semantic", "hybrid")
VARIANTS = {"old (40 % of the mass)": 10_000, "strongest 2": 2, "strongest 3": 3}
GIBBERISH = ["xyzzyplugh", "qwrtzp vbnmkl", "blorfenwick zantiquor", "zorbly flimnar quexotic drab"]
ON_TOPIC = ["robust training of neural networks", "quantization of large language models",
            "video generation with diffusion models", "reinforcement learning for reasoning"]
OFF_A = [
    "easy sourdough bread recipe",
    "how do I fix squeaky car brakes",
    "what is the capital of France",
    "cheap flights to tokyo in march",
    "knitting patterns for beginners",
    "best hiking boots for wide feet",
    "how to train a puppy to stop biting",
    "what should I pack for a two week hiking trip in the mountains during winter",
    "my landlord refuses to return the security deposit after I moved out, what can I do",
    "which houseplants survive in a dark apartment with little sunlight and dry air",
]
OFF_B = [
    "symptoms of the flu in children",
    "how long should I boil an egg",
    "guitar chords for a simple folk song",
    "stock tips for retirement savings",
    "how to remove red wine stains from a white cotton shirt",
    "the history of the roman empire and the fall of constantinople",
    "what time does the farmers market open on saturday mornings in the summer",
    "recommend a good mystery novel for a long train journey through the countryside",
    "how much water should a marathon runner drink the day before the race",
    "tips for painting a bedroom ceiling without leaving streaks or drips on the floor",
    "best way to store fresh basil so it does not turn black in the fridge",
    "can my cat eat tuna from a can every day or is that bad for her kidneys",
]


def main() -> None:
    os.environ["PAPERFEED_SEARCH_CACHE"] = "0"  # every variant searches afresh
    parser = argparse.ArgumentParser()
    parser.add_argument("--encoder", default="minilm-static")
    args = parser.parse_args()
    data = sentence_set()
    with tempfile.TemporaryDirectory() as tmp:
        sentences = load_library(data, Path(tmp) / "sentences", args.encoder, embed=True)
        sample = Library(Config.from_env(home=Path(tmp) / "sample", env={"PAPERFEED_SEARCH_CACHE": "0"}))
        sample.store.upsert(sample_papers())
        sample.index(args.encoder)
        qids = list(data.qrels)
        halves = {"tuned (even)": qids[::2], "held out (odd)": qids[1::2]}
        print(f"encoder {args.encoder}; sentences set {len(qids)} queries; sample library "
              f"{sample.store.count()} papers")
        for variant, strongest in VARIANTS.items():
            relevance.STRONGEST = strongest
            relevance._cache.clear()
            print(f"\n{variant}")
            for mode in MODES:
                scores = {q: ndcg_at([h.paper.id.removeprefix(ID_PREFIX) for h in sentences.search(
                    data.queries[q], mode=mode, limit=10)], data.qrels[q]) for q in qids}
                empty = sum(not sentences.search(data.queries[q], mode=mode, limit=10) for q in qids)
                parts = "  ".join(f"{h} {np.mean([scores[q] for q in ids]):.4f}"
                                  for h, ids in halves.items())
                print(f"  sentences {mode:8s} nDCG@10 all {np.mean(list(scores.values())):.4f}  "
                      f"{parts}  empty {empty}/{len(qids)}")
            for mode in MODES:
                gib = [len(sample.search(q, mode=mode, limit=10)) for q in GIBBERISH]
                on = [len(sample.search(q, mode=mode, limit=10)) for q in ON_TOPIC]
                line = f"  sample {mode:8s} gibberish {gib}  on-topic {on}"
                for name, qs in (("A", OFF_A), ("B", OFF_B)):
                    counts = [len(sample.search(q, mode=mode, limit=10)) for q in qs]
                    line += f"  off-topic {name} {counts} (>3: {sum(c > 3 for c in counts)})"
                print(line)
        sentences.close()
        sample.close()


if __name__ == "__main__":
    main()
