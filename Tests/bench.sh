#!/usr/bin/env bash
# Strata's benchmark, side by side with nginx (sendfile) and distribution in proxy
# mode, on loopback: builds the release binary, installs the peers when missing, runs.
#   Tests/bench.sh [--runs 5] [--blob-mib 500] [--json bench-results.json]
set -euo pipefail
cd "$(dirname "$0")/.."
Tests/ensure-packages.sh docker-registry nginx-light hey wrk curl python3 radosgw ceph-mon ceph-osd
swift build -c release --product strata
exec python3 Tests/bench/bench.py "$@"
