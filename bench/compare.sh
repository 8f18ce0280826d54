#!/usr/bin/env bash
# Before/after of the hot path for a refactor of the library: the request-throughput and
# list rows of bench/run.sh (our client only), for two builds of the bench programs, run
# interleaved in one session against one control plane. Each round runs every row for both
# builds, back to back, the order of the two builds alternating from round to round (old
# first in odd rounds, new first in even ones), so drift in the machine's load falls on both
# alike. Prints, per row and figure, the median, the spread (min-max) of each build and the
# new/old ratio of the medians, with the load average before and after.
#
#   bench/compare.sh OLD_BIN_DIR NEW_BIN_DIR [--kubeconfig FILE] [--pods N] [--rounds N]
#                    [--requests N] [--concurrency N]
#
# OLD_BIN_DIR and NEW_BIN_DIR each hold the `throughput` and `list` programs of
# bench/src/bin, built from the two commits, for example:
#
#   git worktree add /tmp/old BASE && (cd /tmp/old/bench && cargo build --release --bin list --bin throughput)
#   mkdir -p ~/bins/old && cp $CARGO_TARGET_DIR/release/{list,throughput} ~/bins/old/
#   (same from this worktree into ~/bins/new)
#   bench/compare.sh ~/bins/old ~/bins/new --pods 10000 --rounds 5
#
# The namespace bench-mem-N must hold the N Pods: NEW_BIN_DIR/informer_memory, when it is
# there, seeds it (Pods that exist are kept). Uses the control plane of --kubeconfig FILE, or
# starts the test control plane (stopping it at the end only when this script started it).
# A failing run names its row and build and stops the script.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
usage="usage: bench/compare.sh OLD_BIN_DIR NEW_BIN_DIR [--kubeconfig FILE] [--pods N] [--rounds N] [--requests N] [--concurrency N]"
[ $# -ge 2 ] || { echo "$usage" >&2; exit 2; }
old=$(cd "$1" && pwd); new=$(cd "$2" && pwd)
shift 2
kubeconfig=""; pods=10000; rounds=5; requests=20000; concurrency=64
while [ $# -gt 0 ]; do
  case "$1" in
    --kubeconfig) kubeconfig=$2; shift ;;
    --pods) pods=$2; shift ;;
    --rounds) rounds=$2; shift ;;
    --requests) requests=$2; shift ;;
    --concurrency) concurrency=$2; shift ;;
    *) echo "$usage" >&2; exit 2 ;;
  esac
  shift
done
for bins in "$old" "$new"; do
  for prog in throughput list; do
    [ -x "$bins/$prog" ] || { echo "bench/compare.sh: $bins/$prog is missing" >&2; exit 2; }
  done
done
out=$(mktemp)
started=""
cleanup() {
  rm -f "$out"
  if [ -n "$started" ]; then "$root/scripts/testcluster.sh" stop "$dir" >/dev/null || true; fi
}
trap cleanup EXIT
if [ -z "$kubeconfig" ]; then
  dir="$root/.cache/testcluster-bench"
  if ! { [ -f "$dir/pid" ] && kill -0 "$(cat "$dir/pid")" 2>/dev/null; }; then started=yes; fi
  "$root/scripts/testcluster.sh" start "$dir" >&2
  kubeconfig="$dir/kubeconfig"
fi
export KUBECONFIG=$kubeconfig
ns="bench-mem-$pods"
if [ -x "$new/informer_memory" ]; then
  "$new/informer_memory" --mode seed --namespace "$ns" --pods "$pods" >&2 \
    || { echo "bench/compare.sh: seeding $ns failed" >&2; exit 1; }
fi

# run ROW BUILD COMMAND...: one measurement; its JSON line goes to $out with the row and the
# build added.
run() {
  local row=$1 build=$2 line
  shift 2
  if ! line=$("$@"); then
    echo "bench/compare.sh: $row row: $build build failed: $*" >&2
    exit 1
  fi
  case "$line" in
    "{"*) echo "{\"row\": \"$row\", \"build\": \"$build\", \"data\": $line}" >>"$out" ;;
    *) echo "bench/compare.sh: $row row: $build build printed no JSON result: $*" >&2; exit 1 ;;
  esac
}

load_before=$(uptime | sed 's/.*load average: //')
for round in $(seq 1 "$rounds"); do
  if [ $((round % 2)) -eq 1 ]; then order="old new"; else order="new old"; fi
  echo "bench/compare.sh: round $round of $rounds ($order first; load $(uptime | sed 's/.*load average: //'))" >&2
  for proto in "" --protobuf; do
    fmt=${proto:+protobuf}; fmt=${fmt:-json}
    for build in $order; do
      if [ "$build" = old ]; then bin=$old; else bin=$new; fi
      run "throughput $fmt" "$build" "$bin/throughput" --mode ours $proto \
        --requests "$requests" --concurrency "$concurrency"
    done
    for build in $order; do
      if [ "$build" = old ]; then bin=$old; else bin=$new; fi
      run "list $fmt" "$build" "$bin/list" --mode ours $proto --namespace "$ns"
    done
  done
done
load_after=$(uptime | sed 's/.*load average: //')

python3 - "$out" "$rounds" "$pods" "$requests" "$concurrency" "$load_before" "$load_after" <<'EOF'
import json, statistics, sys
path, rounds, pods, requests, concurrency, load_before, load_after = sys.argv[1:]
runs = [json.loads(line) for line in open(path)]
FIGURES = {
    "throughput": [("requests/s", "requests_per_s", "{:,.0f}"),
                   ("CPU µs/request", "cpu_us_per_request", "{:,.1f}")],
    "list": [("wall ms", "wall_ms", "{:,.0f}"), ("CPU ms", "cpu_ms", "{:,.0f}"),
             ("peak RSS MiB", "peak_rss_bytes", "{:,.0f}")],
}
print(f"## Before/after: {rounds} interleaved rounds, {requests} GETs at concurrency {concurrency}, "
      f"LIST of {pods} Pods\n")
print(f"Load average (1, 5, 15 min) before: {load_before}; after: {load_after}.\n")
print("| row | figure | old median | old min-max | new median | new min-max | new/old |")
print("|---|---|---|---|---|---|---|")
for row in ("throughput json", "throughput protobuf", "list json", "list protobuf"):
    for label, field, fmt in FIGURES[row.split()[0]]:
        scale = 1 / 2**20 if field == "peak_rss_bytes" else 1
        vals = {b: [r["data"][field] * scale for r in runs if r["row"] == row and r["build"] == b]
                for b in ("old", "new")}
        if not vals["old"] or not vals["new"]:
            sys.exit(f"bench/compare.sh: {row}: no results for one of the builds")
        med = {b: statistics.median(v) for b, v in vals.items()}
        spread = {b: f"{fmt.format(min(v))}-{fmt.format(max(v))}" for b, v in vals.items()}
        print(f"| {row} | {label} | {fmt.format(med['old'])} | {spread['old']} "
              f"| {fmt.format(med['new'])} | {spread['new']} | {med['new'] / med['old']:.3f} |")
EOF
