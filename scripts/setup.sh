#!/usr/bin/env bash
# Installs what the tests need on a brand-new machine, when it is missing:
# Go (>= 1.26, for the control plane), Rust (cargo), curl, and a C compiler (for ring).
set -euo pipefail
need_apt=()
command -v curl >/dev/null || need_apt+=(curl ca-certificates)
command -v cc >/dev/null || need_apt+=(gcc libc6-dev)
command -v git >/dev/null || need_apt+=(git)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing ${need_apt[*]}" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}"
fi
if ! command -v cargo >/dev/null; then
  [ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
fi
if ! command -v cargo >/dev/null; then
  echo "setup: installing Rust from Debian (cargo, rustc)" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq cargo rustc
fi
gover=$(go env GOVERSION 2>/dev/null || echo none)
case "$gover" in
  go1.2[6-9]*|go1.[3-9]*) ;;
  *)
    echo "setup: Go >= 1.26 is required to build the control plane (found: $gover)." >&2
    echo "setup: install it from the Go module proxy: go install golang.org/dl/go1.26.0@latest is not possible here;" >&2
    echo "setup: use the machine's toolchain or Debian's golang-1.26 package if available." >&2
    if apt-cache policy golang-1.26-go 2>/dev/null | grep -q Candidate; then
      apt-get install -y -qq golang-1.26-go && export PATH=/usr/lib/go-1.26/bin:$PATH
    else
      exit 1
    fi
    ;;
esac
echo "setup: $(go version), $(cargo --version)" >&2
