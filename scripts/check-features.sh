#!/usr/bin/env bash
# Compile-checks the library with every feature set that matters, lints included: none of the
# optional parts (just `latest`), each optional part alone, the defaults, and all of them (the
# last one with the tests and examples too). Each set is `cargo clippy ... -- -D warnings`,
# which type-checks like `cargo check` and fails on any compiler or clippy warning (or
# `cargo check`, failing on any warning, where clippy is not installed).
#
# `--lib` matters: the crate's dev-dependency on itself turns features on for any build of
# tests or examples, so only a library-only build sees the sets as written here.
# Warm (nothing changed) it takes seconds; after a change in the library, each set checks
# the crate again (a few minutes on 2 cores).
#
#   scripts/check-features.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
all=latest,gzip,remote,runtime,compact,protobuf,derive,metrics
sets=(
  "minimal|--lib --no-default-features --features latest"
  "gzip|--lib --no-default-features --features latest,gzip"
  "remote|--lib --no-default-features --features latest,remote"
  "runtime|--lib --no-default-features --features latest,runtime"
  "compact|--lib --no-default-features --features latest,compact"
  "protobuf|--lib --no-default-features --features latest,protobuf"
  "derive|--lib --no-default-features --features latest,derive"
  "metrics|--lib --no-default-features --features latest,metrics"
  "default|--lib --features latest"
  "all|--all-targets --features $all"
)
# Where clippy is not installed (Debian's cargo), `cargo check`, failing on any warning.
if cargo clippy --version >/dev/null 2>&1; then
  lint() { cargo clippy -q -p k8s-client "$@" -- -D warnings; }
else
  echo "check-features: cargo clippy is not installed; cargo check only" >&2
  lint() {
    local log status=0
    log=$(cargo check -q -p k8s-client "$@" 2>&1) || status=$?
    [ -z "$log" ] || echo "$log" >&2
    [ $status -eq 0 ] && ! grep -q '^warning' <<<"$log"
  }
fi
for set in "${sets[@]}"; do
  name=${set%%|*}
  read -r -a args <<<"${set#*|}"
  echo "check-features: $name (${args[*]})"
  if ! lint "${args[@]}"; then
    echo "check-features: the '$name' set does not build cleanly" >&2
    exit 1
  fi
done
echo "check-features: every set builds without warnings"
