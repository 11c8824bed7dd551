#!/usr/bin/env python3
"""One peer library on a data set from gen.py, in its own process (so its resident memory
is its own): build with BUILD_THREADS threads, then recall@10 and QPS over a sweep of its
search parameter, once on all the CPUs the process may use and once on one thread (all
queries in one batched call, so Python call overhead does not count). Prints JSON; a library that cannot be imported is reported
as {"library": ..., "skipped": reason} (exit 0) so the rest of the run goes on.

  peers.py --lib hnswlib|faiss-ivf|faiss-hnsw|usearch|lancedb|chroma --dir DIR --n N
           --dims D --queries Q

Filtered queries (label below 1, 10 or 50: 1%, 10% and 50% of the rows, independent of
the vectors; truth in gt_sel*.i32) run on one thread through each library's own filter:
hnswlib's filter callable, faiss's IDSelectorBitmap in its search parameters, LanceDB's
prefiltered `where`, Chroma's metadata `where` (usearch's Python search takes no filter).
Each selectivity starts at the sweep's fastest point with recall@10 >= 0.95 unfiltered
(or its most accurate one) and steps up the sweep's parameters until the filtered
recall@10 reaches 0.95 or a point takes over 60 s ("filtered" in the JSON).

LanceDB and Chroma are databases with their own thread pools (Rust/tokio): their whole
process is confined to BUILD_THREADS CPUs for the build and the all-cores sweep, and to
one CPU for the single-thread sweep (sched_setaffinity on every thread), so their batched
query calls are single-core there too."""
import argparse
import atexit
import gc
import json
import math
import os
import shutil
import sys
import tempfile
import time

import numpy as np

DIST = {"hnswlib": "hnswlib", "faiss-ivf": "faiss-cpu", "faiss-hnsw": "faiss-cpu",
        "usearch": "usearch", "lancedb": "lancedb", "chroma": "chromadb"}


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


# The CPUs this process may use when it starts: "all cores" for the all-cores sweep.
ALL_CPUS = sorted(os.sched_getaffinity(0))
# The HNSW-family search breadth (ef) swept: up to 768, since on 1M × 384 hnswlib's recall
# is still 0.93 at 256. A sweep stops once recall passes 0.999.
EF_SWEEP = [10, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768]


def confine_to_cpus(k):
    """Restricts every thread of this process (and the threads they start later) to the
    first k CPUs it was started with (so it can widen again). Returns the CPU set."""
    cpus = set(ALL_CPUS[:max(1, k)])
    for tid in os.listdir("/proc/self/task"):
        try:
            os.sched_setaffinity(int(tid), cpus)
        except OSError:  # the thread ended meanwhile
            pass
    return cpus


def dir_mb(path):
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            try:
                total += os.path.getsize(os.path.join(root, f))
            except OSError:
                pass
    return total / 1e6


