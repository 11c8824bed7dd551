#!/usr/bin/env python3
"""Generates (and caches) a clustered vector data set with exact ground truth for
`make bench-ann`: raw little-endian files in DIR (see bench/ann_bench.cpp).

  gen.py --n 200000 --dims 128 --queries 1000 --dir DIR

Vectors are drawn around n/200 Gaussian centres (centre coordinates N(0, 1), per-cluster
spread uniform in [0.6, 1.2]), so clusters overlap as embedding clusters do. Queries come
from the same distribution. Every row gets a label 0..99 (uniform); filtered ground truth
is for label < 1, 10, 50 (1%, 10%, 50% selectivity). Ground truth is exact (faiss
IndexFlatL2)."""
import argparse
import json
import os

import numpy as np


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, required=True)
    ap.add_argument("--dims", type=int, required=True)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    meta_path = os.path.join(a.dir, "meta.json")
    meta = {"n": a.n, "dims": a.dims, "queries": a.queries, "seed": a.seed, "version": 1}
    if os.path.exists(meta_path) and json.load(open(meta_path)) == meta:
        print(f"gen: cached {a.dir}")
        return
    os.makedirs(a.dir, exist_ok=True)
    import faiss

    rng = np.random.default_rng(a.seed)
    centers = max(10, a.n // 200)
    c = rng.standard_normal((centers, a.dims), dtype=np.float32)
    spread = rng.uniform(0.6, 1.2, centers).astype(np.float32)

    def sample(m):
        out = np.empty((m, a.dims), dtype=np.float32)
        for start in range(0, m, 100000):
            k = min(100000, m - start)
            which = rng.integers(0, centers, k)
            noise = rng.standard_normal((k, a.dims), dtype=np.float32)
            out[start:start + k] = c[which] + noise * spread[which, None]
        return out

    base = sample(a.n)
    queries = sample(a.queries)
    labels = rng.integers(0, 100, a.n).astype(np.uint8)
    base.tofile(os.path.join(a.dir, "base.f32"))
    queries.tofile(os.path.join(a.dir, "queries.f32"))
    labels.tofile(os.path.join(a.dir, "labels.u8"))

    def truth(ids):
        flat = faiss.IndexFlatL2(a.dims)
        flat.add(base[ids])
        _, nn = flat.search(queries, 10)
        return np.where(nn >= 0, ids[np.maximum(nn, 0)], -1).astype(np.int32)

    truth(np.arange(a.n)).tofile(os.path.join(a.dir, "gt.i32"))
    for pct in (1, 10, 50):
        truth(np.nonzero(labels < pct)[0]).tofile(os.path.join(a.dir, f"gt_sel{pct}.i32"))
    json.dump(meta, open(meta_path, "w"))
    print(f"gen: wrote {a.dir}")


if __name__ == "__main__":
    main()
