#!/usr/bin/env bash
# Builds etcd, kube-apiserver and kube-controller-manager as separate binaries for one
# Kubernetes minor, into a directory laid out like the output of controller-runtime's
# `setup-envtest` (what KUBEBUILDER_ASSETS names), and prints that directory on stdout.
# It uses the same Go modules as the harness (testcluster/go.<minor>.mod), so the packages
# compiled for scripts/build-testcluster.sh come from Go's build cache and mostly only the
# linking is new. Cached like the harness, keyed by the module files, this script and the Go
# version.
#
# Usage: scripts/build-envtest-assets.sh [MINOR]   (MINOR: 1.36 default; or $K8S_MINOR)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
minor=${1:-${K8S_MINOR:-1.36}}
src="$root/testcluster"
modfile="$src/go.$minor.mod"
[ -f "$modfile" ] || { echo "build-envtest-assets: no $modfile" >&2; exit 2; }
export GOTOOLCHAIN=local GOFLAGS=-mod=mod
gover=$(go env GOVERSION)
kver=$(grep -oE "k8s.io/kubernetes v1\.[0-9]+\.[0-9]+" "$modfile" | head -1 | cut -d" " -f2)
[ -n "$kver" ] || { echo "build-envtest-assets: no 'require k8s.io/kubernetes' line in $modfile" >&2; exit 2; }
key=$(cat "$modfile" "${modfile%.mod}.sum" "$0" | { cat; echo "$gover"; } | sha256sum | cut -c1-16)
cache=${K8S_CLIENT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/k8s-client}
out="$cache/envtest/$minor-$key"
if [ -x "$out/kube-apiserver" ] && [ -x "$out/etcd" ] && [ -x "$out/kube-controller-manager" ]; then
  echo "$out"
  exit 0
fi
echo "build-envtest-assets: building etcd, kube-apiserver, kube-controller-manager $kver ($gover)" >&2
start=$(date +%s)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# A module of our own with the harness's requirements and a two-line etcd main.
cp "$modfile" "$work/go.mod"
cp "${modfile%.mod}.sum" "$work/go.sum"
mkdir -p "$work/etcd"
cat >"$work/etcd/main.go" <<'GO'
// Command etcd is etcd's own main, built from the etcd server module the harness uses.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
vpkg=k8s.io/component-base/version
kmaj=${kver#v}; kmin=${kmaj#*.}; kmaj=${kmaj%%.*}; kmin=${kmin%%.*}
ldver="-X $vpkg.gitVersion=$kver -X $vpkg.gitMajor=$kmaj -X $vpkg.gitMinor=$kmin -X $vpkg.gitTreeState=clean -X $vpkg.buildDate=1970-01-01T00:00:00Z"
mkdir -p "$out.tmp"
(
  cd "$work"
  go build -trimpath -ldflags="-s -w" -o "$out.tmp/etcd" ./etcd
  for cmd in kube-apiserver kube-controller-manager; do
    go build -trimpath -ldflags="-s -w $ldver" -o "$out.tmp/$cmd" "k8s.io/kubernetes/cmd/$cmd"
  done
) >&2
rm -rf "$out"
mv "$out.tmp" "$out"
for old in "$cache/envtest/$minor"-*; do
  [ "$old" = "$out" ] || rm -rf "$old"
done
echo "build-envtest-assets: built in $(( $(date +%s) - start ))s: $out" >&2
echo "$out"
