#!/usr/bin/env bash
# `make bench-fts`: installs the peers that only the benchmark needs (Debian's
# python3-xapian and postgresql, PyPI's psycopg), then runs bench/fts/bench_fts.py against
# the build's Python package. Usage: bench/fts/run.sh [BUILD_DIR] [bench_fts.py flags...]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD_DIR="${1:-build}"
shift || true
case "$BUILD_DIR" in /*) ;; *) BUILD_DIR="$ROOT/$BUILD_DIR" ;; esac
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
missing=()
for p in dict-gcide python3-xapian postgresql; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" ||
    echo "bench-fts: could not install ${missing[*]}; those peers will be skipped" >&2
fi
python3 -c "import tantivy" 2>/dev/null || python3 -m pip install --quiet tantivy
python3 -c "import psycopg" 2>/dev/null || python3 -m pip install --quiet 'psycopg[binary]' ||
  echo "bench-fts: psycopg unavailable; PostgreSQL will be skipped" >&2
# The native APIs side by side: Gannet's C++ API (build/fts_query_bench) and tantivy's Rust
# API (bench/fts/tantivy_native, built with cargo from crates.io when cargo is here).
native=()
[ -x "$BUILD_DIR/fts_query_bench" ] && native+=(--gannet-native "$BUILD_DIR/fts_query_bench")
if command -v cargo >/dev/null 2>&1; then
  if cargo build --quiet --release --manifest-path "$ROOT/bench/fts/tantivy_native/Cargo.toml"; then
    native+=(--tantivy-native "$ROOT/bench/fts/tantivy_native/target/release/tantivy_native_bench")
  else
    echo "bench-fts: tantivy_native did not build; the native comparison is skipped" >&2
  fi
else
  echo "bench-fts: no cargo; tantivy's native API is not measured" >&2
fi
PYTHONPATH="$BUILD_DIR/python${PYTHONPATH:+:$PYTHONPATH}" exec python3 "$ROOT/bench/fts/bench_fts.py" \
  "${native[@]}" "$@"
