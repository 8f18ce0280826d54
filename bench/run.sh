#!/usr/bin/env bash
# The benchmark report, ours (k8s-client) vs kube-rs and client-go, on the same machine, the
# same control plane and the same data, run back to back. Every measurement runs in a fresh
# process, three rounds; the tables show medians and ratios. Rows:
#
#  1. Decode: the namespace's Pod list is saved once as JSON and as protobuf (bench/go's
#     `decode --fetch`) and each client decodes the same bodies (src/bin/decode.rs,
#     bench/go/cmd/decode).
#  2. List: one LIST without a limit of --pods and of --pods-large Pods: wall time, CPU time
#     and peak RSS (src/bin/list.rs, bench/go/cmd/list), JSON and protobuf.
#  3. Informer: time to synced and live heap per cached Pod for --pods and --pods-large Pods,
#     with and without the managedFields-strip transform (src/bin/informer_memory.rs,
#     bench/go/cmd/informer-memory).
#  4. Throughput: --requests GETs of one small ConfigMap at --concurrency, client-side rate
#     limiting off: requests/s and CPU per request (src/bin/throughput.rs,
#     bench/go/cmd/throughput).
#  5. Build (only with --build; slow): cold release build time and stripped size of a program
#     that lists Pods (bench/build.sh, bench/build/).
#
# --allocators is another report: our client only, built three times with a different global
# allocator (the system allocator, i.e. glibc's malloc; mimalloc with the bench crate's feature
# `alloc-mimalloc`; jemalloc with `alloc-jemalloc`), each build's binaries copied to
# $CARGO_TARGET_DIR/allocators/NAME/. It runs the decode row (JSON, protobuf), the list row
# (--pods Pods, JSON, protobuf) and the informer row (--pods Pods; default cache and compact
# cache, managedFields kept and stripped) under each allocator, three fresh processes each with
# the allocators taken in turn within a round, and prints the medians with ratios vs the system
# allocator: wall, CPU, peak RSS and, for the informer, the RSS after sync and the live bytes
# per Pod. It writes bench/results/allocators-latest.md (not latest.md) and notes the load
# average before and after, since the other rows' figures move with it.
#
# Uses the control plane of --kubeconfig FILE, or starts the test control plane (and stops it
# at the end only when this script started it). Creates the realistic Pods once per namespace
# (bench-mem-N; Pods that exist are kept). client-go is the Go module in bench/go, built into
# ~/.cache/k8s-client/bench-go with GOTOOLCHAIN=local. Prints the report and writes it to
# bench/results/latest.md. A failing run names its row and client and stops the script.
#
#   bench/run.sh [--kubeconfig FILE] [--pods N] [--pods-large N] [--requests N]
#                [--concurrency N] [--build] [--build-rounds N]
#   bench/run.sh --allocators [--kubeconfig FILE] [--pods N]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
command_line="bench/run.sh${*:+ $*}"
kubeconfig=""; pods=10000; pods_large=50000; requests=20000; concurrency=64
build=false; build_rounds=3; allocators=false
usage="usage: bench/run.sh [--kubeconfig FILE] [--pods N] [--pods-large N] [--requests N] [--concurrency N] [--build] [--build-rounds N] | --allocators [--kubeconfig FILE] [--pods N]"
while [ $# -gt 0 ]; do
  case "$1" in
    --kubeconfig) kubeconfig=$2; shift ;;
    --pods) pods=$2; shift ;;
    --pods-large) pods_large=$2; shift ;;
    --requests) requests=$2; shift ;;
    --concurrency) concurrency=$2; shift ;;
    --build) build=true ;;
    --build-rounds) build_rounds=$2; shift ;;
    --allocators) allocators=true ;;
    *) echo "$usage" >&2; exit 2 ;;
  esac
  shift
done
bodies=$(mktemp -d)
out=$(mktemp)
report=$(mktemp)
build_report=$(mktemp)
started=""
cleanup() {
  rm -rf "$bodies" "$out" "$report" "$build_report"
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
target=${CARGO_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/k8s-client/bench-target}
gobin=${XDG_CACHE_HOME:-$HOME/.cache}/k8s-client/bench-go
mkdir -p "$gobin"
report_py="$root/bench/report.py"
if [ "$allocators" = false ]; then
  (cd "$root/bench" && CARGO_TARGET_DIR=$target cargo build --release \
    --bin informer_memory --bin decode --bin list --bin throughput >&2)
  (cd "$root/bench/go" && GOTOOLCHAIN=local go build -trimpath -o "$gobin/" ./cmd/... >&2)
fi
bin="$target/release"

# run ROW CLIENT COMMAND...: runs one measurement and keeps its JSON line in $out. A failure,
# or a run that prints no JSON result, names the row and the client and stops the script.
run() {
  local row=$1 client=$2 line
  shift 2
  if ! line=$("$@"); then
    echo "bench/run.sh: $row row: $client failed: $*" >&2
    exit 1
  fi
  case "$line" in
    "{"*) echo "$line" >>"$out" ;;
    *) echo "bench/run.sh: $row row: $client printed no JSON result: $*" >&2; exit 1 ;;
  esac
}

