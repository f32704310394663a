"""Choosing the vector index: usearch (float32 / float16 / int8 cells), hnswlib and faiss HNSW on
the same stored vectors, side by side: build time, memory, query latency p50, recall@10 against
exact search. Vectors are the first N of an indexed home's store (real encoder output).

    python benchmarks/bench_semantic_ann.py --home benchmarks/data/home-semantic [--n 200000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

import paperfeed

M, EF_ADD, EF_SEARCH = 16, 128, 96


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

    def search(index, q, k):
        return index.search(q, k).keys

    def memory(index):
        return index.memory_usage

    return build, search, memory


def hnswlib_engine():
    import hnswlib

    def build(keys, vecs):
        index = hnswlib.Index(space="ip", dim=vecs.shape[1])
        index.init_index(max_elements=len(keys), ef_construction=EF_ADD, M=M)
        index.add_items(vecs, keys.astype(np.int64), num_threads=os.cpu_count())
        index.set_ef(EF_SEARCH)
        return index

    def search(index, q, k):
        return index.knn_query(q, k=k)[0][0]

    def memory(index):  # float32 vectors + level-0 links (+ upper levels, small)
        return index.get_current_count() * (index.dim * 4 + M * 2 * 4 + 16)

    return build, search, memory


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

    def search(index, q, k):
        return index.search(q[None, :], k)[1][0]

    def memory(index):
        return index.ntotal * (index.d * 4 + M * 2 * 4 + 8)

    return build, search, memory


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--home", required=True)
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--engines", default="hnswlib,faiss,usearch-f32,usearch-f16,usearch-i8")
    args = parser.parse_args()
    keys, vecs = load(args.home, args.n)
    rng = np.random.default_rng(3)
    # Queries: stored vectors perturbed (a query is near, not on, a paper).
    picks = rng.choice(len(vecs), args.queries, replace=False)
    queries = vecs[picks] + rng.normal(0, 0.03, (args.queries, vecs.shape[1])).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    exact = [set(keys[np.argpartition(-(vecs @ q), 10)[:10]].tolist()) for q in queries]
    print(f"{len(keys):,} vectors of {vecs.shape[1]} dims; M={M} ef_add={EF_ADD} "
          f"ef_search={EF_SEARCH}; {args.queries} queries, k=10")
    engines = {
        "hnswlib": ("hnswlib f32", hnswlib_engine),
        "faiss": ("faiss HNSWFlat f32", faiss_engine),
        "usearch-f32": ("usearch f32", lambda: usearch_engine("f32")),
        "usearch-f16": ("usearch f16", lambda: usearch_engine("f16")),
        "usearch-i8": ("usearch i8", lambda: usearch_engine("i8")),
    }
    for key in args.engines.split(","):
        name, make = engines[key]
        build, search, memory = make()
        started = time.perf_counter()
        index = build(keys, vecs)
        build_s = time.perf_counter() - started
        times, recall = [], []
        for q, truth in zip(queries, exact, strict=True):
            t = time.perf_counter()
            found = search(index, q, 10)
            times.append((time.perf_counter() - t) * 1000)
            recall.append(len(truth & {int(x) for x in found}) / 10)
        print(f"{name:20s} build {build_s:6.1f} s ({len(keys) / build_s:7.0f}/s)  "
              f"memory ~{memory(index) / 2**20:6.0f} MiB  query p50 "
              f"{statistics.median(times):.3f} ms  recall@10 {np.mean(recall):.3f}")
        del index


if __name__ == "__main__":
    main()