def skip(lib, reason):
    print(f"peers: {lib} skipped: {reason}", file=sys.stderr)
    print(json.dumps({"library": lib, "skipped": reason}))
    sys.exit(0)


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
    if a.lib not in DIST:
        sys.exit(f"unknown library {a.lib}")
    if a.lib in ("lancedb", "chroma"):
        # Before the import: their runtimes size their worker pools from the CPUs allowed.
        confine_to_cpus(a.build_threads)
    try:
        if a.lib.startswith("faiss"):
            import faiss
        elif a.lib == "hnswlib":
            import hnswlib
        elif a.lib == "usearch":
            from usearch.index import Index
        elif a.lib == "lancedb":
            import lancedb
            import pyarrow as pa
            from lancedb.index import HnswSq
        elif a.lib == "chroma":
            import chromadb
            from chromadb.config import Settings
    except Exception as e:  # ImportError, or a broken install failing at import time
        skip(a.lib, f"cannot import {DIST[a.lib]}: {type(e).__name__}: {e}")
    try:
        from importlib.metadata import version
        lib_version = version(DIST[a.lib])
    except Exception:
        lib_version = None
    rss0 = rss_mb()
    base = np.fromfile(f"{a.dir}/base.f32", dtype=np.float32).reshape(a.n, d)
    queries = np.fromfile(f"{a.dir}/queries.f32", dtype=np.float32).reshape(a.queries, d)
    gt = np.fromfile(f"{a.dir}/gt.i32", dtype=np.int32).reshape(a.queries, 10)
    labels = np.fromfile(f"{a.dir}/labels.u8", dtype=np.uint8)
    if labels.shape[0] != a.n:
        sys.exit(f"labels.u8 holds {labels.shape[0]} labels, not {a.n}")
    out = {"library": a.lib, "version": lib_version, "build_threads": a.build_threads}
    label = None       # p -> "param" string; default f"{pname}={p}"
    before = None      # p -> None, untimed preparation of a sweep point
    warm = None        # () -> None, run once after the build, before the memory reading
    decode = None      # search(p)'s result -> array of row ids, after the timing
    fsearch = None     # (p, pct) -> the found rows among label < pct, one thread; None: no filter
    tmpdir = None
    t0 = time.perf_counter()
    if a.lib == "hnswlib":
        M, efc = 16, 200
        index = hnswlib.Index(space="l2", dim=d)
        index.init_index(max_elements=a.n, ef_construction=efc, M=M)
        index.set_num_threads(a.build_threads)
        index.add_items(base, np.arange(a.n))
        out["config"] = f"HNSW M={M} ef_construction={efc}"
        params = EF_SWEEP

        def search(ef, threads):
            index.set_ef(max(ef, 10))
            found, _ = index.knn_query(queries, k=10, num_threads=threads)
            return found

        def fsearch(ef, pct):
            index.set_ef(max(ef, 10))
            allowed = (labels < pct).tolist().__getitem__  # called per candidate, under the GIL
            return index.knn_query(queries, k=10, num_threads=1, filter=allowed)[0]
        pname = "ef"
    elif a.lib == "faiss-hnsw":
        faiss.omp_set_num_threads(a.build_threads)
        M = 32
        index = faiss.IndexHNSWFlat(d, M)
        index.hnsw.efConstruction = 40
        index.add(base)
        out["config"] = f"IndexHNSWFlat M={M} efConstruction=40"
        params = EF_SWEEP[1:]

        def search(ef, threads):
            faiss.omp_set_num_threads(threads)
            index.hnsw.efSearch = ef
            return index.search(queries, 10)[1]

        def fsearch(ef, pct):
            return faiss_filtered(faiss, index, queries, labels < pct,
                                  lambda sel: faiss.SearchParametersHNSW(sel=sel, efSearch=ef))
        pname = "efSearch"
    elif a.lib == "faiss-ivf":
        faiss.omp_set_num_threads(a.build_threads)
        nlist = int(round(2 * np.sqrt(a.n)))
        quant = faiss.IndexFlatL2(d)
        index = faiss.IndexIVFFlat(quant, d, nlist)
        index.train(base)
        index.add(base)
        out["config"] = f"IndexIVFFlat nlist={nlist}"
        params = [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192]

        def search(nprobe, threads):
            faiss.omp_set_num_threads(threads)
            index.nprobe = nprobe
            return index.search(queries, 10)[1]

        def fsearch(nprobe, pct):
            return faiss_filtered(faiss, index, queries, labels < pct,
                                  lambda sel: faiss.SearchParametersIVF(sel=sel, nprobe=nprobe))
        pname = "nprobe"
    elif a.lib == "usearch":
        index = Index(ndim=d, metric="l2sq", dtype="f32")
        index.add(np.arange(a.n), base, threads=a.build_threads)
        out["config"] = "usearch defaults (connectivity 16, expansion_add 128), f32"
        params = EF_SWEEP[1:]

        def search(ef, threads):
            index.expansion_search = ef
            return index.search(queries, 10, threads=threads).keys
        pname = "expansion_search"
    elif a.lib == "lancedb":
        # Embedded LanceDB (a directory of Lance files), IVF_HNSW_SQ: LanceDB's recommended
        # index for the best recall/latency trade-off. Its HNSW default target partition
        # size is 1,048,576 rows, so up to 1M rows that is one partition (one HNSW graph over
        # 8-bit scalar-quantized vectors), all of it probed. m=20 and ef_construction=300
        # are LanceDB's defaults. The knob is ef; SQ8 distances cap recall, so a second
        # pass re-ranks 2×10 candidates with the f32 vectors (refine_factor=2).
        tmpdir = tempfile.mkdtemp(prefix="ann-lancedb-")
        atexit.register(shutil.rmtree, tmpdir, True)
        parts = max(1, math.ceil(a.n / 1_048_576))
        db = lancedb.connect(tmpdir)
        vectors = pa.FixedSizeListArray.from_arrays(pa.array(base.reshape(-1)), d)
        table = db.create_table("vectors", pa.table(
            {"id": pa.array(np.arange(a.n, dtype=np.int64)), "vector": vectors,
             "label": pa.array(labels.astype(np.int32))}))
        del vectors
        table.create_index("vector", config=HnswSq(distance_type="l2", num_partitions=parts))
        out["config"] = (f"IVF_HNSW_SQ partitions={parts} m=20 ef_construction=300 "
                         "(defaults), SQ8; refine_factor=2 re-ranks in f32")
        params = ([(ef, None) for ef in EF_SWEEP] +
                  [(ef, 2) for ef in [20] + [e for e in EF_SWEEP if e > 20]])

        def lance_query(qs, p, pct=None):
            ef, refine = p
            q = table.search(qs).nprobes(parts).ef(ef).limit(10)
            if pct is not None:
                q = q.where(f"label < {pct}", prefilter=True)
            if refine:
                q = q.refine_factor(refine)
            return q.select(["id", "_distance"])

        def decode(res):
            # Several query vectors: one result table with a query_index column.
            qi = res["query_index"].to_numpy()
            ids = res["id"].to_numpy()
            order = np.lexsort((res["_distance"].to_numpy(), qi))
            found = np.full((a.queries, 10), -1, dtype=np.int64)
            fill = np.zeros(a.queries, dtype=np.int64)
            for j in order:
                r = qi[j]
                if fill[r] < 10:
                    found[r, fill[r]] = ids[j]
                    fill[r] += 1
            return found

        def warm():
            lance_query(queries[:1], (10, None)).to_arrow()

        def before(p):
            lance_query(queries[:10], p).to_arrow()

        def search(p, threads):  # threads: the CPUs the process is confined to
            return lance_query(queries, p).to_arrow()

        def label(p):
            return f"ef={p[0]}" + (f",refine_factor={p[1]}" if p[1] else "")

        def fsearch(p, pct):  # the process is confined to one CPU by then
            return decode(lance_query(queries, p, pct).to_arrow())
        pname = "ef"
    elif a.lib == "chroma":
        # Chroma (embedded, Rust core; its HNSW is a fork of hnswlib), persistent client in
        # a temp dir, M=16 ef_construction=200 as for the hnswlib peer. Its ef_search can be
        # changed with collection.modify(), but a loaded index keeps the ef it was loaded
        # with, so each sweep point reopens the client (the index is read back from disk;
        # untimed, no rebuild).
        tmpdir = tempfile.mkdtemp(prefix="ann-chroma-")
        atexit.register(shutil.rmtree, tmpdir, True)
        settings = Settings(anonymized_telemetry=False)
        M, efc, ef0 = 16, 200, 100
        client = chromadb.PersistentClient(path=tmpdir, settings=settings)
        col = client.create_collection(
            "ann-bench", metadata={"hnsw:space": "l2"}, embedding_function=None,
            configuration={"hnsw": {"ef_construction": efc, "max_neighbors": M,
                                    "ef_search": ef0, "num_threads": a.build_threads}})
        batch = client.get_max_batch_size() if hasattr(client, "get_max_batch_size") else 5000
        ids = [str(i) for i in range(a.n)]
        for s in range(0, a.n, batch):
            col.add(ids=ids[s:s + batch], embeddings=base[s:s + batch],
                    metadatas=[{"label": int(x)} for x in labels[s:s + batch]])
        del ids
        out["config"] = (f"HNSW max_neighbors={M} ef_construction={efc}, persistent "
                         f"client, adds of {batch}")
        params = EF_SWEEP
        state = {"client": client, "col": col, "ef": ef0}
        qbatch = batch

        def chroma_query(qs, pct=None):
            where = {"label": {"$lt": pct}} if pct is not None else None
            found = []
            for s in range(0, len(qs), qbatch):
                found += state["col"].query(query_embeddings=qs[s:s + qbatch], n_results=10,
                                            where=where, include=[])["ids"]
            return found

        def warm():
            chroma_query(queries[:1])

        def before(ef):
            if ef != state["ef"]:
                state["col"].modify(configuration={"hnsw": {"ef_search": ef}})
                state["client"].clear_system_cache()
                state["col"] = state["client"] = None
                gc.collect()
                state["client"] = chromadb.PersistentClient(path=tmpdir, settings=settings)
                state["col"] = state["client"].get_collection("ann-bench",
                                                             embedding_function=None)
                got = state["col"].configuration.get("hnsw", {}).get("ef_search")
                if got != ef:
                    raise RuntimeError(f"chroma: ef_search is {got} after setting {ef}")
                state["ef"] = ef
            chroma_query(queries[:10])  # loads the index

        def search(ef, threads):  # threads: the CPUs the process is confined to
            return chroma_query(queries)

        def decode(found):
            return np.array([[int(x) for x in row] + [-1] * (10 - len(row)) for row in found])

        def fsearch(ef, pct):  # the process is confined to one CPU by then
            if ef != state["ef"]:
                before(ef)
            return decode(chroma_query(queries, pct))
        pname = "ef_search"
    out["build_s"] = time.perf_counter() - t0
    del base
    gc.collect()
    if warm is not None:
        warm()  # LanceDB and Chroma load an index lazily on the first query
    out["memory_mb"] = rss_mb() - rss0
    if tmpdir is not None:
        out["disk_mb"] = dir_mb(tmpdir)
    if label is None:
        def label(p):
            return f"{pname}={p}"

    def timed(run):
        """(run()'s result, seconds a call): repeated until 0.2 s have passed, since one
        pass of a fast library takes a few milliseconds, too short to time on its own."""
        t = time.perf_counter()
        found = run()
        passes = 1
        while time.perf_counter() - t < 0.2:
            run()
            passes += 1
        return found, (time.perf_counter() - t) / passes

    def sweep(threads):
        curve = []
        for p in params:
            if before is not None:
                before(p)
            found, secs = timed(lambda: search(p, threads))
            if decode is not None:
                found = decode(found)
            r = recall(np.asarray(found), gt)
            curve.append({"param": label(p), "recall": r, "qps": a.queries / secs})
            print(f"{a.lib} {label(p)} threads={threads} recall={r:.4f} "
                  f"qps={a.queries / secs:.0f} rss={rss_mb() - rss0:.0f}MB", file=sys.stderr)
            if r > 0.999:
                break
        return curve

    # All cores first. LanceDB and Chroma were confined to BUILD_THREADS CPUs before their
    # import (their pools are sized then); they get every CPU for this sweep, then one.
    cores = len(ALL_CPUS)
    if a.lib in ("lancedb", "chroma"):
        confine_to_cpus(cores)
    out["query_threads_all_cores"] = cores
    out["curve_all_cores"] = sweep(cores)
    if a.lib in ("lancedb", "chroma"):
        confine_to_cpus(1)
    curve = sweep(1)
    if a.lib == "lancedb":
        # Also one query per call, at the fastest point with recall >= 0.95 (else the most
        # accurate one): what an application searching one vector at a time gets.
        ok = [(c, p) for c, p in zip(curve, params) if c["recall"] >= 0.95]
        c, p = (max(ok, key=lambda x: x[0]["qps"]) if ok else
                max(zip(curve, params), key=lambda x: x[0]["recall"]))
        t = time.perf_counter()
        found = [lance_query(queries[i], p).to_arrow()["id"].to_numpy()
                 for i in range(a.queries)]
        secs = time.perf_counter() - t
        r = recall(found, gt)
        out["one_query_per_call"] = {"param": label(p), "recall": r, "qps": a.queries / secs}
        print(f"{a.lib} {label(p)} one query per call: recall={r:.4f} "
              f"qps={a.queries / secs:.0f}", file=sys.stderr)
    out["curve"] = curve
    if fsearch is None:
        out["filtered_skipped"] = f"{a.lib}'s Python search takes no filter"
    else:
        out["filtered"] = filtered_runs(a, params, curve, fsearch, label, timed)
    print(json.dumps(out))


