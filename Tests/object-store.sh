#!/usr/bin/env bash
# A real S3 endpoint for the tests: a one-node Ceph cluster (one mon, one OSD, no auth
# between daemons) with a RADOS Gateway on 127.0.0.1, from Debian's packages.
#   Tests/object-store.sh start DIR PORT   # S3 on PORT (https on PORT+3); mon on PORT+1/+2; OSD on PORT+10..40
#   Tests/object-store.sh stop DIR         # SIGTERM, then SIGKILL after 10 s
#   Tests/object-store.sh kill DIR         # SIGKILL at once (the data is throwaway; and a daemon
#                                          # started by a process that blocks SIGTERM inherits the block)
# `start` writes DIR/env (S3_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION).
# STORE=memstore (default: data in the OSD's memory, ~1.5 s to start) or bluestore (a sparse file).
# TLS_CERT=PEM TLS_KEY=PEM: the gateway also serves https on PORT+3 (S3_TLS_ENDPOINT in DIR/env).
set -euo pipefail
ACCESS_KEY=STRATATESTACCESSKEY0
SECRET_KEY=stratatestsecretkey0000000000000000000000
STORE=${STORE:-memstore}

fail() { echo "object-store: $*" >&2; [ -n "${DIR:-}" ] && stop "$DIR" >/dev/null 2>&1; exit 1; }
# Alive and not a zombie (PID 1 here reaps orphans only every few seconds).
running() { [ -r "/proc/$1/stat" ] && [ "$(sed 's/.*) //' "/proc/$1/stat" | cut -d' ' -f1)" != Z ]; }
# A daemon keeps no descriptor of ours beyond 0-2: a parent that learns of this script's
# end from a descriptor closing (Foundation's Process does) must not wait for the daemons.
daemon() {
  local name=$1; shift
  (
    for fd in /proc/self/fd/*; do n=${fd##*/}; if [ "$n" -gt 2 ]; then eval "exec $n>&-" 2>/dev/null || true; fi; done
    exec nohup "$@" >>"$DIR/log/$name.out" 2>&1 </dev/null
  ) &
  echo $! >"$DIR/run/$name.pid"
}
until_ok() {
  local what=$1; shift; local end=$(( $(date +%s) + 120 ))
  until "$@" >/dev/null 2>&1; do [ "$(date +%s)" -lt "$end" ] || fail "no $what after 120 s (logs: $DIR/log)"; sleep 0.2; done
}

