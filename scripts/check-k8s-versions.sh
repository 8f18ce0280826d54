#!/usr/bin/env bash
# Compile-checks the library with the `protobuf` feature against the Kubernetes versions
# k8s-openapi 0.29 offers (1.33-1.37): versions with generated codecs (1.33, 1.36; 1.37 is the
# workspace's own test build) must build, and an uncovered one (1.34; 1.35 is the same
# mechanism) must stop with the crate's compile_error naming the version. Each version has a
# target directory of its own, so a second run checks nothing again.
#
# First it asks the Go module proxy whether a Kubernetes minor newer than the newest
# testcluster/go.1.X.mod has been released, and if so prints how to add it
# (scripts/add-k8s-minor.sh). That is a notice, never a failure: without network (or with
# GOPROXY=off) it says it could not ask and goes on.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

newer_minor_notice() {
  local newest proxy list latest
  newest=$(cd testcluster && ls go.1.*.mod 2>/dev/null | sed 's/go\.\(.*\)\.mod/\1/' | sort -V | tail -1)
  [ -n "$newest" ] || return 0
  proxy=${GOPROXY_URL:-$(go env GOPROXY 2>/dev/null | tr ',|' '\n\n' | grep -m1 '^http' || true)}
  if [ -z "$proxy" ]; then
    echo "check-k8s-versions: notice: no module proxy configured (GOPROXY=$(go env GOPROXY 2>/dev/null || echo unset)); not checking for a Kubernetes minor newer than $newest"
    return 0
  fi
  if ! list=$(curl -fsS --connect-timeout 5 --max-time 15 "$proxy/k8s.io/kubernetes/@v/list" 2>/dev/null); then
    echo "check-k8s-versions: notice: could not reach $proxy (offline?); not checking for a Kubernetes minor newer than $newest"
    return 0
  fi
  latest=$(echo "$list" | grep -E '^v1\.[0-9]+\.[0-9]+$' | sed 's/^v//' | cut -d. -f1,2 | sort -uV | tail -1)
  if [ -n "$latest" ] && [ "$latest" != "$newest" ] && [ "$(printf '%s\n%s\n' "$newest" "$latest" | sort -V | tail -1)" = "$latest" ]; then
    echo "check-k8s-versions: notice: Kubernetes $latest is on the module proxy; add it with scripts/add-k8s-minor.sh $latest"
  else
    echo "check-k8s-versions: the newest Kubernetes minor on the module proxy is ${latest:-unknown}; testcluster has up to $newest"
  fi
}
newer_minor_notice || true
# `--notice-only`: just that (scripts/tests/check-k8s-versions-notice.sh checks it).
[ "${1:-}" = --notice-only ] && exit 0
targets=${CARGO_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/k8s-client/cargo-target}/k8s-versions
for v in 1.33 1.34 1.36; do
  target=$targets/$v
  log=$(mktemp)
  if K8S_OPENAPI_ENABLED_VERSION=$v CARGO_TARGET_DIR=$target \
      cargo check -q -p k8s-client --lib --features protobuf >"$log" 2>&1; then
    built=yes
  else
    built=no
  fi
  case "$v:$built" in
    1.33:yes|1.36:yes) echo "check-k8s-versions: $v builds with protobuf codecs" ;;
    1.34:no|1.35:no)
      want="v1_${v#1.} is not covered"
      if grep -q "$want" "$log"; then
        echo "check-k8s-versions: $v stops with: $want"
      else
        echo "check-k8s-versions: $v failed without the expected compile_error ($want):" >&2
        cat "$log" >&2; rm -f "$log"; exit 1
      fi ;;
    *)
      echo "check-k8s-versions: $v: unexpected outcome (built: $built)" >&2
      cat "$log" >&2; rm -f "$log"; exit 1 ;;
  esac
  rm -f "$log"
done
