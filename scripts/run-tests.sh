#!/usr/bin/env bash
# Runs every test: the C++ unit and integration tests (ctest), the end-to-end tests of
# the `gannet` command (pytest), and the unit tests again under ASan+UBSan.
# The S3 tests (conformance suite and engine tests on S3Store) run against one throwaway
# Ceph RGW started here by scripts/rgw.sh and stopped on exit; an S3 server already
# configured through GANNET_TEST_S3_BUCKET and AWS_* is used instead, and
# GANNET_SKIP_S3=1 skips them.
# Usage: scripts/run-tests.sh BUILD_DIR
set -euo pipefail
build=${1:-build}
cd "$(dirname "$0")/.."
jobs=$(nproc)

if [ "${GANNET_SKIP_S3:-0}" = "1" ]; then
  echo "== S3 tests skipped (GANNET_SKIP_S3=1)"
  unset GANNET_TEST_S3_BUCKET
elif [ -z "${GANNET_TEST_S3_BUCKET:-}" ]; then
  echo "== starting Ceph RGW for the S3 tests (scripts/rgw.sh)"
  rgw_env=$(scripts/rgw.sh start) || {
    echo "scripts/rgw.sh start failed; set GANNET_SKIP_S3=1 to run without S3" >&2
    exit 1
  }
  eval "$rgw_env"
  trap 'scripts/rgw.sh stop "$GANNET_RGW_DIR"' EXIT
fi

echo "== ctest ($build)"
(cd "$build" && ctest --output-on-failure -j "$jobs" --timeout 900)

echo "== pytest (tests/)"
GANNET_BIN="$PWD/$build/gannet" python3 -m pytest -q tests

if [ "${GANNET_SKIP_SANITIZE:-0}" != "1" ]; then
  echo "== ctest under ASan+UBSan (build-sanitize)"
  if [ ! -f build-sanitize/build.ninja ]; then cmake --preset sanitize >/dev/null; fi
  cmake --build build-sanitize -j "$jobs"
  (cd build-sanitize && GANNET_CRASH_ITERATIONS=5 GANNET_S3_CRASH_ITERATIONS=3 \
     ASAN_OPTIONS=detect_leaks=1 \
     ctest --output-on-failure -j "$jobs" --timeout 900)
fi
echo "== all tests passed"
