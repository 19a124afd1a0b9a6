#!/usr/bin/env bash
# Runs Strata's whole test suite: installs what the tests need when it is missing
# (Debian packages), builds once, then runs every test in a network namespace that has
# only loopback (as root), so no test can reach anything off this machine.
#   Tests/run.sh                 all tests (about 15 minutes on 2 cores, plus a first build)
#   Tests/run.sh --filter NAME   a subset of the swift tests only (no fuzzing, no ThreadSanitizer)
set -euo pipefail
cd "$(dirname "$0")/.."
# Daemons (dockerd, ip) live in sbin; Swift may be installed under /opt/swift.
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
command -v swift >/dev/null || { [ -x /opt/swift/usr/bin/swift ] && export PATH="$PATH:/opt/swift/usr/bin"; }

if [ -z "${STRATA_IN_NETNS:-}" ]; then
  packages=(pkg-config libzstd-dev libssl-dev libsqlite3-dev openssl gzip tar curl iproute2 util-linux docker-registry skopeo chromium systemd
            podman radosgw ceph-mon ceph-osd)
  # A Docker engine installed another way (docker-ce and containerd.io) serves the
  # dockerd and containerd tests as it is: Debian's docker.io would replace it.
  engine=$(command -v dockerd || true)
  if [ -n "$engine" ] && ! dpkg -S "$(readlink -f "$engine")" 2>/dev/null | grep -q '^docker.io:'; then
    echo "Using the Docker engine already installed at $engine (not installing docker.io and containerd)"
  else
    packages+=(docker.io containerd)
  fi
  Tests/ensure-packages.sh "${packages[@]}"
  swift build --build-tests
  if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null; then
    exec unshare -n -- env STRATA_IN_NETNS=1 bash -c 'ip link set lo up && exec "$0" "$@"' "$0" "$@"
  fi
  echo "not root: the tests run in this network namespace (they address only loopback themselves)"
fi

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
