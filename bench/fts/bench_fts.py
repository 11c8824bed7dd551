#!/usr/bin/env python3
"""Full-text search benchmark on GCIDE: Gannet (embedded) against tantivy, Xapian,
SQLite FTS5 and PostgreSQL, in one run on this machine.

Each engine indexes every GCIDE entry in a fresh temporary directory, one after the
other (docs/s, bytes on disk). Then the generated queries of each kind (queries.py) run
single-threaded for the top 10: one untimed pass per engine (warm-up; its answers are
kept for the agreement table), then --rounds timed passes per engine, alternating: each
round runs every engine once, in an order rotated from round to round (p50 and p95 over
all of an engine's timed queries, QPS over their total time). Timing each engine's passes
back to back instead favoured whichever engine ran later (about 10% on this machine).
Prints a markdown report and writes it to bench/results/fts-<UTC time>.md. Ratios are the
peer's number divided by Gannet's (without Gannet: by tantivy's).

    PYTHONPATH=build/python python3 bench/fts/bench_fts.py [--limit N] [--queries 200]
        [--engines gannet,tantivy,xapian,sqlite,postgres] [--out FILE]

Needs dict-gcide and tantivy; an engine that cannot run (python3-xapian, psycopg or
PostgreSQL missing, a Gannet build without BM25) is skipped with the reason in the
report.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import math
import os
import platform
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent))

import compare  # noqa: E402
import engines  # noqa: E402
import gcide  # noqa: E402
import queries  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
ENGINE_KEYS = ("gannet", "tantivy", "xapian", "sqlite", "postgres")


@dataclass
class KindResult:
    p50_ms: float
    p95_ms: float
    qps: float
    hits: list[list[engines.Hit]]


@dataclass
class EngineResult:
    name: str
    index_s: float = 0.0
    size: int = 0
    stores_text: bool = False
    notes: str = ""
    extra: str = ""
    kinds: dict[str, KindResult] = field(default_factory=dict)
    skipped: str = ""


def percentile(sorted_values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return float("nan")
    rank = math.ceil(p / 100 * len(sorted_values))
    return sorted_values[max(0, min(len(sorted_values), rank) - 1)]


def warm_up(e: engines.Engine, qs: Sequence[queries.Query], k: int) -> list[list[engines.Hit]]:
    """The untimed pass: warms the engine's caches; its answers go to the agreement table."""
    return [e.search(q, k) for q in qs]


def timed_pass(e: engines.Engine, qs: Sequence[queries.Query], k: int) -> tuple[list[float], float]:
    """Per-query latencies in ms, and the pass's total time in s."""
    lat = []
    gc.collect()
    gc.disable()  # no collector pauses inside the timed pass
    try:
        t0 = time.perf_counter()
        for q in qs:
            s = time.perf_counter_ns()
            e.search(q, k)
            lat.append((time.perf_counter_ns() - s) / 1e6)
        total = time.perf_counter() - t0
    finally:
        gc.enable()
    return lat, total


def run_queries(opened: list[tuple[engines.Engine, EngineResult]],
                by_kind: dict[str, list[queries.Query]], k: int, rounds: int,
                log: Callable[[str], None]) -> None:
    """Every kind on every engine: a warm-up pass each, then `rounds` rounds of one timed
    pass each, the engines' order rotated by one every round."""
    for kind, qs in by_kind.items():
        hits = [warm_up(e, qs, k) for e, _ in opened]
        lat: list[list[float]] = [[] for _ in opened]
        total = [0.0 for _ in opened]
        for r in range(rounds):
            for j in range(len(opened)):
                i = (j + r) % len(opened)
                got, t = timed_pass(opened[i][0], qs, k)
                lat[i] += got
                total[i] += t
        for i, (e, res) in enumerate(opened):
            lat[i].sort()
            res.kinds[kind] = KindResult(percentile(lat[i], 50), percentile(lat[i], 95),
                                         len(lat[i]) / total[i] if total[i] > 0 else 0.0, hits[i])
            kr = res.kinds[kind]
            log(f"{e.name}: {kind}: p50 {kr.p50_ms:.3f} ms, p95 {kr.p95_ms:.3f} ms, "
                f"{kr.qps:.0f} QPS")


