#!/usr/bin/env python3
"""`make bench-ann`: Gannet's vector index against hnswlib, faiss (IVF-Flat and HNSW),
usearch, LanceDB and Chroma, side by side on this machine.

  run.py --size 200000x128 [--queries 1000] [--build BUILD_DIR] [--libs ...] [--out DIR]
         [--data-root DIR]
  run.py --size gcide [...]
  run.py --size SIZE --report-only      (the table and plot again from DIR/<size>.json)

NxD is generated clustered data (gen.py); "gcide" is the GCIDE dictionary embedded with
all-MiniLM-L6-v2 (gcide_minilm.py: ~125k × 384, unit vectors, entries held out as
queries). Generates (and caches under bench/ann/data/, or --data-root) the data set, runs
build/ann_bench and each peer in its own process, and writes DIR/<size>.json,
DIR/<size>.md (table) and DIR/<size>.png (recall@10 vs QPS, one thread and all cores) when
matplotlib is available. A peer that is not installed, or that fails, is listed as skipped (with the
reason) and the run goes on."""
import argparse
import json
import math
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def best_at(curve, target=0.95):
    ok = [p for p in curve if p["recall"] >= target]
    return max(ok, key=lambda p: p["qps"]) if ok else None


def qps_at(curve, target=0.95):
    """QPS at exactly `target` recall on the curve (points in sweep order): log-linear
    between the last point below the target and the first at or above it (the sweeps'
    points are far apart, and the first point past the target favours whichever library's
    ladder happens to land just above it). None when the curve never reaches it; the first
    point's QPS when that one already does."""
    below = None
    for p in curve:
        if p["recall"] >= target:
            if below is None or not p["recall"] > below["recall"]:
                return p["qps"]
            t = (target - below["recall"]) / (p["recall"] - below["recall"])
            return math.exp(math.log(below["qps"]) + t * (math.log(p["qps"]) - math.log(below["qps"])))
        below = p
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", default="200000x128")
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--libs",
                    default="gannet,gannet-ranged,hnswlib,faiss-ivf,faiss-hnsw,usearch,"
                            "lancedb,chroma")
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    ap.add_argument("--data-root", default=os.path.join(HERE, "data"))
    ap.add_argument("--build-threads", type=int, default=2)
    ap.add_argument("--report-only", action="store_true")
    ap.add_argument("--rounds", type=int, default=1,
                    help="run every library this many times, the order rotated each round, "
                         "and report each sweep point's median QPS (this machine's speed "
                         "drifts by tens of percent within minutes)")
    a = ap.parse_args()
    base = os.path.join(a.out, a.size)
    if a.report_only:
        doc = json.load(open(base + ".json"))
        report(a, doc, base)
        return
    if a.size == "gcide":
        data = os.path.join(a.data_root, "gcide-minilm")
        subprocess.run([sys.executable, os.path.join(HERE, "gcide_minilm.py"), "--queries",
                        str(a.queries), "--dir", data], check=True)
        meta = json.load(open(os.path.join(data, "meta.json")))
        n, dims = meta["n"], meta["dims"]
        what = ("GCIDE entries embedded with all-MiniLM-L6-v2 (bench/ann/gcide_minilm.py; "
                "unit vectors, held-out entries as queries)")
        title = f"GCIDE, all-MiniLM-L6-v2, {n} × {dims}"
    else:
        try:
            n, dims = (int(x) for x in a.size.lower().split("x"))
        except ValueError:
            ap.error(f"--size: expected NxD (e.g. 200000x128) or gcide, got {a.size!r}")
        data = os.path.join(a.data_root, f"{n}x{dims}")
        subprocess.run([sys.executable, os.path.join(HERE, "gen.py"), "--n", str(n), "--dims",
                        str(dims), "--queries", str(a.queries), "--dir", data], check=True)
        what = "clustered (bench/ann/gen.py)"
        title = f"{n} × {dims} clustered"
    if a.rounds < 1:
        ap.error("--rounds: must be at least 1")
    libs = a.libs.split(",")
    runs, skipped = {}, []  # library -> its results, one a round
    for rnd in range(a.rounds):
        order = libs[rnd % len(libs):] + libs[:rnd % len(libs)]
        for lib in order:
            if any(s["library"] == lib for s in skipped):
                continue
            res = run_library(a, lib, data, n, dims, skipped)
            if res is not None:
                runs.setdefault(lib, []).append(res)
    results = [merge_rounds(runs[lib]) for lib in libs if lib in runs]
    os.makedirs(a.out, exist_ok=True)
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    doc = {"size": a.size, "n": n, "dims": dims, "queries": a.queries, "cpu": cpu,
           "cores": os.cpu_count(), "results": results, "skipped": skipped, "what": what,
           "title": title, "build_threads": a.build_threads,
           "query_threads": len(os.sched_getaffinity(0)), "rounds": a.rounds}
    json.dump(doc, open(base + ".json", "w"), indent=2)
    report(a, doc, base)


