#!/usr/bin/env bash
# Installs the Debian packages named as arguments that are not installed yet, saying
# which and why first, and showing apt's progress.
# Run by run.sh, bench.sh and soak.sh: `Tests/ensure-packages.sh pkg ...`.
set -euo pipefail

# Why each package is needed, as printed before installing it.
why() {
  case "$1" in
    pkg-config|libzstd-dev|libssl-dev|libsqlite3-dev) echo "building Strata (system libraries)" ;;
    openssl|gzip|tar|curl) echo "test fixtures and checks" ;;
    iproute2|util-linux) echo "network namespaces (ip, unshare): tests reach only loopback" ;;
    docker-registry) echo "the real registry the tests pull from (CNCF distribution)" ;;
    skopeo) echo "a real client for pulls through Strata" ;;
    chromium) echo "the dashboard tests (headless)" ;;
    systemd) echo "checking the systemd unit in Deploy/" ;;
    docker.io|containerd) echo "dockerd and containerd as real clients" ;;
    podman) echo "podman as a real client" ;;
    radosgw|ceph-mon|ceph-osd) echo "Ceph RGW: the S3 store for the replica tests" ;;
    nginx|wrk|hey|linux-perf) echo "the benchmark's peers and load generators" ;;
    *) echo "the tests" ;;
  esac
}

missing=()
for p in "$@"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "Installing ${#missing[@]} Debian packages the tests need (a first run takes a few minutes):"
  for p in "${missing[@]}"; do printf '  %-16s %s\n' "$p" "$(why "$p")"; done
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends --no-upgrade "${missing[@]}"
fi
