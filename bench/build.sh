#!/usr/bin/env bash
# Build benchmark: cold release build time and stripped binary size of the smallest program
# that lists Pods, ours (bench/build/ours: k8s-client, built twice: with its default features
# and with none of them, `--no-default-features`) vs kube-rs (bench/build/kube-rs: kube,
# default features) vs client-go (bench/build/client-go). With --per-feature, ours is also
# built with each optional part alone (gzip, remote, runtime, compact, protobuf), and a
# second table gives what each one adds to the minimal build.
#
# Dependencies are downloaded first (cargo fetch, go mod download; not timed). Each timed build
# then starts from nothing: a fresh, empty CARGO_TARGET_DIR, or a fresh, empty GOCACHE (so Go
# also compiles its standard library), with no compiler wrapper. Rust: `cargo build --release
# --offline --locked`; Go: `go build -trimpath -ldflags='-s -w'`. Each binary is then
# `strip`ped and its size taken. Each build's wall time is reported with the CPU time (user +
# system) of the compiler processes, which other work on the machine disturbs much less than
# the wall time. Prints a Markdown section (median of N rounds) on stdout;
# bench/run.sh --build includes it in its report. Slow: minutes per build on 2 cores.
#
#   bench/build.sh [--rounds N] [--per-feature]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
rounds=3
per_feature=false
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds=$2; shift ;;
    --per-feature) per_feature=true ;;
    *) echo "usage: bench/build.sh [--rounds N] [--per-feature]" >&2; exit 2 ;;
  esac
  shift
done
# The builds of ours: "name|cargo build arguments" (features of bench/build/ours, which
# forward to k8s-client's).
ours=("minimal|--no-default-features" "default|")
if [ "$per_feature" = true ]; then
  for feature in gzip remote runtime compact protobuf; do
    ours+=("+$feature|--no-default-features --features $feature")
  done
fi
out=$(mktemp)
scratch=$(mktemp -d)
trap 'chmod -R u+w "$scratch" 2>/dev/null; rm -rf "$out" "$scratch"' EXIT
fail() { echo "bench/build.sh: build row, $1: $2" >&2; exit 1; }
unset RUSTC_WRAPPER CARGO_BUILD_RUSTC_WRAPPER GOFLAGS
export GOTOOLCHAIN=local

(cd "$here/build/ours" && cargo fetch -q) || fail "k8s-client" "cargo fetch failed"
(cd "$here/build/kube-rs" && cargo fetch -q) || fail "kube-rs" "cargo fetch failed"
(cd "$here/build/client-go" && go mod download) || fail "client-go" "go mod download failed"

now() { date +%s.%N; }
# `times >FILE` (in this shell, not in a command substitution, which would count its own
# subshell) writes the CPU time of every child the shell has waited for; cpu FILE gives it
# in seconds (user + system).
cpu() {
  awk 'NR == 2 { n = 0; for (i = 1; i <= 2; i++) { split($i, a, "m"); n += a[1] * 60 + a[2] } print n }' "$1"
}
# record CLIENT SECONDS CPU_SECONDS BINARY: strips BINARY and appends one JSON line to $out.
record() {
  strip "$4" || fail "$1" "strip $4 failed"
  printf '{"client":"%s","seconds":%s,"cpu_seconds":%s,"stripped_bytes":%s}\n' \
    "$1" "$2" "$3" "$(stat -c %s "$4")" >>"$out"
}
# build DIR CLIENT [CARGO ARGS...]: one cold release build of bench/build/DIR, recorded as CLIENT.
build() {
  local dir=$1 client=$2 target="$scratch/target" start end cpu0 cpu1
  shift 2
  rm -rf "$target"
  echo "bench/build.sh: round $round, cold build of $client" >&2
  times >"$scratch/cpu0"
  start=$(now)
  (cd "$here/build/$dir" && CARGO_TARGET_DIR=$target cargo build --release --offline --locked -q "$@") \
    || fail "$client" "cargo build failed"
  end=$(now)
  times >"$scratch/cpu1"
  cpu0=$(cpu "$scratch/cpu0") cpu1=$(cpu "$scratch/cpu1")
  record "$client" "$(awk "BEGIN { print $end - $start }")" "$(awk "BEGIN { print $cpu1 - $cpu0 }")" \
    "$target/release/list-pods-$dir"
  rm -rf "$target"
}
for round in $(seq "$rounds"); do
  for variant in "${ours[@]}"; do
    read -r -a args <<<"${variant#*|}"
    build ours "k8s-client ${variant%%|*}" ${args[@]+"${args[@]}"}
  done
  build kube-rs kube-rs
  echo "bench/build.sh: round $round, cold build of client-go" >&2
  gocache="$scratch/gocache"
  rm -rf "$gocache"
  times >"$scratch/cpu0"
  start=$(now)
  (cd "$here/build/client-go" && GOCACHE=$gocache go build -trimpath -ldflags='-s -w' -o "$scratch/list-pods-go" .) \
    || fail "client-go" "go build failed"
  end=$(now)
  times >"$scratch/cpu1"
  cpu0=$(cpu "$scratch/cpu0") cpu1=$(cpu "$scratch/cpu1")
  record "client-go" "$(awk "BEGIN { print $end - $start }")" "$(awk "BEGIN { print $cpu1 - $cpu0 }")" \
    "$scratch/list-pods-go"
  chmod -R u+w "$gocache" && rm -rf "$gocache"
