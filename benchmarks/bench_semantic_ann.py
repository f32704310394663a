"""Choosing the vector index: usearch (float32 / float16 / int8 cells), hnswlib, faiss HNSW
(float32) and the shipped graph (`paperfeed.embed.ann.Graph`: faiss HNSW over float16 cells) on
the same stored vectors, side by side: build time, memory, one query's latency p50, recall@10
against exact search at each search list length (ef), and the two reads a recommendation makes:
16 queries of k=50 in one batch, and 800 stored vectors read back. Vectors are the first N of an
indexed home's store (real encoder output).

    python benchmarks/bench_semantic_ann.py --home benchmarks/data/home-semantic [--n 200000]
        [--ef 96,128] [--engines graph,hnswlib]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

import paperfeed

M, EF_ADD, EF_SEARCH = 16, 128, 96
EF = [EF_SEARCH]  # the search list lengths measured (--ef)


def load(home: str, n: int) -> tuple[np.ndarray, np.ndarray]:
    with paperfeed.open(home) as lib:
        assert lib.semantic is not None
        keys, vecs, got = [], [], 0
        for k, v in lib.semantic.vectors.iter_vectors(batch=50_000):
            keys.append(k)
            vecs.append(v)
            got += len(k)
            if got >= n:
                break
    return np.concatenate(keys)[:n], np.vstack(vecs)[:n]


def usearch_engine(dtype: str):
    from usearch.index import Index

    def build(keys, vecs):
        index = Index(ndim=vecs.shape[1], metric="ip", dtype=dtype, connectivity=M,
                      expansion_add=EF_ADD, expansion_search=EF_SEARCH)
        index.add(keys, vecs, threads=os.cpu_count())
        return index

    def search(index, q, k, ef):
        index.expansion_search = ef
        found = index.search(q, k).keys
        return found if found.ndim == 2 else found[None, :]

    def get(index, ks):
        return np.asarray(index.get(ks), np.float32)

    def memory(index):
        return index.memory_usage

    return build, search, memory, get


def hnswlib_engine():
    import hnswlib

    def build(keys, vecs):
        index = hnswlib.Index(space="ip", dim=vecs.shape[1])
        index.init_index(max_elements=len(keys), ef_construction=EF_ADD, M=M)
        index.add_items(vecs, keys.astype(np.int64), num_threads=os.cpu_count())
        index.set_ef(EF_SEARCH)
        return index

    def search(index, q, k, ef):
        index.set_ef(ef)
        return index.knn_query(q, k=k)[0]

    def get(index, ks):
        return np.asarray(index.get_items(ks.astype(np.uint64), return_type="numpy"), np.float32)

    def memory(index):  # float32 vectors + level-0 links (+ upper levels, small)
        return index.get_current_count() * (index.dim * 4 + M * 2 * 4 + 16)

    return build, search, memory, get


def faiss_engine():
    import faiss

    def build(keys, vecs):
        faiss.omp_set_num_threads(os.cpu_count() or 1)
        inner = faiss.IndexHNSWFlat(vecs.shape[1], M, faiss.METRIC_INNER_PRODUCT)
        inner.hnsw.efConstruction = EF_ADD
        inner.hnsw.efSearch = EF_SEARCH
        index = faiss.IndexIDMap(inner)
        index.add_with_ids(vecs, keys.astype(np.int64))
        return index

    def search(index, q, k, ef):
        return index.search(q, k, params=faiss.SearchParametersHNSW(efSearch=ef))[1]

    def memory(index):
        return index.ntotal * (index.d * 4 + M * 2 * 4 + 8)

    return build, search, memory, None


def graph_engine():
    import faiss

    from paperfeed.embed.ann import Graph

    def build(keys, vecs):
        faiss.omp_set_num_threads(os.cpu_count() or 1)
        graph = Graph(vecs.shape[1], M, EF_ADD)
        graph.add(keys, vecs)
        return graph

    def search(index, q, k, ef):
        return [found for found, _ in index.search(q, k, ef)]

    def get(index, ks):
        return index.get(ks)

    def memory(index):  # float16 cells + level-0 links + the key map
        return len(index) * (index.dim * 2 + M * 2 * 4 + 8 + 24)

    return build, search, memory, get


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--home", required=True)
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--ef", default=str(EF_SEARCH), help="search list lengths, comma-separated")
    parser.add_argument("--engines", default="graph,hnswlib,faiss,usearch-f32,usearch-f16,usearch-i8")
    args = parser.parse_args()
    efs = [int(x) for x in args.ef.split(",")]
    keys, vecs = load(args.home, args.n)
    rng = np.random.default_rng(3)
    # Queries: stored vectors perturbed (a query is near, not on, a paper).
    picks = rng.choice(len(vecs), args.queries, replace=False)
    queries = vecs[picks] + rng.normal(0, 0.03, (args.queries, vecs.shape[1])).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    exact = [set(keys[np.argpartition(-(vecs @ q), 10)[:10]].tolist()) for q in queries]
    print(f"{len(keys):,} vectors of {vecs.shape[1]} dims; M={M} ef_add={EF_ADD}; "
          f"{args.queries} queries, k=10")
    engines = {
        "graph": ("shipped: faiss HNSW f16", graph_engine),
        "hnswlib": ("hnswlib f32", hnswlib_engine),
        "faiss": ("faiss HNSWFlat f32", faiss_engine),
        "usearch-f32": ("usearch f32", lambda: usearch_engine("f32")),
        "usearch-f16": ("usearch f16", lambda: usearch_engine("f16")),
        "usearch-i8": ("usearch i8", lambda: usearch_engine("i8")),
    }
    for key in args.engines.split(","):
        name, make = engines[key]
        build, search, memory, get = make()
        started = time.perf_counter()
        index = build(keys, vecs)
        build_s = time.perf_counter() - started
        print(f"{name:24s} build {build_s:6.1f} s ({len(keys) / build_s:7.0f}/s)  "
              f"memory ~{memory(index) / 2**20:6.0f} MiB")
        for ef in efs:
            times, recall = [], []
            for q, truth in zip(queries, exact, strict=True):
                t = time.perf_counter()
                found = search(index, q[None, :], 10, ef)[0]
                times.append((time.perf_counter() - t) * 1000)
                recall.append(len(truth & {int(x) for x in found}) / 10)
            batches = []
            for i in range(0, len(queries) - 15, 16):
                t = time.perf_counter()
                search(index, queries[i:i + 16], 50, ef)
                batches.append((time.perf_counter() - t) * 1000)
            print(f"{'':24s} ef {ef:4d}: query p50 {statistics.median(times):.3f} ms  recall@10 "
                  f"{np.mean(recall):.3f}  16 x k=50 p50 {statistics.median(batches):.2f} ms")
        if get is not None:
            reads = []
            for _ in range(20):
                ks = rng.choice(keys, 800, replace=False)
                t = time.perf_counter()
                got = get(index, ks)
                reads.append((time.perf_counter() - t) * 1000)
                assert got is not None and got.shape == (800, vecs.shape[1])
            print(f"{'':24s} 800 vectors read back p50 {statistics.median(reads):.2f} ms")
        del index


if __name__ == "__main__":
    main()