def make_engine(key: str, workdir: str, tantivy_stemmer: str = "tantivy") -> engines.Engine:
    """The engine, or RuntimeError with why it cannot run here."""
    if key == "gannet":
        g, why = engines.import_gannet()
        if g is None:
            raise RuntimeError(why)
        why = engines.gannet_fts_support(g, workdir)
        if why:
            raise RuntimeError(f"this Gannet build has no BM25 yet ({why})")
        return engines.GannetEngine(workdir, g)
    if key == "tantivy":
        return engines.TantivyEngine(workdir, threads=1, stemmer=tantivy_stemmer)
    if key == "xapian":
        x, why = engines.import_xapian()
        if x is None:
            raise RuntimeError(why)
        return engines.XapianEngine(workdir, x)
    if key == "sqlite":
        return engines.SqliteEngine(workdir)
    if key == "postgres":
        return engines.PostgresEngine(workdir)
    raise ValueError(key)


def open_engine(key: str, records: Sequence[gcide.Record], log: Callable[[str], None],
                tantivy_stemmer: str, workdir: str) -> tuple[Optional[engines.Engine], EngineResult]:
    """The engine with every record indexed in workdir (None when it cannot run here, the
    reason in the result)."""
    res = EngineResult(name=key)
    try:
        e = make_engine(key, workdir, tantivy_stemmer)
    except RuntimeError as ex:
        res.skipped = str(ex)
        log(f"{key}: skipped: {ex}")
        return None, res
    try:
        res.name, res.stores_text, res.notes = e.name, e.stores_text, e.notes
        log(f"{e.name}: indexing {len(records)} documents ...")
        t0 = time.perf_counter()
        e.index(records)
        res.index_s = time.perf_counter() - t0
        res.size = e.size_bytes()
        if isinstance(e, engines.GannetEngine):
            # Queried as a namespace is once maintenance is done with it (not timed).
            before, after, waited = e.settle()
            if after != before:
                res.notes += (f"; background maintenance then merged its {before} segments "
                              f"into {after} (done within {waited:.0f} s, not timed)")
            res.size = e.size_bytes()
            res.extra = ", ".join(f"{k2} {v / 1e6:.1f} MB" for k2, v in e.size_breakdown().items())
        segments = e.segments()
        if segments is not None:
            res.notes += f"; queried over {segments} segment{'s' if segments != 1 else ''}"
        log(f"{e.name}: indexed in {res.index_s:.1f} s, {res.size / 1e6:.1f} MB")
    except BaseException:
        e.close()
        raise
    return e, res


def bench_engines(keys: Sequence[str], records: Sequence[gcide.Record],
                  by_kind: dict[str, list[queries.Query]], k: int, rounds: int,
                  log: Callable[[str], None], tantivy_stemmer: str,
                  keep_dir: Optional[str] = None) -> list[EngineResult]:
    """Indexes with each engine, then times the queries on all of them (run_queries).
    keep_dir: Gannet's working directory (its store in keep_dir/gannet), kept afterwards;
    every other engine's is temporary."""
    results: list[EngineResult] = []
    opened: list[tuple[engines.Engine, EngineResult]] = []
    temporary: list[str] = []
    try:
        for key in keys:
            if key == "gannet" and keep_dir is not None:
                workdir = keep_dir
                os.makedirs(workdir, exist_ok=True)
            else:
                workdir = tempfile.mkdtemp(prefix=f"gannet-bench-fts-{key}-")
                temporary.append(workdir)
            e, res = open_engine(key, records, log, tantivy_stemmer, workdir)
            results.append(res)
            if e is not None:
                opened.append((e, res))
        run_queries(opened, by_kind, k, rounds, log)
        return results
    finally:
        for e, _ in opened:
            e.close()
        for d in temporary:
            shutil.rmtree(d, ignore_errors=True)


def versions() -> dict[str, str]:
    out = {"python": platform.python_version(), "SQLite": sqlite3.sqlite_version}
    try:
        from importlib.metadata import version

        out["tantivy"] = version("tantivy")
    except Exception:
        pass
    x, _ = engines.import_xapian()
    if x is not None:
        out["Xapian"] = x.version_string()
    pg = os.path.join(engines.PG_BIN, "postgres")
    if os.path.exists(pg):
        p = subprocess.run([pg, "--version"], capture_output=True, text=True)
        out["PostgreSQL"] = (p.stdout.split() + ["?"] * 3)[2]  # postgres (PostgreSQL) 15.x
    p = subprocess.run(["git", "-C", str(REPO), "describe", "--always", "--dirty"],
                       capture_output=True, text=True)
    out["Gannet"] = p.stdout.strip() or "?"
    return out


def machine() -> str:
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    load = os.getloadavg()[0]
    return f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GiB, load average {load:.2f} at the start"


def ratio(x: float, base: float) -> str:
    return f"{x / base:.2f}x" if base > 0 else "-"


