#!/usr/bin/env bash
# Two Strata replicas, and a third started later with an empty cache, on one bucket of
# a Ceph RGW, all inside a network namespace that has only loopback: dockerd pulls
# through replica A, containerd through replica B, then, with the registry stopped,
# skopeo copies every image through replica C.
# Called by the integration tests as: unshare -n -- bash replicas-in-netns.sh
# Environment: WORK (holds hub/data, registry storage), STRATA (the strata binary),
# OBJECT_STORE (Tests/object-store.sh), IMAGES (repository:tag of the hub, e.g. library/small:1).
# Leaves WORK/hub.log (the registry's access log) and WORK/client.log.
set -euo pipefail
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
: "${WORK:?}" "${STRATA:?}" "${OBJECT_STORE:?}" "${IMAGES:?}"
ip link set lo up

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  "$OBJECT_STORE" kill "$WORK/s3" >/dev/null 2>&1 || true
  wait 2>/dev/null || true
}
trap cleanup EXIT
# shellcheck source=Tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

cat > "$WORK/hub.yml" <<YML
version: 0.1
log: { level: error, accesslog: { disabled: false } }
storage: { filesystem: { rootdirectory: $WORK/hub/data } }
http: { addr: 127.0.0.1:5001 }
YML
docker-registry serve "$WORK/hub.yml" >"$WORK/hub.log" 2>&1 & hub=$!
pids+=($hub)
"$OBJECT_STORE" start "$WORK/s3" 7480 >"$WORK/object-store.log"
# shellcheck disable=SC1091
. "$WORK/s3/env"
replica() { # name port
  cat > "$WORK/$1.yml" <<YML
listen: 127.0.0.1:$2
admin_listen: "off"
cache: { dir: $WORK/cache-$1 }
canonical: { docker.io: "http://127.0.0.1:5001" }
store: { s3: { endpoint: "$S3_ENDPOINT", bucket: central } }
YML
  "$STRATA" serve --config "$WORK/$1.yml" >"$WORK/strata-$1.log" 2>&1 & pids+=($!)
  wait_for "http://127.0.0.1:$2/v2/"
}
wait_for http://127.0.0.1:5001/v2/
replica a 5000
replica b 5003

status=0
"$STRATA" configure docker --mirror http://127.0.0.1:5000 >"$WORK/daemon.json"
start_dockerd "$WORK/daemon.json"
mkdir -p "$WORK/certs.d/docker.io"
"$STRATA" configure containerd --mirror http://127.0.0.1:5003 --registry docker.io --upstream https://registry-1.docker.io \
  >"$WORK/certs.d/docker.io/hosts.toml"
start_containerd
wait_dockerd
wait_containerd
# Both clients at once: the replicas fill the same blobs at the same moment.
for image in $IMAGES; do
  docker_cli pull "$image" >>"$WORK/client.log" 2>&1 &
  d=$!
  ctr_pull "docker.io/$image" >>"$WORK/client.log" 2>&1 || status=$?
  wait $d || status=$?
done

# Every upstream stopped; a third replica with an empty cache.
kill "$hub"; wait "$hub" 2>/dev/null || true
replica c 5004
for image in $IMAGES; do
  skopeo --insecure-policy copy --src-tls-verify=false "docker://127.0.0.1:5004/$image" "dir:$WORK/copy-${image//[\/:]/-}" >>"$WORK/client.log" 2>&1 || status=$?
done
exit $status
