# Shared by the scripts in Tests/e2e (sourced): start-up of the real clients inside the
# network namespace, each with its state under $WORK, and waiting for servers.
# The caller sets WORK and keeps the background pids in the array `pids`.

wait_for() { # url: until it answers (10 s)
  for _ in $(seq 1 200); do curl -s -o /dev/null "$1" && return 0; sleep 0.05; done
  echo "no answer from $1" >&2; return 1
}

docker_cli() { /usr/bin/docker -H "unix://$WORK/docker.sock" "$@"; }

start_dockerd() { # daemon.json: a dockerd with its own root and socket, no networking of its own
  dockerd --config-file "$1" --data-root "$WORK/docker" --exec-root "$WORK/docker-exec" \
    --pidfile "$WORK/docker.pid" -H "unix://$WORK/docker.sock" --storage-driver=vfs \
    --iptables=false --ip-masq=false --bridge=none >"$WORK/dockerd.log" 2>&1 & pids+=($!)
}

wait_dockerd() {
  for _ in $(seq 1 400); do [ -S "$WORK/docker.sock" ] && docker_cli version >/dev/null 2>&1 && return 0; sleep 0.05; done
  echo "dockerd did not start (see $WORK/dockerd.log)" >&2; return 1
}

ctr_cli() { ctr --address "$WORK/containerd.sock" "$@"; }

start_containerd() { # a containerd with its own root and socket; mirrors in $WORK/certs.d
  cat > "$WORK/containerd.toml" <<TOML
version = 2
root = "$WORK/containerd-root"
state = "$WORK/containerd-state"
[grpc]
  address = "$WORK/containerd.sock"
TOML
  containerd --config "$WORK/containerd.toml" >"$WORK/containerd.log" 2>&1 & pids+=($!)
}

wait_containerd() {
  for _ in $(seq 1 400); do ctr_cli version >/dev/null 2>&1 && return 0; sleep 0.05; done
  echo "containerd did not start (see $WORK/containerd.log)" >&2; return 1
}

ctr_pull() { # image
  ctr_cli images pull --hosts-dir "$WORK/certs.d" --snapshotter native "$1"
}
