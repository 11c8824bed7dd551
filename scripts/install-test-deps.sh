#!/usr/bin/env bash
# Installs what the tests need beyond the build: pytest (PyPI) for the end-to-end tests.
# Idempotent.
set -euo pipefail
if ! python3 -c "import pytest" 2>/dev/null; then
  python3 -m pip install --quiet pytest
fi
