#!/usr/bin/env bash
# Runs every test: builds what is missing, starts the test control plane, runs
# `cargo test --workspace` against it, stops it, and exits with the tests' status.
#
#   scripts/test.sh                 # newest supported Kubernetes (1.36)
#   K8S_MINOR=1.33 scripts/test.sh  # oldest supported Kubernetes
# Extra arguments go to cargo test (e.g. `scripts/test.sh --test api_verbs`).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
minor=${K8S_MINOR:-1.36}
dir=${K8S_TESTCLUSTER_DIR:-$root/.cache/testcluster-test-$minor}
"$root/scripts/testcluster.sh" stop "$dir" >/dev/null 2>&1 || true
trap '"$root/scripts/testcluster.sh" stop "$dir" || true' EXIT
K8S_MINOR=$minor "$root/scripts/testcluster.sh" start "$dir" --controller-manager --kwok
export K8S_CLIENT_TEST_KUBECONFIG="$dir/kubeconfig"
# Tests that need a private control plane (restarts, compaction) start this binary themselves.
K8S_CLIENT_TESTCLUSTER_BIN=$(K8S_MINOR=$minor "$root/scripts/build-testcluster.sh")
export K8S_CLIENT_TESTCLUSTER_BIN
status=0
cargo test --workspace --no-fail-fast "$@" || status=$?
if [ $status -ne 0 ]; then
  echo "test.sh: tests failed (status $status); control plane log: $dir/testcluster.log" >&2
fi
exit $status