start() {
  DIR=$1 PORT=$2
  [ ! -e "$DIR" ] || [ -f "$DIR/.object-store" ] || [ -z "$(ls -A "$DIR")" ] || fail "$DIR exists, is not empty and is not an object-store directory"
  for p in "$PORT" $((PORT + 1)) $((PORT + 2)) $((PORT + 3)); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then fail "127.0.0.1:$p is in use"; fi
  done
  rm -rf "$DIR"; mkdir -p "$DIR"/{run,log,mon.a,osd.0,rgw,tmp}; touch "$DIR/.object-store"
  DIR=$(cd "$DIR" && pwd)
  local fsid conf=$DIR/ceph.conf mon="[v2:127.0.0.1:$((PORT + 1)),v1:127.0.0.1:$((PORT + 2))]"
  fsid=$(cat /proc/sys/kernel/random/uuid)
  # Findings behind these settings: radosgw needs `ms mon client mode = crc` once cephx is off;
  # a paxos interval of 0.01 s makes pool creation (and so start-up) ten times faster; the
  # beast frontend needs tcp_nodelay, or small answers wait 40 ms for a delayed ACK; without
  # lifecycle threads radosgw exits at once on SIGTERM.
  cat >"$conf" <<EOF
[global]
fsid = $fsid
mon host = $mon
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind ipv6 = false
ms bind port min = $((PORT + 10))
ms bind port max = $((PORT + 40))
auth cluster required = none
auth service required = none
auth client required = none
auth supported = none
ms mon client mode = crc
keyring = $DIR/keyring
run dir = $DIR/run
log file = $DIR/log/\$name.log
pid file = $DIR/run/\$name.daemon.pid
crash dir = $DIR/tmp
log to stderr = false
osd pool default size = 1
osd pool default min size = 1
mon allow pool size one = true
mon warn on pool no redundancy = false
osd crush chooseleaf type = 0
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
mon max pg per osd = 1000
mon data avail warn = 2
mon data avail crit = 1
[mon]
admin socket = $DIR/run/\$name.asok
mon data = $DIR/mon.\$id
paxos propose interval = 0.01
[osd]
admin socket = $DIR/run/\$name.asok
osd data = $DIR/osd.\$id
osd objectstore = $STORE
memstore device bytes = 4294967296
bluestore block path = $DIR/osd.\$id.block
bluestore block create = true
bluestore block size = 21474836480
osd memory target = 1073741824
[client.rgw]
admin socket = $DIR/run/rgw.asok
rgw data = $DIR/rgw
rgw enable usage log = false
rgw dynamic resharding = false
rgw enable lc threads = false
rgw gc obj min wait = 30
rgw gc processor period = 30
EOF
  monmaptool --create --clobber --fsid "$fsid" --addv a "$mon" "$DIR/tmp/monmap" >/dev/null
  ceph-authtool --create-keyring "$DIR/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
  ceph-mon -c "$conf" --mkfs -i a --monmap "$DIR/tmp/monmap" >>"$DIR/log/mkfs.log" 2>&1 || fail "ceph-mon --mkfs failed"
  daemon mon ceph-mon -c "$conf" -i a -f
  until_ok "monitor" timeout 10 ceph -c "$conf" --connect-timeout 5 mon stat
  local uuid; uuid=$(cat /proc/sys/kernel/random/uuid)
  [ "$(timeout 30 ceph -c "$conf" osd new "$uuid")" = 0 ] || fail "ceph osd new did not give osd.0"
  ceph-osd -c "$conf" -i 0 --mkfs --osd-uuid "$uuid" >>"$DIR/log/mkfs.log" 2>&1 || fail "ceph-osd --mkfs failed"
  daemon osd ceph-osd -c "$conf" -i 0 -f
  until_ok "OSD" sh -c "timeout 10 ceph -c '$conf' osd dump 2>/dev/null | grep -q '^osd.0 up'"
  local frontends="beast endpoint=127.0.0.1:$PORT tcp_nodelay=1"
  if [ -n "${TLS_CERT:-}" ]; then
    frontends="$frontends ssl_endpoint=127.0.0.1:$((PORT + 3)) ssl_certificate=$TLS_CERT ssl_private_key=${TLS_KEY:?TLS_KEY goes with TLS_CERT}"
  fi
  daemon rgw radosgw -c "$conf" -n client.rgw -f --rgw-frontends "$frontends"
  until_ok "gateway on 127.0.0.1:$PORT" curl -fsS -o /dev/null "http://127.0.0.1:$PORT/"
  radosgw-admin -c "$conf" -n client.admin user create --uid=strata --display-name=strata \
    --access-key="$ACCESS_KEY" --secret-key="$SECRET_KEY" >/dev/null 2>>"$DIR/log/admin.log" || fail "radosgw-admin user create failed"
  cat >"$DIR/env" <<EOF
export S3_ENDPOINT=http://127.0.0.1:$PORT
${TLS_CERT:+export S3_TLS_ENDPOINT=https://127.0.0.1:$((PORT + 3))}
export AWS_ACCESS_KEY_ID=$ACCESS_KEY
export AWS_SECRET_ACCESS_KEY=$SECRET_KEY
export AWS_REGION=us-east-1
EOF
  echo "object store: http://127.0.0.1:$PORT ($STORE), env in $DIR/env"
}

stop() {
  local dir=$1 signal=${2:-TERM} f p
  for f in "$dir/run/rgw.pid" "$dir/run/osd.pid" "$dir/run/mon.pid"; do
    [ -f "$f" ] || continue
    p=$(cat "$f"); kill "-$signal" "$p" 2>/dev/null || true
    for _ in $(seq 200); do running "$p" || break; sleep 0.05; done
    if running "$p"; then kill -KILL "$p" 2>/dev/null || true; fi
    rm -f "$f"
  done
}

case "${1:-}" in
  start) [ $# = 3 ] || fail "usage: $0 start DIR PORT"; start "$2" "$3" ;;
  stop) [ $# = 2 ] || fail "usage: $0 stop DIR"; stop "$2" ;;
  kill) [ $# = 2 ] || fail "usage: $0 kill DIR"; stop "$2" KILL ;;
  *) echo "usage: $0 start DIR PORT | stop DIR | kill DIR" >&2; exit 2 ;;
esac
