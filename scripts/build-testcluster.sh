#!/usr/bin/env bash
# Builds the test control plane (testcluster: etcd + kube-apiserver + kube-controller-manager
# in one binary) for one Kubernetes minor, and prints the binary's path on stdout.
# Builds are cached, keyed by the module files, our Go sources and the Go version, so a
# second call is instant. A cold build takes many minutes on 2 cores and prints progress.
#
# Usage: scripts/build-testcluster.sh [MINOR]   (MINOR: 1.36 default, or 1.33; or $K8S_MINOR)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
minor=${1:-${K8S_MINOR:-1.36}}
src="$root/testcluster"
modfile="$src/go.$minor.mod"
[ -f "$modfile" ] || { echo "build-testcluster: no $modfile (supported: $(cd "$src" && ls go.1.*.mod | sed 's/go\.\(.*\)\.mod/\1/' | tr '\n' ' '))" >&2; exit 2; }
export GOTOOLCHAIN=local GOFLAGS=-mod=mod
gover=$(go env GOVERSION)
kver=$(grep -oE "k8s.io/kubernetes v1\.[0-9]+\.[0-9]+" "$modfile" | head -1 | cut -d" " -f2)
[ -n "$kver" ] || { echo "build-testcluster: no 'require k8s.io/kubernetes' line in $modfile" >&2; exit 2; }
key=$(cat "$modfile" "${modfile%.mod}.sum" "$src"/*.go "$src"/*.yaml "$0" | { cat; echo "$gover"; } | sha256sum | cut -c1-16)
cache=${K8S_CLIENT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/k8s-client}
out="$cache/testcluster/$minor-$key/testcluster"
if [ -x "$out" ]; then
  echo "$out"
  exit 0
fi
mkdir -p "$(dirname "$out")"
echo "build-testcluster: cold build of Kubernetes $minor control plane ($gover); this takes a while on $(nproc) cores" >&2
start=$(date +%s)
# Stamp the Kubernetes version the way Kubernetes' own build does, so /version is truthful.
vpkg=k8s.io/component-base/version
kmaj=${kver#v}; kmin=${kmaj#*.}; kmaj=${kmaj%%.*}; kmin=${kmin%%.*}
ldver="-X $vpkg.gitVersion=$kver -X $vpkg.gitMajor=$kmaj -X $vpkg.gitMinor=$kmin -X $vpkg.gitTreeState=clean -X $vpkg.buildDate=1970-01-01T00:00:00Z"
(
  cd "$src"
  echo "build-testcluster: downloading modules" >&2
  go mod download -modfile="$modfile" >&2
  # Print progress: go build -v names each package as it is compiled.
  go build -modfile="$modfile" -trimpath -ldflags="-s -w $ldver" -v -o "$out.tmp" . 2>&1 \
    | { n=0; while IFS= read -r line; do
          n=$((n + 1))
          case "$line" in *.go:[0-9]*|go:\ *|*"cannot find"*) echo "$line" >&2 ;; esac
          if [ $((n % 200)) -eq 0 ]; then
            echo "build-testcluster: $n packages compiled ($(( $(date +%s) - start ))s)" >&2
          fi
        done; }
)
mv "$out.tmp" "$out"
# Keep one build per minor: older keys are dead weight (about 120 MB each).
for old in "$cache/testcluster/$minor"-*; do
  [ "$old" = "$(dirname "$out")" ] || rm -rf "$old"
done
echo "build-testcluster: built in $(( $(date +%s) - start ))s: $out" >&2
echo "$out"
