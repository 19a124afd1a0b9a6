#!/usr/bin/env bash
# Runs Strata's whole test suite: installs what the tests need when it is missing
# (Debian packages), builds once, then runs every test.
#   Tests/run.sh                 all tests
#   Tests/run.sh --filter NAME   a subset of the swift tests only (no fuzzing, no ThreadSanitizer)
set -euo pipefail
cd "$(dirname "$0")/.."
# Daemons (dockerd, ip) live in sbin; Swift may be installed under /opt/swift.
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
command -v swift >/dev/null || { [ -x /opt/swift/usr/bin/swift ] && export PATH="$PATH:/opt/swift/usr/bin"; }

Tests/ensure-packages.sh pkg-config libzstd-dev libssl-dev libsqlite3-dev openssl gzip tar curl iproute2 util-linux docker-registry skopeo chromium systemd docker.io containerd podman radosgw ceph-mon ceph-osd

# A real S3 endpoint (Ceph RGW on loopback) for the object-store tests, for the whole run.
store_dir=$(mktemp -d /tmp/strata-object-store.XXXXXX)
trap 'Tests/object-store.sh stop "$store_dir" >/dev/null 2>&1 || true; rm -rf "$store_dir"' EXIT
Tests/object-store.sh start "$store_dir" "$(shuf -i 20000-32000 -n 1)"
# shellcheck disable=SC1091
. "$store_dir/env"

swift build --build-tests
swift test --skip-build "$@"
if (($# == 0)); then
  # Every parser of hostile input under libFuzzer, 15 s each (Docs/security.md).
  Tests/fuzz.sh --seconds 15
  # The concurrent core under ThreadSanitizer.
  Tests/tsan.sh
fi
