#!/usr/bin/env python3
"""One peer library on a data set from gen.py, in its own process (so its resident memory
is its own): build with BUILD_THREADS threads, then recall@10 and single-thread QPS over a
sweep of its search parameter (all queries in one batched call with one thread, so Python
call overhead does not count). Prints JSON.

  peers.py --lib hnswlib|faiss-ivf|faiss-hnsw|usearch --dir DIR --n N --dims D --queries Q"""
import argparse
import gc
import json
import sys
import time

import numpy as np


def rss_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def recall(found, gt):
    hits = 0
    for row, truth in zip(found, gt):
        hits += len(set(int(x) for x in row[:10]) & set(int(x) for x in truth if x >= 0))
    return hits / max(1, int((gt >= 0).sum()))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--n", type=int, required=True)
    ap.add_argument("--dims", type=int, required=True)
    ap.add_argument("--queries", type=int, required=True)
    ap.add_argument("--build-threads", type=int, default=2)
    a = ap.parse_args()
    d = a.dims
    if a.lib.startswith("faiss"):
        import faiss
    elif a.lib == "hnswlib":
        import hnswlib
    elif a.lib == "usearch":
        from usearch.index import Index
    rss0 = rss_mb()
    base = np.fromfile(f"{a.dir}/base.f32", dtype=np.float32).reshape(a.n, d)
    queries = np.fromfile(f"{a.dir}/queries.f32", dtype=np.float32).reshape(a.queries, d)
    gt = np.fromfile(f"{a.dir}/gt.i32", dtype=np.int32).reshape(a.queries, 10)
    out = {"library": a.lib, "build_threads": a.build_threads}
    t0 = time.perf_counter()
    if a.lib == "hnswlib":
        M, efc = 16, 200
        index = hnswlib.Index(space="l2", dim=d)
        index.init_index(max_elements=a.n, ef_construction=efc, M=M)
        index.set_num_threads(a.build_threads)
        index.add_items(base, np.arange(a.n))
        out["config"] = f"HNSW M={M} ef_construction={efc}"
        params = [10, 16, 24, 32, 48, 64, 96, 128, 192, 256]

        def search(ef):
            index.set_ef(max(ef, 10))
            labels, _ = index.knn_query(queries, k=10, num_threads=1)
            return labels
        pname = "ef"
    elif a.lib == "faiss-hnsw":
        faiss.omp_set_num_threads(a.build_threads)
        M = 32
        index = faiss.IndexHNSWFlat(d, M)
        index.hnsw.efConstruction = 40
        index.add(base)
        out["config"] = f"IndexHNSWFlat M={M} efConstruction=40"
        params = [16, 24, 32, 48, 64, 96, 128, 192, 256]

        def search(ef):
            faiss.omp_set_num_threads(1)
            index.hnsw.efSearch = ef
            return index.search(queries, 10)[1]
        pname = "efSearch"
    elif a.lib == "faiss-ivf":
        faiss.omp_set_num_threads(a.build_threads)
        nlist = int(round(2 * np.sqrt(a.n)))
        quant = faiss.IndexFlatL2(d)
        index = faiss.IndexIVFFlat(quant, d, nlist)
        index.train(base)
        index.add(base)
        out["config"] = f"IndexIVFFlat nlist={nlist}"
        params = [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64]

        def search(nprobe):
            faiss.omp_set_num_threads(1)
            index.nprobe = nprobe
            return index.search(queries, 10)[1]
        pname = "nprobe"
    elif a.lib == "usearch":
        index = Index(ndim=d, metric="l2sq", dtype="f32")
        index.add(np.arange(a.n), base, threads=a.build_threads)
        out["config"] = "usearch defaults (connectivity 16, expansion_add 128), f32"
        params = [16, 24, 32, 48, 64, 96, 128, 192, 256]

        def search(ef):
            index.expansion_search = ef
            return index.search(queries, 10, threads=1).keys
        pname = "expansion_search"
    else:
        sys.exit(f"unknown library {a.lib}")
    out["build_s"] = time.perf_counter() - t0
    del base
    gc.collect()
    out["memory_mb"] = rss_mb() - rss0
    curve = []
    for p in params:
        t = time.perf_counter()
        found = search(p)
        secs = time.perf_counter() - t
        r = recall(np.asarray(found), gt)
        curve.append({"param": f"{pname}={p}", "recall": r, "qps": a.queries / secs})
        print(f"{a.lib} {pname}={p} recall={r:.4f} qps={a.queries / secs:.0f}", file=sys.stderr)
        if r > 0.999:
            break
    out["curve"] = curve
    print(json.dumps(out))


if __name__ == "__main__":
    main()
