#!/usr/bin/env bash
# Runs the seed walkthrough end to end against a cluster, printing what it does.
#
#   scripts/demo.sh                       # starts a local test control plane, runs, stops it
#   scripts/demo.sh --kubeconfig FILE     # uses your cluster (current context of FILE)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
kubeconfig=""
if [ "${1:-}" = "--kubeconfig" ]; then kubeconfig=${2:?--kubeconfig needs a file}; fi
if [ -z "$kubeconfig" ]; then
  dir="$root/.cache/testcluster-demo"
  trap '"$root/scripts/testcluster.sh" stop "$dir" >/dev/null || true' EXIT
  "$root/scripts/testcluster.sh" start "$dir" --controller-manager --kwok
  kubeconfig="$dir/kubeconfig"
fi
KUBECONFIG="$kubeconfig" cargo run -q -p k8s-client --example demo
