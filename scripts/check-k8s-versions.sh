#!/usr/bin/env bash
# Compile-checks the library with the `protobuf` feature against the Kubernetes versions
# k8s-openapi 0.29 offers (1.33-1.37): versions with generated codecs (1.33, 1.36; 1.37 is the
# workspace's own test build) must build, and an uncovered one (1.34; 1.35 is the same
# mechanism) must stop with the crate's compile_error naming the version. Each version has a
# target directory of its own, so a second run checks nothing again.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
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
