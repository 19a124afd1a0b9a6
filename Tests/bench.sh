#!/usr/bin/env bash
# Strata's benchmark, side by side with nginx (sendfile) and distribution in proxy
# mode, on loopback: builds the release binary, installs the peers when missing, runs.
#   Tests/bench.sh [--runs 5] [--blob-mib 500] [--json bench-results.json]
set -euo pipefail
cd "$(dirname "$0")/.."
packages=(docker-registry nginx-light hey curl python3)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
swift build -c release --product strata
exec python3 Tests/bench/bench.py "$@"
