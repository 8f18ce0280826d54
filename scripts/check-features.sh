#!/usr/bin/env bash
# Compile-checks the library with every feature set that matters, lints included: none of the
# optional parts (just `latest`), each optional part alone, the defaults, and all of them.
# Each set is `cargo clippy ... -- -D warnings`, which type-checks like `cargo check` and
# fails on any compiler or clippy warning (or `cargo check`, failing on any warning, where
# clippy is not installed). The sets with no optional part, the defaults and all of them
# check the tests and examples too (tests of an optional part name it in
# `required-features`; the others must build without it). Then the unit tests run with no
# optional part at all (the defaults and all parts are tested by scripts/test.sh).
#
# Tests and examples get exactly the features asked for here: the crate has no
# dev-dependency on itself, and testsupport uses it without default features.
# Warm (nothing changed) it takes seconds; after a change in the library, each set checks
# the crate again (a few minutes on 2 cores).
#
#   scripts/check-features.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
all=latest,gzip,remote,runtime,compact,protobuf,derive,metrics
sets=(
  "minimal|--all-targets --no-default-features --features latest"
  "gzip|--lib --no-default-features --features latest,gzip"
  "remote|--lib --no-default-features --features latest,remote"
  "runtime|--lib --no-default-features --features latest,runtime"
  "compact|--lib --no-default-features --features latest,compact"
  "protobuf|--lib --no-default-features --features latest,protobuf"
  "derive|--lib --no-default-features --features latest,derive"
  "metrics|--lib --no-default-features --features latest,metrics"
  "default|--all-targets --features latest"
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
echo "check-features: unit tests with no optional part"
if ! cargo test -q -p k8s-client --lib --no-default-features --features latest; then
  echo "check-features: the unit tests fail without the optional parts" >&2
  exit 1
fi
