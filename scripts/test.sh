#!/usr/bin/env bash
# Runs every test: builds what is missing, starts the test control plane, runs
# `cargo test --workspace` against it with every optional part turned on (the default
# features plus `protobuf`, `compact`, `derive` and `metrics`), then the unit tests and the JSON request path
# again with the default features only (as users build the crate: no protobuf), stops the
# control plane, and exits with the tests' status.
#
#   scripts/test.sh                 # newest supported Kubernetes (1.36)
#   K8S_MINOR=1.33 scripts/test.sh  # oldest supported Kubernetes
# Extra arguments go to the first cargo test (e.g. `scripts/test.sh --test api_crud`); the
# default-features pass runs only when there are none.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
minor=${K8S_MINOR:-1.36}
dir=${K8S_TESTCLUSTER_DIR:-$root/.cache/testcluster-test-$minor}
"$root/scripts/tests/run.sh" # the scripts themselves (stop with a zombie pid, the new-minor notice): seconds
"$root/scripts/testcluster.sh" stop "$dir" >/dev/null 2>&1 || true
trap '"$root/scripts/testcluster.sh" stop "$dir" || true' EXIT
K8S_MINOR=$minor "$root/scripts/testcluster.sh" start "$dir" --controller-manager --kwok
export K8S_CLIENT_TEST_KUBECONFIG="$dir/kubeconfig"
# Tests that need a private control plane (restarts, compaction) start this binary themselves.
K8S_CLIENT_TESTCLUSTER_BIN=$(K8S_MINOR=$minor "$root/scripts/build-testcluster.sh")
export K8S_CLIENT_TESTCLUSTER_BIN
status=0
cargo test --workspace --no-fail-fast --features k8s-client/protobuf,k8s-client/compact,k8s-client/derive,k8s-client/metrics "$@" \
  || status=$?
if [ $# -eq 0 ]; then
  # The default feature set: every request is JSON (no protobuf), no compact caches.
  echo "test.sh: the default feature set (unit tests, CRUD, list/watch, local request path)"
  cargo test -p k8s-client --no-fail-fast --lib --test api_crud --test api_list_watch \
    --test rest_local_server --test client_service || status=$?
fi
if [ $status -ne 0 ]; then
  echo "test.sh: tests failed (status $status); control plane log: $dir/testcluster.log" >&2
fi
exit $status