def report(results: list[EngineResult], meta: dict[str, Any], kinds: Sequence[str]) -> str:
    ran = [r for r in results if not r.skipped]
    base = next((r for r in ran if r.name == "Gannet"), None) or next(
        (r for r in ran if r.name == "tantivy"), None)
    n = meta["docs"]
    L = [f"# Full-text search on GCIDE, {meta['when']}", ""]
    L.append(f"- machine: {meta['machine']}; versions: "
             + ", ".join(f"{k} {v}" for k, v in meta["versions"].items()))
    L.append(f"- corpus: {n:,} GCIDE entries, {meta['text_mb']:.1f} MB of text, "
             f"{meta['tokens']:,} tokens (parsed in {meta['parse_s']:.1f} s)")
    L.append(f"- queries: {meta['per_kind']} per kind, seed {meta['seed']}, digest "
             f"{meta['digest']}, top {meta['k']}, one thread; per kind, an untimed warm-up "
             f"pass per engine, then {meta['rounds']} rounds of one timed pass per engine "
             "(after gc.collect(), with the collector off), the engines' order rotated each "
             "round; p50/p95 over all of an engine's timed queries. Every engine is "
             "called through its Python binding (Gannet: the embedded client, a JSON request "
             "and the response built as Python objects; bench/fts_query_bench times the same "
             "queries through the C++ API)")
    L.append("- kinds: N-term = N words of one entry (df <= 5000); frequent = 1-3 words of df "
             "500-5000; rare = 1-2 words of df 2-20; phrase = 2-3 consecutive words of an "
             "entry, as a phrase filter + BM25 of its words (Gannet, tantivy, Xapian) or a "
             "natively ranked phrase match (SQLite, PostgreSQL)")
    L.append(f"- ratios: the engine's number / {base.name if base else '-'}'s "
             "(docs/s and QPS: above 1 is faster; size and latency: above 1 is bigger/slower)")
    for r in results:
        if r.skipped:
            L.append(f"- **{r.name} skipped**: {r.skipped}")
    L += ["", "## Indexing", "",
          "| engine | docs/s | index time | size on disk | bytes/doc | docs/s ratio | size ratio "
          "| stores text | notes |",
          "|---|---:|---:|---:|---:|---:|---:|---|---|"]
    for r in ran:
        L.append(f"| {r.name} | {n / r.index_s:,.0f} | {r.index_s:.1f} s | {r.size / 1e6:.1f} MB "
                 f"| {r.size / n:.0f} | {ratio(n / r.index_s, n / base.index_s) if base else '-'} "
                 f"| {ratio(r.size, base.size) if base else '-'} | "
                 f"{'yes' if r.stores_text else 'no'} | {r.notes} |")
    for r in ran:
        if r.extra:
            L.append(f"\n{r.name} on disk: {r.extra}. Its size counts the segments the "
                     "manifest lists (documents, .fts index), deletion vectors and the manifest; "
                     "not the WAL nor unreferenced objects, which garbage collection deletes.")
    L += ["", "## Query latency (top 10, one thread)", "",
          "p50 / p95 in ms, QPS in parentheses.", "",
          "| engine | " + " | ".join(kinds) + " |", "|---|" + "---:|" * len(kinds)]
    for r in ran:
        cells = [f"{r.kinds[k].p50_ms:.3f} / {r.kinds[k].p95_ms:.3f} ({r.kinds[k].qps:,.0f})"
                 for k in kinds]
        L.append(f"| {r.name} | " + " | ".join(cells) + " |")
    if base:
        L += ["", f"Ratios to {base.name}: p50 latency / QPS.", "",
              "| engine | " + " | ".join(kinds) + " |", "|---|" + "---:|" * len(kinds)]
        for r in ran:
            if r is base:
                continue
            cells = [f"{ratio(r.kinds[k].p50_ms, base.kinds[k].p50_ms)} / "
                     f"{ratio(r.kinds[k].qps, base.kinds[k].qps)}" for k in kinds]
            L.append(f"| {r.name} | " + " | ".join(cells) + " |")
        L += ["", f"## Top-10 agreement with {base.name}", "",
              "Mean overlap@10 (|common ids| / max(|answers|)); for tantivy, which scores "
              "alike, also the share of queries whose answers agree strictly (equal scores "
              f"within {compare.REL_TOL:g} relative, equal ids outside the tie at the 10th "
              "score; bench/fts/compare.py). " + (
                  "tantivy indexed text pre-stemmed by Gannet's libstemmer."
                  if meta["tantivy_stemmer"] == "libstemmer" else
                  "tantivy's own English stemmer is an older Snowball than the libstemmer "
                  "Gannet links (88 GCIDE terms differ, e.g. international: internat / "
                  "intern); `--tantivy-stemmer libstemmer` removes that difference."), "",
              "| engine | " + " | ".join(kinds) + " | all |", "|---|" + "---:|" * (len(kinds) + 1)]
        for r in ran:
            if r is base:
                continue
            cells, tot, cnt = [], 0.0, 0
            for k in kinds:
                ov = [compare.overlap(a, b) for a, b in zip(base.kinds[k].hits, r.kinds[k].hits)]
                cells.append(f"{sum(ov) / len(ov):.3f}")
                tot += sum(ov)
                cnt += len(ov)
            L.append(f"| {r.name} overlap | " + " | ".join(cells) + f" | {tot / cnt:.3f} |")
            if {r.name, base.name} == {"Gannet", "tantivy"}:
                cells, tot, cnt = [], 0, 0
                for k in kinds:
                    ag = [compare.agrees(a, b, meta["k"])
                          for a, b in zip(base.kinds[k].hits, r.kinds[k].hits)]
                    cells.append(f"{sum(ag) / len(ag):.3f}")
                    tot += sum(ag)
                    cnt += len(ag)
                L.append(f"| {r.name} strict | " + " | ".join(cells) + f" | {tot / cnt:.3f} |")
    native = meta.get("native")
    if native:
        L += ["", "## Native APIs (no binding)", "",
              "The same queries through Gannet's C++ API (build/fts_query_bench: the parsed "
              "request to Namespace::Query, ids and scores materialized) and tantivy's Rust API "
              "(bench/fts/tantivy_native: the query analyzed and built as above, searched, ids "
              "read from the fast field), each over the same documents with the same analysis "
              f"settings, p50 of {native['reps']} passes after a warm-up, in µs (mean in "
              "parentheses). Ratio: tantivy's p50 / Gannet's (above 1: Gannet faster).", "",
              "| engine | " + " | ".join(kinds) + " |", "|---|" + "---:|" * len(kinds)]
        for name in ("Gannet", "tantivy"):
            row = native.get(name, {})
            L.append(f"| {name} | " + " | ".join(
                f"{row[k][0]:.1f} ({row[k][1]:.1f})" if k in row else "-" for k in kinds) + " |")
        g, t = native.get("Gannet", {}), native.get("tantivy", {})
        L.append("| ratio | " + " | ".join(
            f"{t[k][0] / g[k][0]:.2f}x" if k in g and k in t else "-" for k in kinds) + " |")
        if native.get("tantivy_note"):
            L += ["", native["tantivy_note"]]
    return "\n".join(L) + "\n"


