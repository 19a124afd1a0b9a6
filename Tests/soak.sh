#!/usr/bin/env bash
# Strata's soak (not part of CI): 10 minutes of mixed load on the release build,
# sampling RSS and open descriptors; fails if they grow or any request errs.
#   Tests/soak.sh [--minutes 10] [--clients 16]
set -euo pipefail
cd "$(dirname "$0")/.."
Tests/ensure-packages.sh docker-registry python3
swift build -c release --product strata
exec python3 Tests/bench/soak.py "$@"
