#!/usr/bin/env bash
# Installs what the tests need beyond the build, from PyPI: pytest for the end-to-end
# tests, requests and the official turbopuffer client for the HTTP server's tests
# (tests/server). Idempotent.
set -euo pipefail
missing=()
python3 -c "import pytest" 2>/dev/null || missing+=(pytest)
python3 -c "import requests" 2>/dev/null || missing+=(requests)
python3 -c "import turbopuffer" 2>/dev/null || missing+=(turbopuffer)
if [ ${#missing[@]} -gt 0 ]; then
  python3 -m pip install --quiet "${missing[@]}"
fi