def median(xs):
    xs = sorted(xs)
    m = len(xs) // 2
    return xs[m] if len(xs) % 2 else (xs[m - 1] + xs[m]) / 2


def merge_rounds(rounds):
    """One library's result over its rounds: the first round's, each sweep point's QPS
    (one thread and all cores) and the build time replaced by their medians, the
    per-round values kept beside them ("qps_rounds", "build_s_rounds"). The sweeps run
    the same parameters every round; recall is deterministic for a given build."""
    out = json.loads(json.dumps(rounds[0]))
    if len(rounds) == 1:
        return out
    for key in ("curve", "curve_all_cores"):
        if key not in out:
            continue
        for i, p in enumerate(out[key]):
            qs = [r[key][i]["qps"] for r in rounds
                  if key in r and i < len(r[key]) and r[key][i].get("param") == p.get("param")]
            p["qps_rounds"] = qs
            p["qps"] = median(qs)
    if "build_s" in out:
        out["build_s_rounds"] = [r["build_s"] for r in rounds if "build_s" in r]
        out["build_s"] = median(out["build_s_rounds"])
    out["rounds"] = len(rounds)
    return out


def run_library(a, lib, data, n, dims, skipped):
    """One run of `lib`'s bench: its JSON result, or None (and an entry in `skipped`)."""
    print(f"bench-ann: {lib}", file=sys.stderr)
    if lib in ("gannet", "gannet-ranged"):
        # gannet-ranged: vectors dropped after the build, re-rank rows read by pread.
        cmd = [os.path.join(a.build, "ann_bench"), "--dir", data, "--n", str(n), "--dims",
               str(dims), "--queries", str(a.queries), "--threads", str(a.build_threads),
               "--query-threads", str(len(os.sched_getaffinity(0))), "--vectors",
               "ranged" if lib == "gannet-ranged" else "memory"]
    else:
        cmd = [sys.executable, os.path.join(HERE, "peers.py"), "--lib", lib, "--dir", data,
               "--n", str(n), "--dims", str(dims), "--queries", str(a.queries),
               "--build-threads", str(a.build_threads)]
    try:
        r = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
    except OSError as e:
        r = subprocess.CompletedProcess(cmd, -1, stdout="")
        print(f"bench-ann: {lib}: {e}", file=sys.stderr)
    if r.returncode != 0:
        print(f"bench-ann: {lib} failed (exit {r.returncode}); skipped", file=sys.stderr)
        skipped.append({"library": lib, "reason": f"failed (exit {r.returncode})"})
        return None
    try:
        res = json.loads(r.stdout)
    except ValueError:
        print(f"bench-ann: {lib} printed no JSON; skipped", file=sys.stderr)
        skipped.append({"library": lib, "reason": "printed no JSON result"})
        return None
    if "skipped" in res:
        print(f"bench-ann: {lib} skipped: {res['skipped']}", file=sys.stderr)
        skipped.append({"library": lib, "reason": res["skipped"]})
        return None
    return res


def filtered_table(results):
    """The filtered runs side by side: each library's recall@10 and one-thread QPS at 1%,
    10% and 50% selectivity (Gannet at its default knob; a peer at the first of its
    parameters, from its unfiltered 0.95 point up, whose filtered recall reached 0.95)."""
    rows = [r for r in results if r.get("filtered") or r.get("filtered_skipped")]
    if not rows:
        return []
    lines = ["", "Filtered, one thread (filter = label below 1, 10, 50: 1%, 10%, 50% of the rows, "
             "independent of the vectors; each library's own filter). Gannet at its default "
             "knob; a peer from its fastest unfiltered point with recall@10 >= 0.95 up its "
             "parameters until the filtered recall@10 reaches 0.95 (the last one tried "
             "otherwise):", "",
             "| library | 1%: recall@10, QPS (param) | 10% | 50% |", "| --- | --- | --- | --- |"]
    for r in rows:
        cells = []
        for f in r.get("filtered", []):
            if f is None:
                cells.append("-")
            elif "error" in f:
                cells.append(f"failed at {f['param']}: {f['error']}")
            else:
                cells.append(f"{f['recall']:.4f}, {f['qps']:.0f}" +
                             (f" ({f['param']})" if "param" in f else ""))
        if not cells:
            cells = [r.get("filtered_skipped", "-")] + ["-", "-"]
        lines.append(f"| {r['library']} | " + " | ".join(cells) + " |")
    return lines


