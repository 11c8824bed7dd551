#!/usr/bin/env bash
# Runs every test: the C++ unit and integration tests (ctest), the end-to-end tests of
# the `gannet` command, the server and the Python package (pytest), the Python wheel
# build, the core tests again under ASan+UBSan and
# under TSan, and a short run of every fuzzer. Each stage prints its duration.
# The S3 tests (conformance suite and engine tests on S3Store) run against one throwaway
# Ceph RGW started here by scripts/rgw.sh and stopped on exit; an S3 server already
# configured through GANNET_TEST_S3_BUCKET and AWS_* is used instead, and
# GANNET_SKIP_S3=1 skips them.
# Usage: scripts/run-tests.sh BUILD_DIR
set -euo pipefail
build=${1:-build}
cd "$(dirname "$0")/.."
jobs=$(nproc)
t0=$(date +%s)
stage_start=$t0
stage() {
  local now
  now=$(date +%s)
  echo "== $1 (previous stage $((now - stage_start))s, total $((now - t0))s)"
  stage_start=$now
}
# The core layers' test binaries; the sanitizer builds skip the server and the CLI.
core_tests=""
for t in common storage text format model query index db; do
  ls src/$t/*_test.cpp >/dev/null 2>&1 && core_tests="$core_tests ${t}_test"
done

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

stage "ctest ($build)"
(cd "$build" && ctest --output-on-failure -j "$jobs" --timeout 900)

stage "pytest (tests/)"
# tests/python imports the package the build assembled: $build/python/gannet.
GANNET_BIN="$PWD/$build/gannet" PYTHONPATH="$PWD/$build/python${PYTHONPATH:+:$PYTHONPATH}" \
  python3 -m pytest -q tests

# The Python wheel, through scikit-build-core with the main build's compiler, so ccache
# serves the objects just compiled (about 20 s warm). Skipped without the extension.
if [ "${GANNET_SKIP_WHEEL:-0}" != "1" ] && ls "$build"/python/gannet/_gannet*.so >/dev/null 2>&1; then
  stage "Python wheel (pip wheel ./python -> $build/wheel)"
  cxx=$(sed -n 's/^CMAKE_CXX_COMPILER:[A-Z]*=//p' "$build/CMakeCache.txt")
  CXX="$cxx" CMAKE_BUILD_PARALLEL_LEVEL="$jobs" python3 -m pip wheel ./python -w "$build/wheel" \
    --no-deps --no-build-isolation --quiet
  ls "$build"/wheel/gannet-*.whl
fi

if [ "${GANNET_SKIP_SANITIZE:-0}" != "1" ]; then
  stage "core tests under ASan+UBSan (build-sanitize)"
  if [ ! -f build-sanitize/build.ninja ]; then cmake --preset sanitize >/dev/null; fi
  cmake --build build-sanitize -j "$jobs" --target $core_tests
  (cd build-sanitize && GANNET_CRASH_ITERATIONS=5 GANNET_S3_CRASH_ITERATIONS=3 \
     GANNET_SIM_SEEDS=20 ASAN_OPTIONS=detect_leaks=1 \
     ctest --output-on-failure -j "$jobs" --timeout 900 -E '_NOT_BUILT')
fi

if [ "${GANNET_SKIP_TSAN:-0}" != "1" ]; then
  stage "concurrency tests under TSan (build-tsan)"
  if [ ! -f build-tsan/build.ninja ]; then cmake --preset tsan >/dev/null; fi
  cmake --build build-tsan -j "$jobs" --target storage_test db_test
  # die_after_fork=0: the crash tests fork writers from a process whose queries started
  # the task pool's threads (common/task_pool.h), and the writers start threads of their
  # own, which TSan refuses by default after a multi-threaded fork.
  (cd build-tsan && GANNET_CRASH_ITERATIONS=3 GANNET_S3_CRASH_ITERATIONS=2 GANNET_SIM_SEEDS=5 \
     TSAN_OPTIONS="halt_on_error=1 die_after_fork=0" \
     ctest --output-on-failure -j "$jobs" --timeout 900 -E '_NOT_BUILT')
fi

if [ "${GANNET_SKIP_FUZZ:-0}" != "1" ]; then
  stage "fuzzers, ${GANNET_FUZZ_SECONDS:-6}s each (build-fuzz)"
  scripts/fuzz.sh "${GANNET_FUZZ_SECONDS:-6}"
fi
stage "done"
echo "== all tests passed in $(( $(date +%s) - t0 ))s"