done
python3 - "$out" "$rounds" "$(rustc --version)" "$(go version)" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
def med(client, field):
    vals = [r[field] for r in rows if r["client"] == client]
    if not vals:
        sys.exit(f"bench/build.sh: build row, {client}: no result")
    return statistics.median(vals)
print(f"\n## 5. Build\n\nCold release build and stripped size of a program that lists Pods (median of {sys.argv[2]}; {sys.argv[3]}, {sys.argv[4]})\n")
print("| program | cold build | vs kube-rs | vs client-go | build CPU | vs kube-rs | vs client-go | stripped binary | vs kube-rs | vs client-go |")
print("|---|---|---|---|---|---|---|---|---|---|")
kt, kc, ks = med("kube-rs", "seconds"), med("kube-rs", "cpu_seconds"), med("kube-rs", "stripped_bytes")
gt, gc, gs = med("client-go", "seconds"), med("client-go", "cpu_seconds"), med("client-go", "stripped_bytes")
for client in ("k8s-client minimal", "k8s-client default", "kube-rs", "client-go"):
    t, c, s = med(client, "seconds"), med(client, "cpu_seconds"), med(client, "stripped_bytes")
    print(f"| {client} | {t:.0f} s | {t/kt:.2f}x | {t/gt:.2f}x | {c:.0f} s | {c/kc:.2f}x | {c/gc:.2f}x "
          f"| {s/2**20:.1f} MiB | {s/ks:.2f}x | {s/gs:.2f}x |")
print("\nCold: empty target dir / GOCACHE, dependencies already downloaded. k8s-client minimal: no")
print("optional features (`default-features = false`); k8s-client default: its default features")
print("(gzip, remote, runtime); kube-rs with its default features; all with k8s-openapi `latest`.")
print("client-go with `-trimpath -ldflags='-s -w'`; all binaries `strip`ped. Build CPU: user +")
print("system time of the compiler processes (on a busy machine the wall time grows, the CPU time")
print("much less).")
extra = sorted({r["client"] for r in rows if r["client"].startswith("k8s-client +")})
if extra:
    m = "k8s-client minimal"
    mt, mc, ms = med(m, "seconds"), med(m, "cpu_seconds"), med(m, "stripped_bytes")
    print("\nWhat each optional part adds to the minimal build, alone (`--no-default-features --features F`):\n")
    print("| features | cold build | vs minimal | build CPU | vs minimal | stripped binary | vs minimal |")
    print("|---|---|---|---|---|---|---|")
    print(f"| none (minimal) | {mt:.0f} s | | {mc:.0f} s | | {ms/2**20:.2f} MiB | |")
    for client in extra + ["k8s-client default"]:
        t, c, s = med(client, "seconds"), med(client, "cpu_seconds"), med(client, "stripped_bytes")
        name = client.removeprefix("k8s-client +").replace("k8s-client default", "default (gzip, remote, runtime)")
        print(f"| {name} | {t:.0f} s | {t-mt:+.0f} s | {c:.0f} s | {c-mc:+.0f} s "
              f"| {s/2**20:.2f} MiB | {(s-ms)/2**10:+.0f} KiB |")
PY
