#!/usr/bin/env bash
# Runs Gannet's benchmark: ./bench/run.sh [BUILD_DIR] [extra gannet_bench flags...]
#
# `make bench` builds first; this script only builds gannet_bench when the binary is
# missing. It makes numpy importable for the peer comparison (pip install --user when
# missing, unless GANNET_BENCH_NO_PIP=1) and writes JSON to bench/results/<timestamp>.json.
# Defaults (100000 docs x 384 dims, 200 queries per kind) finish in about a minute or two
# on 2 cores.
set -euo pipefail

BUILD_DIR="${1:-build}"
shift || true
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
case "$BUILD_DIR" in /*) ;; *) BUILD_DIR="$ROOT/$BUILD_DIR" ;; esac
BIN="$BUILD_DIR/gannet_bench"

if [ ! -x "$BIN" ]; then
  echo "bench: $BIN not found; building it"
  if [ ! -f "$BUILD_DIR/build.ninja" ]; then
    cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release
  fi
  cmake --build "$BUILD_DIR" --target gannet_bench -j "$(nproc)"
fi

# The numpy peer is optional: the benchmark prints "skipped" when numpy is unavailable.
PY="${PYTHON:-python3}"
PEER_FLAGS=(--python "$PY")
if ! command -v "$PY" >/dev/null 2>&1; then
  echo "bench: $PY not found; the numpy peer will be skipped"
  PEER_FLAGS=(--no-peer)
elif ! "$PY" -c 'import numpy' >/dev/null 2>&1; then
  if [ "${GANNET_BENCH_NO_PIP:-0}" != "1" ]; then
    echo "bench: numpy missing; installing it from PyPI for the peer comparison"
    "$PY" -m pip install --quiet --user numpy >/dev/null 2>&1 ||
      "$PY" -m pip install --quiet numpy >/dev/null 2>&1 ||
      "$PY" -m pip install --quiet --break-system-packages numpy >/dev/null 2>&1 ||
      echo "bench: could not install numpy; the numpy peer will be skipped"
  fi
fi

RESULTS="$ROOT/bench/results"
mkdir -p "$RESULTS"
OUT="$RESULTS/$(date -u +%Y%m%dT%H%M%SZ).json"
"$BIN" --json "$OUT" "${PEER_FLAGS[@]}" "$@"