NATIVE_LINE = re.compile(r"^(\S+)\s+p50\s+([0-9.]+) us\s+mean\s+([0-9.]+) us")


def run_native(cmd: list[str], log: Any) -> dict[str, tuple[float, float]]:
    """Runs a native query bench; its per-kind (p50, mean) in µs."""
    log("native: " + " ".join(cmd))
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    found = {}
    for line in out.splitlines():
        m = NATIVE_LINE.match(line)
        if m:
            found[m.group(1)] = (float(m.group(2)), float(m.group(3)))
        elif line.startswith("indexed"):
            log(f"native: {line}")
    return found


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--limit", type=int, default=None, help="index only the first N entries")
    ap.add_argument("--queries", type=int, default=200, help="queries per kind (default 200)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3,
                    help="timed passes per engine and kind, alternating between the engines "
                         "(default 3)")
    ap.add_argument("--engines", default=",".join(ENGINE_KEYS),
                    help=f"comma-separated subset of {','.join(ENGINE_KEYS)}")
    ap.add_argument("--tantivy-stemmer", choices=("tantivy", "libstemmer"), default="tantivy",
                    help="tantivy's own English stemmer (default), or the text pre-stemmed "
                         "by Gannet's libstemmer (exact agreement; slower indexing)")
    ap.add_argument("--out", default=None,
                    help="report file (default bench/results/fts-<UTC time>.md; '-' for none)")
    ap.add_argument("--keep-gannet", default=None, metavar="DIR",
                    help="keep Gannet's store in DIR/gannet and write the queries to "
                         "DIR/queries.tsv and the documents to DIR/docs.jsonl, for "
                         "build/fts_query_bench (the C++ API alone) and "
                         "bench/fts/tantivy_native")
    ap.add_argument("--gannet-native", default=None, metavar="BIN",
                    help="build/fts_query_bench: also time the queries through Gannet's C++ "
                         "API (with --tantivy-native: side by side, in the report)")
    ap.add_argument("--tantivy-native", default=None, metavar="BIN",
                    help="bench/fts/tantivy_native's binary: the queries through tantivy's "
                         "Rust API")
    ap.add_argument("--native-reps", type=int, default=20)
    args = ap.parse_args(argv)
    keys = [k.strip() for k in args.engines.split(",") if k.strip()]
    for key in keys:
        if key not in ENGINE_KEYS:
            ap.error(f"unknown engine {key!r}")

    def log(msg: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)

    if args.rounds < 1:
        ap.error("--rounds: must be at least 1")
    if not gcide.available():
        log(f"GCIDE not found at {gcide.DICT_PATH}: apt-get install dict-gcide")
        return 2
    now = dt.datetime.now(dt.timezone.utc)
    t0 = time.perf_counter()
    records = gcide.load(limit=args.limit)
    parse_s = time.perf_counter() - t0
    log(f"parsed {len(records)} GCIDE entries in {parse_s:.1f} s")
    vocab = queries.Vocabulary(records)
    qs = queries.generate(records, {k: args.queries for k in queries.KINDS}, args.seed, vocab)
    by_kind = {k: [q for q in qs if q.kind == k] for k in queries.KINDS}
    log(f"generated {len(qs)} queries (digest {queries.digest(qs)})")
    meta = {
        "when": now.strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "versions": versions(),
        "docs": len(records),
        "text_mb": sum(len(r.text) for r in records) / 1e6,
        "tokens": vocab.tokens,
        "parse_s": parse_s,
        "per_kind": args.queries,
        "seed": args.seed,
        "digest": queries.digest(qs),
        "k": args.k,
        "rounds": args.rounds,
        "tantivy_stemmer": args.tantivy_stemmer,
    }
    native = bool(args.gannet_native or args.tantivy_native)
    # The native runs need Gannet's store, the queries and the documents on disk: in
    # --keep-gannet's directory, else in a temporary one removed at the end.
    scratch = (tempfile.mkdtemp(prefix="gannet-bench-fts-native-")
               if native and not args.keep_gannet else None)
    try:
        return run_all(args, keys, records, qs, by_kind, meta, now, args.keep_gannet or scratch,
                       log)
    finally:
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)


