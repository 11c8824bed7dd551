#!/usr/bin/env bash
# Builds the libFuzzer targets in fuzz/ with clang and runs each for a while against the
# committed seed corpus (fuzz/corpus/<target>, copied so the committed seeds stay small).
# Usage: scripts/fuzz.sh [seconds per target, default 30]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-30}
CXX_FUZZ=$(command -v clang++-14 || command -v clang++ || true)
if [ -z "$CXX_FUZZ" ]; then
  echo "fuzz: clang++ not found (install clang-14 and libclang-rt-14-dev)" >&2
  exit 1
fi
if [ ! -f build-fuzz/build.ninja ]; then
  cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_COMPILER="$CXX_FUZZ" -DGANNET_FUZZ=ON -DGANNET_BUILD_TESTS=OFF >/dev/null
fi
targets=$(cd fuzz && ls *_fuzz.cpp | sed 's/\.cpp$//')
cmake --build build-fuzz -j "$(nproc)" --target $targets make_seeds
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
./build-fuzz/make_seeds "$work/seeds"
total=0
for t in $targets; do
  mkdir -p "$work/$t"
  cp fuzz/corpus/"$t"/* "$work/$t"/ 2>/dev/null || true
  cp "$work/seeds/$t"/* "$work/$t"/ 2>/dev/null || true
  log="$work/$t.log"
  if ! ./build-fuzz/"$t" -max_total_time="$secs" -rss_limit_mb=2048 -max_len=65536 \
       -print_final_stats=1 "$work/$t" >"$log" 2>&1; then
    tail -40 "$log"
    echo "fuzz: $t FAILED (crash input saved in the current directory)" >&2
    exit 1
  fi
  runs=$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}')
  echo "fuzz: $t ok, ${runs:-?} executions in ${secs}s"
  total=$((total + ${runs:-0}))
done
echo "fuzz: all targets ok, $total executions"
