#!/usr/bin/env bash
# Runs every test: the C++ unit and integration tests (ctest), the end-to-end tests of
# the `gannet` command (pytest), and the unit tests again under ASan+UBSan.
# Usage: scripts/run-tests.sh BUILD_DIR
set -euo pipefail
build=${1:-build}
cd "$(dirname "$0")/.."
jobs=$(nproc)

echo "== ctest ($build)"
(cd "$build" && ctest --output-on-failure -j "$jobs" --timeout 900)

echo "== pytest (tests/)"
GANNET_BIN="$PWD/$build/gannet" python3 -m pytest -q tests

if [ "${GANNET_SKIP_SANITIZE:-0}" != "1" ]; then
  echo "== ctest under ASan+UBSan (build-sanitize)"
  if [ ! -f build-sanitize/build.ninja ]; then cmake --preset sanitize >/dev/null; fi
  cmake --build build-sanitize -j "$jobs"
  (cd build-sanitize && GANNET_CRASH_ITERATIONS=5 ASAN_OPTIONS=detect_leaks=1 \
     ctest --output-on-failure -j "$jobs" --timeout 900)
fi
echo "== all tests passed"
