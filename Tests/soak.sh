#!/usr/bin/env bash
# Strata's soak (not part of CI): 10 minutes of mixed load on the release build,
# sampling RSS and open descriptors; fails if they grow or any request errs.
#   Tests/soak.sh [--minutes 10] [--clients 16]
set -euo pipefail
cd "$(dirname "$0")/.."
packages=(docker-registry python3)
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
exec python3 Tests/bench/soak.py "$@"
