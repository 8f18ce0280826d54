#!/usr/bin/env bash
# Ready to publish: packages every crate meant for crates.io the way `cargo publish` would
# (k8s-client, k8s-client-derive, k8s-client-fake, k8s-client-testenv; testsupport is
# `publish = false`), building each package from its .crate file against the others'
# packaged sources, then checks the workspace with the MSRV the README and Cargo.toml state
# (rust-version), installing that toolchain with rustup when it is missing.
#
#   scripts/check-publish.sh [--allow-dirty]   (CI runs it on a clean clone)
#
# k8s-openapi needs one Kubernetes version feature to build; the packaged crates leave the
# choice to the application, so the verification builds get it from
# K8S_OPENAPI_ENABLED_VERSION (k8s-openapi's own switch), as docs.rs gets it from
# [package.metadata.docs.rs]. The MSRV build of the workspace gets `latest` from its
# dev-dependencies, as the tests do.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
target=${CARGO_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/k8s-client/cargo-target}
echo "check-publish: cargo package (with verification builds)" >&2
K8S_OPENAPI_ENABLED_VERSION=${K8S_OPENAPI_ENABLED_VERSION:-1.36} \
  CARGO_TARGET_DIR=$target/publish cargo package --workspace --exclude k8s-client-testsupport \
  --locked "$@"
for crate in k8s-client k8s-client-derive k8s-client-fake k8s-client-testenv; do
  file=$(ls "$target/publish/package/$crate"-[0-9]*.crate 2>/dev/null | tail -1)
  [ -n "$file" ] || { echo "check-publish: no package for $crate" >&2; exit 1; }
  echo "check-publish: $(basename "$file"): $(du -k "$file" | cut -f1) KiB" >&2
done

msrv=$(sed -n 's/^rust-version = "\(.*\)"/\1/p' Cargo.toml)
[ -n "$msrv" ] || { echo "check-publish: no rust-version in Cargo.toml" >&2; exit 1; }
if ! rustup run "$msrv" rustc --version >/dev/null 2>&1; then
  echo "check-publish: installing Rust $msrv (the MSRV) with rustup" >&2
  if ! rustup toolchain install "$msrv" --profile minimal >&2 \
      && ! { sleep 5; rustup toolchain install "$msrv" --profile minimal >&2; }; then
    echo "check-publish: FAILED: this machine cannot install Rust $msrv, so the MSRV is not checked" >&2
    exit 1
  fi
fi
echo "check-publish: building the workspace with Rust $msrv (the MSRV)" >&2
CARGO_TARGET_DIR=$target/msrv cargo "+$msrv" check --workspace --locked --all-targets \
  --features k8s-client/protobuf,k8s-client/compact,k8s-client/derive,k8s-client/metrics
echo "check-publish: ok (packages verified; Rust $msrv builds every target)" >&2
