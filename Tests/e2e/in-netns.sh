#!/usr/bin/env bash
# Runs one real client against Strata inside a network namespace that has only
# loopback, so a client that falls back to Docker Hub cannot leave the machine.
# Called by the integration tests as: unshare -n -- bash in-netns.sh
# Environment: WORK (a scratch folder holding hub/data and ghcr/data, registry storage), STRATA (the
# strata binary), CLIENT (docker | containerd | podman), IMAGES (what to pull).
# Leaves WORK/requests.json (the admin API's ledger) and WORK/client.log.
set -euo pipefail
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
: "${WORK:?}" "${STRATA:?}" "${CLIENT:?}" "${IMAGES:?}"
ip link set lo up

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

# shellcheck source=Tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

for name in hub ghcr; do
  port=$([ $name = hub ] && echo 5001 || echo 5002)
  cat > "$WORK/$name.yml" <<YML
version: 0.1
log: { level: error, accesslog: { disabled: false } }
storage: { filesystem: { rootdirectory: $WORK/$name/data } }
http: { addr: 127.0.0.1:$port }
YML
  docker-registry serve "$WORK/$name.yml" >"$WORK/$name.log" 2>&1 & pids+=($!)
done
cat > "$WORK/strata.yml" <<YML
listen: 127.0.0.1:5000
admin_listen: 127.0.0.1:5050
cache: { dir: $WORK/cache }
canonical:
  docker.io: http://127.0.0.1:5001
  ghcr.io: http://127.0.0.1:5002
prefixes:
  ghcr: ghcr.io
YML
"$STRATA" serve --config "$WORK/strata.yml" >"$WORK/strata.log" 2>&1 & pids+=($!)
wait_for http://127.0.0.1:5001/v2/
wait_for http://127.0.0.1:5002/v2/
wait_for http://127.0.0.1:5000/v2/

status=0
case "$CLIENT" in
docker)
  "$STRATA" configure docker --mirror http://127.0.0.1:5000 >"$WORK/daemon.json"
  start_dockerd "$WORK/daemon.json"
  wait_dockerd
  for image in $IMAGES; do
    docker_cli pull "$image" >>"$WORK/client.log" 2>&1 || status=$?
  done
  ;;
containerd)
  for registry in docker.io ghcr.io; do
    mkdir -p "$WORK/certs.d/$registry"
    upstream=$([ $registry = docker.io ] && echo https://registry-1.docker.io || echo https://ghcr.io)
    "$STRATA" configure containerd --mirror http://127.0.0.1:5000 --registry "$registry" --upstream "$upstream" >"$WORK/certs.d/$registry/hosts.toml"
  done
  start_containerd
  wait_containerd
  for image in $IMAGES; do
    ctr_pull "$image" >>"$WORK/client.log" 2>&1 || status=$?
  done
  ;;
podman)
  { "$STRATA" configure podman --mirror http://127.0.0.1:5000
    "$STRATA" configure podman --mirror http://127.0.0.1:5000 --registry ghcr.io --prefix ghcr; } >"$WORK/registries.conf"
  printf '[storage]\ndriver = "vfs"\nrunroot = "%s"\ngraphroot = "%s"\n' "$WORK/podman-run" "$WORK/podman" >"$WORK/storage.conf"
  for image in $IMAGES; do
    CONTAINERS_REGISTRIES_CONF="$WORK/registries.conf" CONTAINERS_STORAGE_CONF="$WORK/storage.conf" \
      podman --cgroup-manager cgroupfs --events-backend none pull "$image" >>"$WORK/client.log" 2>&1 || status=$?
  done
  ;;
*) echo "unknown client $CLIENT" >&2; exit 2 ;;
esac
curl -s "http://127.0.0.1:5050/api/requests?limit=1000" >"$WORK/requests.json"
exit $status