# load: the 1-, 5- and 15-minute load averages, for the report.
load() { cut -d' ' -f1-3 /proc/loadavg; }

# The --allocators report (see the top of this file), then exit.
if [ "$allocators" = true ]; then
  names="system mimalloc jemalloc"
  # One build per allocator in the same target directory (only the bench crate and the
  # allocator crate recompile), each build's binaries copied aside before the next.
  for a in $names; do
    features=""
    [ "$a" = system ] || features="--features alloc-$a"
    echo "bench/run.sh: building the benchmarks with the $a allocator" >&2
    (cd "$root/bench" && CARGO_TARGET_DIR=$target cargo build --release $features \
      --bin informer_memory --bin decode --bin list >&2) \
      || { echo "bench/run.sh: building with the $a allocator failed" >&2; exit 1; }
    mkdir -p "$target/allocators/$a"
    cp "$bin/informer_memory" "$bin/decode" "$bin/list" "$target/allocators/$a/"
  done
  (cd "$root/bench/go" && GOTOOLCHAIN=local go build -trimpath -o "$gobin/" ./cmd/decode >&2)
  "$target/allocators/system/informer_memory" --mode seed --namespace "bench-mem-$pods" --pods "$pods" >&2 \
    || { echo "bench/run.sh: seeding bench-mem-$pods failed" >&2; exit 1; }
  load_before=$(load)
  started_at=$(date -u '+%Y-%m-%d %H:%M UTC')
  "$gobin/decode" --fetch --namespace "bench-mem-$pods" --out "$bodies" \
    || { echo "bench/run.sh: decode row: client-go failed to fetch the bodies" >&2; exit 1; }
  : >"$out"
  echo "bench/run.sh: allocators: decode row" >&2
  for round in 1 2 3; do
    for a in $names; do
      for file in pods.json pods.pb; do
        run decode "k8s-client ($a)" "$target/allocators/$a/decode" --mode ours --file "$bodies/$file"
      done
    done
  done
  python3 "$report_py" alloc-decode "$out" >>"$report"
  : >"$out"
  echo "bench/run.sh: allocators: list row, $pods Pods" >&2
  for round in 1 2 3; do
    for a in $names; do
      for proto in "" --protobuf; do
        run list "k8s-client ($a)" "$target/allocators/$a/list" --mode ours $proto --namespace "bench-mem-$pods"
      done
    done
  done
  python3 "$report_py" alloc-list "$out" >>"$report"
  : >"$out"
  echo "bench/run.sh: allocators: informer row, $pods Pods" >&2
  for round in 1 2 3; do
    for a in $names; do
      for strip in "" --strip; do
        run informer "k8s-client ($a)" "$target/allocators/$a/informer_memory" --mode ours --namespace "bench-mem-$pods" $strip
        run informer "k8s-client compact ($a)" "$target/allocators/$a/informer_memory" --mode ours --compact --namespace "bench-mem-$pods" $strip
      done
    done
  done
  python3 "$report_py" alloc-informer "$out" >>"$report"
  mkdir -p "$root/bench/results"
  {
    echo "# k8s-client under three global allocators, $started_at"
    echo
    echo "\`$command_line\` on $(nproc) cores, $(uname -sr), $(rustc --version),"
    echo "server $(kubectl version -o json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["serverVersion"]["gitVersion"])' 2>/dev/null || echo unknown),"
    echo "glibc $(ldd --version 2>/dev/null | head -n1 | awk '{print $NF}'); crates: $(cd "$root/bench" && cargo tree -e normal -i mimalloc --features alloc-mimalloc --depth 0 2>/dev/null | head -n1 | cut -d' ' -f1-2), $(cd "$root/bench" && cargo tree -e normal -i tikv-jemallocator --features alloc-jemalloc --depth 0 2>/dev/null | head -n1 | cut -d' ' -f1-2)."
    echo "Load average (1, 5, 15 min): $load_before before the rows, $(load) after."
    echo "Every figure is the median of three runs, each in a fresh process; within a round the"
    echo "allocators run in turn, so a change in the machine's load touches all three alike."
    cat "$report"
  } >"$root/bench/results/allocators-latest.md"
  cat "$root/bench/results/allocators-latest.md"
  exit 0
