#!/usr/bin/env bash
# Builds the documentation of every workspace crate with every optional part of k8s-client
# and fails on any rustdoc warning (a broken intra-doc link in the API docs or in the guide,
# k8s-client/guide/*.md rendered as `k8s_client::guide`, an unclosed HTML tag, ...).
# The guide's examples run as doc tests: `cargo test --doc -p k8s-client --features
# protobuf,compact,derive,metrics`.
set -euo pipefail
cd "$(dirname "$0")/.."
# Cargo decides whether a crate's docs are stale from the files inside its package
# directory; the guide's chapters live outside k8s-client/, so a change to them alone would
# leave stale docs passing. A cfg named after their content makes such a change rebuild the
# workspace's docs (only these: --no-deps).
guide=$(cat k8s-client/guide/*.md | sha256sum | cut -c1-16)
RUSTDOCFLAGS="-D warnings --cfg k8s_client_guide_${guide}" cargo doc --workspace --no-deps \
    --features k8s-client/protobuf,k8s-client/compact,k8s-client/derive,k8s-client/metrics