def faiss_filtered(faiss, index, queries, allowed, make_params):
    """The top 10 of each query among the rows where `allowed` is true, on one thread:
    an IDSelectorBitmap in the search parameters make_params(selector) builds."""
    faiss.omp_set_num_threads(1)
    bits = np.packbits(allowed, bitorder="little")  # the selector points into it
    sel = faiss.IDSelectorBitmap(len(allowed), faiss.swig_ptr(bits))
    return index.search(queries, 10, params=make_params(sel))[1]


def filtered_runs(a, params, curve, fsearch, label, timed):
    """Filtered recall@10 and QPS at 1%, 10% and 50% selectivity, one thread: from the
    sweep's fastest point with recall >= 0.95 (else its most accurate), up the sweep's
    parameters until the filtered recall reaches 0.95, the parameters end, or a point
    takes over 60 s."""
    ok = [i for i, c in enumerate(curve) if c["recall"] >= 0.95]
    start = (max(ok, key=lambda i: curve[i]["qps"]) if ok else
             max(range(len(curve)), key=lambda i: curve[i]["recall"]))
    out = []
    for pct in (1, 10, 50):
        truth = np.fromfile(f"{a.dir}/gt_sel{pct}.i32", dtype=np.int32).reshape(a.queries, 10)
        point = None
        for i in range(start, len(params)):
            t = time.perf_counter()
            try:
                found, secs = timed(lambda: fsearch(params[i], pct))
            except Exception as e:  # hnswlib: fewer than k matching rows found at this ef
                point = {"selectivity": pct / 100, "param": label(params[i]),
                         "error": f"{type(e).__name__}: {e}"}
                print(f"{a.lib} filter {pct}% {label(params[i])}: {point['error']}",
                      file=sys.stderr)
                continue
            r = recall(np.asarray(found), truth)
            point = {"selectivity": pct / 100, "param": label(params[i]), "recall": r,
                     "qps": a.queries / secs}
            print(f"{a.lib} filter {pct}% {label(params[i])} recall={r:.4f} "
                  f"qps={a.queries / secs:.0f}", file=sys.stderr)
            if r >= 0.95 or time.perf_counter() - t > 60:
                break
        out.append(point)
    return out


if __name__ == "__main__":
    main()