fi

# 5. Build (first, so that a failure shows before the long rows; printed last). It needs no
# control plane; its table also goes to stderr at once.
if [ "$build" = true ]; then
  echo "bench/run.sh: build row (slow)" >&2
  "$root/bench/build.sh" --rounds "$build_rounds" >"$build_report" \
    || { echo "bench/run.sh: build row failed (see above)" >&2; exit 1; }
  cat "$build_report" >&2
fi

for n in "$pods" "$pods_large"; do
  "$bin/informer_memory" --mode seed --namespace "bench-mem-$n" --pods "$n" >&2 \
    || { echo "bench/run.sh: seeding bench-mem-$n failed" >&2; exit 1; }
done

# 1. Decode
echo "bench/run.sh: decode row" >&2
"$gobin/decode" --fetch --namespace "bench-mem-$pods" --out "$bodies" \
  || { echo "bench/run.sh: decode row: client-go failed to fetch the bodies" >&2; exit 1; }
: >"$out"
for round in 1 2 3; do
  run decode k8s-client "$bin/decode" --mode ours --file "$bodies/pods.json"
  run decode "k8s-client protobuf" "$bin/decode" --mode ours --file "$bodies/pods.pb"
  run decode kube-rs "$bin/decode" --mode kube-rs --file "$bodies/pods.json"
  run decode client-go "$gobin/decode" --file "$bodies/pods.json"
  run decode "client-go protobuf" "$gobin/decode" --file "$bodies/pods.pb"
done
python3 "$report_py" decode "$out" >>"$report"

# 2. List
: >"$out"
for n in "$pods" "$pods_large"; do
  echo "bench/run.sh: list row, $n Pods" >&2
  for round in 1 2 3; do
    run list k8s-client "$bin/list" --mode ours --namespace "bench-mem-$n"
    run list "k8s-client protobuf" "$bin/list" --mode ours --protobuf --namespace "bench-mem-$n"
    run list kube-rs "$bin/list" --mode kube-rs --namespace "bench-mem-$n"
    run list client-go "$gobin/list" --namespace "bench-mem-$n"
    run list "client-go protobuf" "$gobin/list" --protobuf --namespace "bench-mem-$n"
  done
done
python3 "$report_py" list "$out" >>"$report"

# 3. Informer
: >"$out"
for n in "$pods" "$pods_large"; do
  echo "bench/run.sh: informer row, $n Pods" >&2
  for round in 1 2 3; do
    for strip in "" --strip; do
      run informer k8s-client "$bin/informer_memory" --mode ours --namespace "bench-mem-$n" $strip
      run informer "k8s-client compact" "$bin/informer_memory" --mode ours --compact --namespace "bench-mem-$n" $strip
      run informer kube-rs "$bin/informer_memory" --mode kube-rs --namespace "bench-mem-$n" $strip
      run informer "k8s-client metadata-only" "$bin/informer_memory" --mode ours-metadata --namespace "bench-mem-$n" $strip
      run informer client-go "$gobin/informer-memory" --namespace "bench-mem-$n" $strip
      run informer "client-go protobuf" "$gobin/informer-memory" --namespace "bench-mem-$n" --protobuf $strip
    done
  done
done
python3 "$report_py" informer "$out" >>"$report"

# 4. Throughput
: >"$out"
echo "bench/run.sh: throughput row" >&2
for round in 1 2 3; do
  for proto in "" --protobuf; do
    run throughput "k8s-client${proto:+ protobuf}" "$bin/throughput" --mode ours $proto \
      --requests "$requests" --concurrency "$concurrency"
    run throughput "client-go${proto:+ protobuf}" "$gobin/throughput" $proto \
      --requests "$requests" --concurrency "$concurrency"
  done
  run throughput kube-rs "$bin/throughput" --mode kube-rs --requests "$requests" --concurrency "$concurrency"
done
python3 "$report_py" throughput "$out" >>"$report"

mkdir -p "$root/bench/results"
{
  echo "# k8s-client benchmarks, $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo
  echo "\`$command_line\` on $(nproc) cores, $(uname -sr), $(rustc --version), $(go version | cut -d' ' -f3),"
  echo "server $(kubectl version -o json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["serverVersion"]["gitVersion"])' 2>/dev/null || echo unknown)."
  echo "Rows 1-4: every figure is the median of three runs, each in a fresh process."
  cat "$report" "$build_report"
} >"$root/bench/results/latest.md"
cat "$root/bench/results/latest.md"
