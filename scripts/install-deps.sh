#!/usr/bin/env bash
# Installs the C++ build's dependencies from Debian's packages, plus nanobind from PyPI
# (the Python extension is built when python3 can import it; without it the build still
# succeeds, minus the extension). Idempotent: does nothing when everything is present.
set -euo pipefail
PKGS=(cmake ninja-build g++ make ccache pkg-config libgtest-dev libzstd-dev libxxhash-dev
      nlohmann-json3-dev libboost1.81-dev libcurl4-openssl-dev libsimdjson-dev libhwy-dev libicu-dev libstemmer-dev python3
      python3-dev)
python3 -c "import nanobind" 2>/dev/null ||
  python3 -m pip install --quiet nanobind ||
  echo "install-deps: pip install nanobind failed; building without the Python extension" >&2
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "installing: ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