def run_all(args: Any, keys: list[str], records: Sequence[Any], qs: Sequence[Any],
            by_kind: dict[str, Any], meta: dict[str, Any], now: dt.datetime,
            keep: Optional[str], log: Callable[[str], None]) -> int:
    """Benchmarks the engines (and the native APIs; `keep` holds their inputs), prints and
    writes the report."""
    native = bool(args.gannet_native or args.tantivy_native)
    if keep:
        os.makedirs(keep, exist_ok=True)
        with open(os.path.join(keep, "queries.tsv"), "w") as f:
            for q in qs:
                f.write(f"{q.kind}\t{json.dumps(engines.GannetEngine.body(q, args.k))}\n")
        with open(os.path.join(keep, "docs.jsonl"), "w") as f:
            for r in records:
                f.write(json.dumps([r.id, r.text]) + "\n")
    results = bench_engines(keys, records, by_kind, args.k, args.rounds, log,
                            args.tantivy_stemmer, keep)
    if native:
        reps = str(args.native_reps)
        found: dict[str, Any] = {"reps": args.native_reps}
        if args.gannet_native and "gannet" in keys:
            found["Gannet"] = run_native([args.gannet_native, os.path.join(keep, "gannet"),
                                          "gcide", os.path.join(keep, "queries.tsv"), reps], log)
        if args.tantivy_native:
            shutil.rmtree(os.path.join(keep, "tantivy-native"), ignore_errors=True)  # a rerun's
            found["tantivy"] = run_native(
                [args.tantivy_native, os.path.join(keep, "docs.jsonl"),
                 os.path.join(keep, "queries.tsv"), os.path.join(keep, "tantivy-native"),
                 reps], log)
            if args.tantivy_stemmer == "libstemmer":
                found["tantivy_note"] = ("tantivy's native run uses its own English stemmer "
                                         "(not the pre-stemmed text).")
        meta["native"] = found
    text = report(results, meta, list(queries.KINDS))
    print(text)
    if args.out != "-":
        out = Path(args.out) if args.out else (
            REPO / "bench" / "results" / f"fts-{now.strftime('%Y%m%dT%H%M%SZ')}.md")
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
        log(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