def report(a, doc, base):
    """Writes base.md (the tables) and base.png (the curves) from a run's results."""
    n, dims, cpu, results, skipped = (doc["n"], doc["dims"], doc["cpu"], doc["results"],
                                      doc["skipped"])
    if a.size == "gcide":
        what = ("GCIDE entries embedded with all-MiniLM-L6-v2 (bench/ann/gcide_minilm.py; "
                "unit vectors, held-out entries as queries)")
        title = f"GCIDE, all-MiniLM-L6-v2, {n} × {dims}"
    else:
        what = "clustered (bench/ann/gen.py)"
        title = f"{n} × {dims} clustered"
    what, title = doc.get("what", what), doc.get("title", title)
    threads = doc.get("query_threads", len(os.sched_getaffinity(0)))
    hnsw = next((r for r in results if r["library"] == "hnswlib"), None)
    hnsw_qps = qps_at(hnsw["curve"]) if hnsw else None

    lines = [f"Data: {n} × {dims} f32, {what}, {doc['queries']} queries, "
             f"squared L2, k = 10. Machine: {cpu}, {doc['cores']} cores. Build with "
             f"{doc.get('build_threads', a.build_threads)} threads; queries on one thread, and "
             f"on all cores ({threads}). \"At 0.95\": QPS where the curve crosses recall@10 "
             f"0.95 (log-linear between the sweep's points around it); ratios to hnswlib's." +
             (f" Every library ran {doc['rounds']} times, the order rotated each round: QPS and "
              f"build times are the medians of its rounds (`qps_rounds` in the JSON), the "
              f"recall-knob and filter tables its first round's." if doc.get("rounds", 1) > 1
              else ""),
             "",
             "| library | config | build (s) | memory (MB) | QPS at recall@10 ≥ 0.95, 1 thread | recall there | QPS at 0.95, 1 thread | × hnswlib | memory × hnswlib | QPS there, all cores | best recall |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in results:
        b = best_at(r["curve"])
        m = best_at(r.get("curve_all_cores", []))
        at = qps_at(r["curve"])
        lines.append("| {} | {} | {:.1f} | {:.0f} | {} | {} | {} | {} | {} | {} | {:.4f} |".format(
            r["library"], r.get("config", ""), r["build_s"], r["memory_mb"],
            f"{b['qps']:.0f} ({b['param']})" if b else "not reached",
            f"{b['recall']:.4f}" if b else "-",
            f"{at:.0f}" if at else "-",
            f"{at / hnsw_qps:.2f}×" if at and hnsw_qps else "-",
            f"{r['memory_mb'] / hnsw['memory_mb']:.2f}×" if hnsw else "-",
            f"{m['qps']:.0f} ({m['param']})" if m else "-",
            max(p["recall"] for p in r["curve"])))
    for r in results:
        o = r.get("one_query_per_call")
        if o:
            lines += ["", f"{r['library']} with one query per call from Python (no batched "
                      f"call): {o['qps']:.0f} QPS at {o['param']} (recall {o['recall']:.4f})."]
    if skipped:
        lines += [""] + [f"Skipped: {s['library']}: {s['reason']}" for s in skipped]
    g = next((r for r in results if r["library"] == "gannet"), None)
    if g is not None:
        lines += ["", "Gannet's recall knob (`ann_recall`, the calibrated default is 0.95):", "",
                  "| ann_recall | nprobe | recall@10 | QPS |", "| ---: | ---: | ---: | ---: |"]
        for t in g["recall_targets"]:
            lines.append(f"| {t['ann_recall']} | {t['nprobe']} | {t['recall']:.4f} | {t['qps']:.0f} |")
        lines += ["", "Gannet filtered (default knob; filter = label below a threshold, "
                  "independent of the vectors):", "",
                  "| selectivity | recall@10 | QPS | answered exactly |",
                  "| ---: | ---: | ---: | ---: |"]
        for f in g["filtered"]:
            lines.append(f"| {f['selectivity']:.0%} | {f['recall']:.4f} | {f['qps']:.0f} | "
                         f"{f['exact_fallback_share']:.0%} of queries |")
    lines += filtered_table(results)
    open(base + ".md", "w").write("\n".join(lines) + "\n")
    print("\n".join(lines))
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), sharey=True)
        for ax, key, what in ((axes[0], "curve", "1 thread"),
                              (axes[1], "curve_all_cores", f"all {threads} cores")):
            for r in results:
                xs = [p["recall"] for p in r.get(key, [])]
                ys = [p["qps"] for p in r.get(key, [])]
                ax.plot(xs, ys, marker="o", markersize=3, label=r["library"])
            ax.set_xlabel("recall@10")
            ax.set_ylabel(f"queries per second ({what})")
            ax.set_yscale("log")
            ax.set_xlim(left=0.8, right=1.001)
            ax.axvline(0.95, color="grey", linestyle=":", linewidth=1)
            ax.set_title(f"{title}, squared L2, {what}")
            ax.grid(True, which="both", alpha=0.3)
            ax.legend()
        fig.tight_layout()
        fig.savefig(base + ".png", dpi=110)
        print(f"bench-ann: wrote {base}.png", file=sys.stderr)
    except ImportError:
        print("bench-ann: matplotlib not installed; no plot", file=sys.stderr)


if __name__ == "__main__":
    main()
