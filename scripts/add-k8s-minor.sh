#!/usr/bin/env bash
# Adds a Kubernetes minor that has appeared on the Go module proxy, in one command:
#
#   scripts/add-k8s-minor.sh 1.37             # the newest 1.37.x on the proxy
#   scripts/add-k8s-minor.sh 1.37.2           # that exact release
#   scripts/add-k8s-minor.sh --dry-run 1.37   # only the module files, into a temporary directory
#
# Steps: finds the newest 1.X.Y on the module proxy; writes testcluster/go.1.X.mod
# (testcluster/gen-gomod.sh) and go.1.X.sum (go mod tidy); builds that control plane
# (scripts/build-testcluster.sh: a cold build takes about 15 minutes on 2 cores); captures
# the real server's discovery and OpenAPI snapshots for the in-memory server
# (scripts/capture-snapshots.sh -> fake/snapshots/1.X/); runs the smoke suite on it and adds
# its column to the compatibility matrix (scripts/compat-matrix.sh 1.X -> docs/compatibility.md
# and the README's section). Then it prints what a person must still decide. It commits
# nothing. With --dry-run it does the first two steps in a temporary directory (a copy of
# testcluster/), prints the result and changes nothing in the repository.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dry=no
keep=no
args=()
for a in "$@"; do
  case "$a" in
    --dry-run) dry=yes ;;
    --keep) keep=yes ;;   # with --dry-run: keep the temporary directory (for inspection)
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    -*) echo "add-k8s-minor: unknown option $a" >&2; exit 2 ;;
    *) args+=("$a") ;;
  esac
