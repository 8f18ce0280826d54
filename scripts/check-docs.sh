#!/usr/bin/env bash
# Builds the documentation of every workspace crate with every optional part of k8s-client
# and fails on any rustdoc warning (a broken intra-doc link in the API docs or in the guide,
# docs/guide/*.md rendered as `k8s_client::guide`, an unclosed HTML tag, ...).
# The guide's examples run as doc tests: `cargo test --doc -p k8s-client --features
# protobuf,compact,derive,metrics`.
set -euo pipefail
cd "$(dirname "$0")/.."
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps \
    --features k8s-client/protobuf,k8s-client/compact,k8s-client/derive,k8s-client/metrics
