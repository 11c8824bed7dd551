#!/usr/bin/env bash
# Object-store cost benchmark (bench/store_bench.cpp) on three setups in one run: a local
# directory, Ceph RGW on loopback (started here by scripts/rgw.sh), and Ceph RGW with 50 ms
# injected per request. Usage: bench/store/run.sh [BUILD_DIR] [store_bench flags...]
# Prints a markdown table and writes it to bench/results/store-<timestamp>.md.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD_DIR="${1:-build}"
shift || true
case "$BUILD_DIR" in /*) ;; *) BUILD_DIR="$ROOT/$BUILD_DIR" ;; esac
BIN="$BUILD_DIR/store_bench"
[ -x "$BIN" ] || cmake --build "$BUILD_DIR" --target store_bench
cd "$ROOT"

tmp=$(mktemp -d)
rgw_dir=""
cleanup() {
  [ -n "$rgw_dir" ] && scripts/rgw.sh stop "$rgw_dir" || true
  rm -rf "$tmp"
}
trap cleanup EXIT

out="bench/results/store-$(date -u +%Y%m%dT%H%M%SZ).md"
mkdir -p bench/results
{
  echo "# Object-store costs ($(date -u +%Y-%m-%d), $(nproc) cores)"
  echo
  echo "Workload: ${*:-defaults} (20000 docs x 64-d vectors + int + BM25 text, 500-row writes,"
  echo "one writer; ANN top-10 with a filter). req = object-store requests (below any cache)."
  echo
  echo "Cold: a fresh process's first query, loading the segments whole, then by range (cold load:"
  echo "the segment without its vectors, the index's head; the query reads its lists and rows by range)."
  echo
  echo "| setup | write docs/s | write p50 ms | write p99 ms | req/write | index s | index req | cold whole p50 ms | req | round trips | bytes | cold ranged p50 ms | req | round trips | bytes | warm p50 ms | warm req/query | eventual p50 ms | eventual req/query |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
} | tee "$out"

"$BIN" --store "local:$tmp/local" --label "local directory" "$@" | tee -a "$out"
if rgw_env=$(scripts/rgw.sh start); then
  eval "$rgw_env"
  rgw_dir="$GANNET_RGW_DIR"
  url="s3://$GANNET_TEST_S3_BUCKET/bench-$$"
  "$BIN" --store "$url/a" --label "Ceph RGW (loopback)" "$@" | tee -a "$out"
  "$BIN" --store "$url/b" --latency-ms 50 --label "Ceph RGW + 50 ms/request" "$@" | tee -a "$out"
else
  echo "store bench: Ceph RGW did not start; S3 rows skipped" | tee -a "$out"
fi
echo "wrote $out"