done
[ ${#args[@]} -eq 1 ] || { echo "usage: scripts/add-k8s-minor.sh [--dry-run] 1.X[.Y]" >&2; exit 2; }
want=${args[0]#v}
[[ $want =~ ^1\.[0-9]+(\.[0-9]+)?$ ]] || { echo "add-k8s-minor: '$want' is not 1.X or 1.X.Y" >&2; exit 2; }
minor=$(echo "$want" | cut -d. -f1,2)
export GOTOOLCHAIN=local GOFLAGS=-mod=mod
proxy=${GOPROXY_URL:-$(go env GOPROXY | cut -d, -f1)}
case "$proxy" in http*) ;; *) proxy=https://proxy.golang.org ;; esac

# The release: the newest 1.X.Y (no pre-releases) the proxy lists, or the one asked for.
if ! list=$(curl -fsS --max-time 30 "$proxy/k8s.io/kubernetes/@v/list"); then
  echo "add-k8s-minor: cannot list k8s.io/kubernetes on $proxy" >&2; exit 1
fi
if [ "$want" = "$minor" ]; then
  version=$(echo "$list" | { grep -E "^v$minor\.[0-9]+$" || true; } | sort -V | tail -1 | sed 's/^v//')
  [ -n "$version" ] || { echo "add-k8s-minor: $proxy has no release of Kubernetes $minor yet (only pre-releases or nothing)" >&2; exit 1; }
else
  version=$want
  echo "$list" | grep -qx "v$version" || { echo "add-k8s-minor: $proxy does not list k8s.io/kubernetes v$version" >&2; exit 1; }
fi
echo "add-k8s-minor: Kubernetes $version (newest $minor release on $proxy)"

if [ "$dry" = yes ]; then
  work=$(mktemp -d "${TMPDIR:-/tmp}/add-k8s-minor-$minor.XXXXXX")
  [ "$keep" = yes ] || trap 'rm -rf "$work"' EXIT
  cp "$root"/testcluster/*.go "$root"/testcluster/*.yaml "$root"/testcluster/go.mod "$root/testcluster/gen-gomod.sh" "$work/"
else
  work=$root/testcluster
  if [ -f "$work/go.$minor.mod" ]; then
    echo "add-k8s-minor: testcluster/go.$minor.mod exists already ($(head -1 "$work/go.$minor.mod")); remove it first to regenerate" >&2
    exit 1
  fi
fi

# 1. Module files: gen-gomod.sh writes go.<minor>.mod beside itself; tidy adds every module
# the control plane needs, at the versions that release pins, and writes go.<minor>.sum.
"$work/gen-gomod.sh" "$version" >/dev/null
t0=$(date +%s)
if ! (cd "$work" && go mod tidy -modfile="go.$minor.mod" >"$work/tidy.log" 2>&1); then
  echo "add-k8s-minor: go mod tidy failed for go.$minor.mod:" >&2; tail -20 "$work/tidy.log" >&2
  [ "$dry" = yes ] || rm -f "$work/go.$minor.mod" "$work/go.$minor.sum"
  exit 1
fi
rm -f "$work/tidy.log"
mod=$work/go.$minor.mod
echo "add-k8s-minor: wrote ${mod#"$root"/} and go.$minor.sum (tidy: $(( $(date +%s) - t0 ))s): $(grep -c '=> ' "$mod") staging modules replaced, $(grep -c . "$work/go.$minor.sum") sum lines, $(grep -m1 '^go ' "$mod"), etcd $(grep -oE 'go.etcd.io/etcd/server/v3 v[0-9.]+' "$mod" | cut -d' ' -f2)"
goneed=$(grep -m1 '^go ' "$mod" | cut -d' ' -f2)
gohave=$(go env GOVERSION | sed 's/^go//')
if [ "$(printf '%s\n%s\n' "$goneed" "$gohave" | sort -V | head -1)" != "$goneed" ]; then
  echo "add-k8s-minor: Kubernetes $version needs Go $goneed, this machine has $gohave: update Go (scripts/setup.sh) before building" >&2
  [ "$dry" = yes ] || exit 1
fi
if [ "$dry" = yes ]; then
  echo "add-k8s-minor: dry run: the module files are in $work$([ "$keep" = yes ] || echo ' (removed on exit)'); next would be:"
  echo "  scripts/build-testcluster.sh $minor; scripts/capture-snapshots.sh $minor; scripts/compat-matrix.sh $minor"
  exit 0
fi

# 2. The control plane (cached afterwards), 3. the in-memory server's snapshots, 4. the matrix.
scripts=$root/scripts
"$scripts/build-testcluster.sh" "$minor" >/dev/null
"$scripts/capture-snapshots.sh" "$minor"
status=0
"$scripts/compat-matrix.sh" "$minor" || status=$?

newest=$(cd "$root/testcluster" && ls go.1.*.mod | sed 's/go\.\(.*\)\.mod/\1/' | sort -V | tail -1)
oldest=$(cd "$root/testcluster" && ls go.1.*.mod | sed 's/go\.\(.*\)\.mod/\1/' | sort -V | head -1)
cat <<MSG

add-k8s-minor: Kubernetes $version added: testcluster/go.$minor.mod/.sum, fake/snapshots/$minor/,
its column in docs/compatibility.md and the README (smoke suite: $([ $status -eq 0 ] && echo passed || echo "FAILED, see .cache/compat/$minor.log")).
Review and commit them. A person must still decide:
  - whether the newest supported minor moves to $minor: the default K8S_MINOR (now 1.36) in
    scripts/test.sh, scripts/testcluster.sh, scripts/build-testcluster.sh,
    scripts/build-envtest-assets.sh, and the full-suite runs in .ci/run (newest and oldest);
  - whether the oldest supported minor ($oldest) is dropped (remove its go.$oldest.mod/.sum and
    snapshots, move 'K8S_MINOR=$oldest' in .ci/run and the README);
  - k8s-openapi: whether its release has a v1_${minor#1.} feature (k8s-client/Cargo.toml's
    version features, 'latest'), and the protobuf codecs (codegen/gen_protobuf.py,
    k8s-client/src/api/protobuf/mod.rs: which schemas back which version feature;
    scripts/check-k8s-versions.sh's expectations);
  - the in-memory server's default minor (fake/, FakeServer::new) and its conformance
    suite's known differences on $minor (cargo test -p k8s-client-fake --test conformance);
  - the README's text naming 1.33 and 1.36 (newest: $newest).
MSG
exit $status
