#!/usr/bin/env bash
# Informer memory benchmark, ours vs kube-rs and client-go, on identical data in one run: starts
# the test control plane (or uses --kubeconfig FILE), creates 10,000 realistic Pods once, then
# runs each client in a fresh process (three rounds, median) and prints a Markdown table with
# ratios. client-go is the Go module in bench/go (built once into ~/.cache/k8s-client/bench-go,
# GOTOOLCHAIN=local), with JSON and with protobuf.
#
# Then a decode benchmark: the namespace's Pod list is saved once as JSON and as protobuf
# (bench/go's `decode --fetch`) and each client decodes the same bodies (src/bin/decode.rs,
# bench/go/cmd/decode), three rounds, median throughput.
#
#   bench/run.sh [--kubeconfig FILE] [--pods N]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
kubeconfig=""; pods=10000
while [ $# -gt 0 ]; do
  case "$1" in
    --kubeconfig) kubeconfig=$2; shift ;;
    --pods) pods=$2; shift ;;
    *) echo "usage: bench/run.sh [--kubeconfig FILE] [--pods N]" >&2; exit 2 ;;
  esac
  shift
done
bodies=$(mktemp -d)
out=$(mktemp)
cleanup() {
  rm -rf "$bodies" "$out"
  if [ -n "${dir:-}" ]; then "$root/scripts/testcluster.sh" stop "$dir" >/dev/null || true; fi
}
trap cleanup EXIT
if [ -z "$kubeconfig" ]; then
  dir="$root/.cache/testcluster-bench"
  "$root/scripts/testcluster.sh" start "$dir" >&2
  kubeconfig="$dir/kubeconfig"
fi
export KUBECONFIG=$kubeconfig
target=${CARGO_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/k8s-client/bench-target}
(cd "$root/bench" && CARGO_TARGET_DIR=$target cargo build --release --bin informer_memory --bin decode >&2)
bin="$target/release/informer_memory"
gobin=${XDG_CACHE_HOME:-$HOME/.cache}/k8s-client/bench-go
mkdir -p "$gobin"
(cd "$root/bench/go" && GOTOOLCHAIN=local go build -trimpath -o "$gobin/" ./cmd/... >&2)
ns=bench-mem-$pods
"$bin" --mode seed --namespace "$ns" --pods "$pods" >&2
for round in 1 2 3; do
  for mode in ours kube-rs ours-metadata; do
    "$bin" --mode "$mode" --namespace "$ns" >>"$out"
    "$bin" --mode "$mode" --namespace "$ns" --strip >>"$out"
  done
  for proto in "" --protobuf; do
    "$gobin/informer-memory" --namespace "$ns" $proto >>"$out"
    "$gobin/informer-memory" --namespace "$ns" $proto --strip >>"$out"
  done
done
python3 - "$out" "$pods" <<'PY'
import json, statistics, sys, datetime
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
def med(client, strip, field):
    vals = [r[field] for r in rows if r["client"] == client and r["strip_managed_fields"] == strip]
    return statistics.median(vals) if vals else None
print(f"Informer memory, {sys.argv[2]} realistic Pods, {datetime.date.today()} (median of 3, live heap bytes per cached Pod)\n")
print("| informer | managedFields | bytes/Pod | vs kube-rs | vs client-go | time to synced | peak RSS |")
print("|---|---|---|---|---|---|---|")
for strip in (False, True):
    base = med("kube-rs", strip, "bytes_per_object")
    go = med("client-go", strip, "bytes_per_object")
    for client in ("k8s-client", "kube-rs", "client-go", "client-go protobuf", "k8s-client metadata-only"):
        b = med(client, strip, "bytes_per_object")
        ms = med(client, strip, "sync_ms")
        rss = med(client, strip, "peak_rss_bytes")
        if b is None:
            continue
        vs_go = f"{b/go:.2f}x" if go else "-"
        print(f"| {client} | {'stripped' if strip else 'kept'} | {int(b):,} | {b/base:.2f}x | {vs_go} | {int(ms)} ms | {rss/2**20:.0f} MiB |")
print("\nclient-go: Go's runtime.MemStats.HeapAlloc after runtime.GC() (live heap objects); the Rust")
print("clients: a counting global allocator's live bytes. Both are after sync minus before the informer.")
PY

"$gobin/decode" --fetch --namespace "$ns" --out "$bodies"
: >"$out"
for round in 1 2 3; do
  "$target/release/decode" --mode ours --file "$bodies/pods.json" >>"$out"
  "$target/release/decode" --mode ours --file "$bodies/pods.pb" >>"$out"
  "$target/release/decode" --mode kube-rs --file "$bodies/pods.json" >>"$out"
  "$gobin/decode" --file "$bodies/pods.json" >>"$out"
  "$gobin/decode" --file "$bodies/pods.pb" >>"$out"
done
python3 - "$out" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
def med(client, fmt, field):
    vals = [r[field] for r in rows if r["client"] == client and r["format"] == fmt]
    return statistics.median(vals) if vals else None
size = {r["format"]: r["bytes"] for r in rows}
n = rows[0]["objects"]
print(f"\nDecoding one list of {n:,} Pods (JSON {size['json']/1e6:.1f} MB, protobuf {size['protobuf']/1e6:.1f} MB; median of 3, each the mean of 5 decodes after a warm-up)\n")
print("| decoder | format | MB/s | Pods/s | vs kube-rs (JSON) | vs client-go (same format) |")
print("|---|---|---|---|---|---|")
base = med("kube-rs", "json", "objects_per_s")
for client, fmt in (("k8s-client", "json"), ("kube-rs", "json"), ("client-go", "json"),
                    ("k8s-client", "protobuf"), ("client-go", "protobuf")):
    mb, ops, go = med(client, fmt, "mb_per_s"), med(client, fmt, "objects_per_s"), med("client-go", fmt, "objects_per_s")
    if mb is None:
        continue
    print(f"| {client} | {fmt} | {mb:.1f} | {int(ops):,} | {ops/base:.2f}x | {ops/go:.2f}x |")
PY
