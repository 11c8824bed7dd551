#!/usr/bin/env bash
# Installs what the tests need beyond the build. From PyPI: pytest for the end-to-end
# tests, requests and the official turbopuffer client for the HTTP server's tests
# (tests/server), numpy for the Python package (tests/python), tantivy as the reference
# BM25 engine (tests/fts), and nanobind plus scikit-build-core to build its extension and
# wheel. Idempotent.
set -euo pipefail
missing=()
python3 -c "import pytest" 2>/dev/null || missing+=(pytest)
python3 -c "import requests" 2>/dev/null || missing+=(requests)
python3 -c "import turbopuffer" 2>/dev/null || missing+=(turbopuffer)
python3 -c "import numpy" 2>/dev/null || missing+=(numpy)
python3 -c "import nanobind" 2>/dev/null || missing+=(nanobind)
python3 -c "import scikit_build_core" 2>/dev/null || missing+=(scikit-build-core)
# tantivy: the reference BM25 engine of tests/fts (top-10 agreement on GCIDE).
python3 -c "import tantivy" 2>/dev/null || missing+=(tantivy)
if [ ${#missing[@]} -gt 0 ]; then
  python3 -m pip install --quiet "${missing[@]}"
fi

# clang with libFuzzer for the fuzzers (Debian), util-linux's setarch for TSan, and the
# GCIDE dictionary (dict-gcide) that tests/fts indexes.
pkgs=()
for p in clang-14 libclang-rt-14-dev util-linux dict-gcide; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || pkgs+=("$p")
done
if [ ${#pkgs[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${pkgs[@]}"
fi
