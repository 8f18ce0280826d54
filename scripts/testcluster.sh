#!/usr/bin/env bash
# Starts and stops the test control plane (etcd + kube-apiserver, optionally
# kube-controller-manager and KWOK) on 127.0.0.1.
#
#   scripts/testcluster.sh start [DIR] [--controller-manager] [--kwok] [-- apiserver flags]
#   scripts/testcluster.sh stop [DIR]
#   scripts/testcluster.sh status [DIR]
#
# DIR defaults to $K8S_TESTCLUSTER_DIR or ./.cache/testcluster. The Kubernetes minor is
# $K8S_MINOR (1.36 default; 1.33 for the oldest supported). After `start`, DIR/kubeconfig is
# usable by kubectl and by the tests (export K8S_CLIENT_TEST_KUBECONFIG=DIR/kubeconfig).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cmd=${1:-}
shift || true
dir=${K8S_TESTCLUSTER_DIR:-$root/.cache/testcluster}
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then dir=$1; shift; fi
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

# A process that has exited but was never reaped (a zombie: state Z in /proc/PID/stat, as
# under a PID 1 that does not reap, in many containers) still answers `kill -0`: it counts as
# exited here, so `stop` returns at once instead of waiting 30 s and then killing it.
alive() {
  kill -0 "$1" 2>/dev/null || return 1
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
  stat=${stat##*) }
  [ "${stat%% *}" != Z ]
}
running() { [ -f "$dir/pid" ] && alive "$(cat "$dir/pid")"; }

case "$cmd" in
start)
  if running; then echo "testcluster: already running (pid $(cat "$dir/pid")), kubeconfig $dir/kubeconfig"; exit 0; fi
  args=()
  while [ $# -gt 0 ]; do
    case "$1" in
      --kwok) args+=("--kwok=$("$root/scripts/build-kwok.sh")") ;;
      --) shift; args+=(--); args+=("$@"); break ;;
      *) args+=("$1") ;;
    esac
    shift
  done
  bin=$("$root/scripts/build-testcluster.sh")
  rm -f "$dir/ready"
  t0=$(date +%s%N)
  setsid "$bin" up --dir "$dir" "${args[@]}" >"$dir/testcluster.log" 2>&1 &
  echo $! >"$dir/pid"
  for _ in $(seq 1 900); do
    if [ -f "$dir/ready" ]; then
      ms=$(( ($(date +%s%N) - t0) / 1000000 ))
      echo "testcluster: ready in ${ms} ms (Kubernetes ${K8S_MINOR:-1.36}); kubeconfig $dir/kubeconfig"
      exit 0
    fi
    if ! running; then
      echo "testcluster: the control plane exited during start-up; last lines of $dir/testcluster.log:" >&2
      tail -40 "$dir/testcluster.log" >&2
      exit 1
    fi
    sleep 0.2
  done
  echo "testcluster: not ready after 180 s; last lines of $dir/testcluster.log:" >&2
  tail -40 "$dir/testcluster.log" >&2
  exit 1
  ;;
stop)
  if running; then
    pid=$(cat "$dir/pid")
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 150); do alive "$pid" || break; sleep 0.2; done
    if alive "$pid"; then echo "testcluster: pid $pid did not stop, killing" >&2; kill -KILL "$pid" 2>/dev/null || true; fi
    echo "testcluster: stopped"
  fi
  rm -f "$dir/pid" "$dir/ready"
  ;;
status)
  if running && [ -f "$dir/ready" ]; then echo "running: kubeconfig $dir/kubeconfig"; else echo "not running"; exit 1; fi
  ;;
*)
  sed -n '2,12p' "$0" >&2
  exit 2
  ;;
esac
