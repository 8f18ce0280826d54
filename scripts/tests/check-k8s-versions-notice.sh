#!/usr/bin/env bash
# Checks scripts/check-k8s-versions.sh's notice of a newer Kubernetes minor on the Go module
# proxy against a local stand-in for the proxy (python3 http.server; no network needed): a
# newer minor is announced with the add-k8s-minor.sh command, the same minor is not, and an
# unreachable proxy or GOPROXY=off is a notice that exits 0. Takes about a second.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
dir=$(mktemp -d "${TMPDIR:-/tmp}/check-k8s-versions-notice.XXXXXX")
server=""
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT
fail() { echo "check-k8s-versions-notice: FAIL: $*" >&2; exit 1; }
newest=$(cd "$root/testcluster" && ls go.1.*.mod | sed 's/go\.\(.*\)\.mod/\1/' | sort -V | tail -1)
next=1.$(( ${newest#1.} + 1 ))
mkdir -p "$dir/www/k8s.io/kubernetes/@v"
list=$dir/www/k8s.io/kubernetes/@v/list
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 -m http.server "$port" --bind 127.0.0.1 --directory "$dir/www" >/dev/null 2>&1 &
server=$!
for _ in $(seq 1 50); do curl -fs -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done
notice() { GOPROXY_URL=$1 "$root/scripts/check-k8s-versions.sh" --notice-only; }

printf 'v%s.0\nv%s.1\nv%s.0-rc.1\n' "$newest" "$newest" "1.$(( ${newest#1.} + 2 ))" >"$list"
out=$(notice "http://127.0.0.1:$port") || fail "exit status $? with no newer minor"
case "$out" in *"add it with"*) fail "announced a minor with only a pre-release newer: $out" ;; esac
printf 'v%s.0\nv%s.2\nv%s.0\n' "$newest" "$next" "$next" >"$list"
out=$(notice "http://127.0.0.1:$port") || fail "exit status $? with a newer minor"
want="Kubernetes $next is on the module proxy; add it with scripts/add-k8s-minor.sh $next"
case "$out" in *"$want"*) ;; *) fail "expected '$want', got: $out" ;; esac
out=$(notice "http://127.0.0.1:1") || fail "exit status $? with the proxy unreachable"
case "$out" in *"could not reach"*) ;; *) fail "no offline notice: $out" ;; esac
out=$(GOPROXY=off "$root/scripts/check-k8s-versions.sh" --notice-only) || fail "exit status $? with GOPROXY=off"
case "$out" in *"no module proxy"*) ;; *) fail "no notice with GOPROXY=off: $out" ;; esac
echo "check-k8s-versions-notice: ok (newer $next announced; same minor, unreachable proxy and GOPROXY=off are notices)"
