#!/usr/bin/env bash
# Checks that `scripts/testcluster.sh stop` returns at once when the control plane's pid names
# a process that has exited but was never reaped (a zombie, as under a PID 1 that does not
# reap), instead of waiting 30 s and then killing it; and that it still stops a live process.
# Takes about a second; scripts/test.sh runs it first (scripts/tests/run.sh).
#
#   scripts/tests/testcluster-stop-zombie.sh
#   TESTCLUSTER_SH=/path/to/old/testcluster.sh scripts/tests/testcluster-stop-zombie.sh
#       (the old script: fails after 30 s)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
if [ ! -r /proc/self/stat ]; then
  echo "testcluster-stop-zombie: not checked: no /proc here (testcluster.sh detects zombies through /proc/PID/stat, on Linux)" >&2
  exit 0
fi
script=${TESTCLUSTER_SH:-$root/scripts/testcluster.sh}
dir=$(mktemp -d "${TMPDIR:-/tmp}/testcluster-stop-zombie.XXXXXX")
parent=""
live=""
cleanup() {
  [ -n "$parent" ] && kill "$parent" 2>/dev/null || true
  [ -n "$live" ] && kill -KILL "$live" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
fail() { echo "testcluster-stop-zombie: FAIL: $*" >&2; exit 1; }
state() { local s; s=$(cat "/proc/$1/stat" 2>/dev/null) || { echo gone; return; }; s=${s##*) }; echo "${s%% *}"; }

# A zombie: `sleep 0` ends at once, and its parent (now `sleep 60`, by exec) never reaps it.
sh -c 'sleep 0 & echo $! >"$1/zombie"; exec sleep 60' sh "$dir" &
parent=$!
for _ in $(seq 1 100); do
  [ -s "$dir/zombie" ] && [ "$(state "$(cat "$dir/zombie")")" = Z ] && break
  sleep 0.05
done
zombie=$(cat "$dir/zombie")
[ "$(state "$zombie")" = Z ] || fail "could not make a zombie (pid $zombie is $(state "$zombie"))"
cp "$dir/zombie" "$dir/pid"
touch "$dir/ready"
t0=$(date +%s%N)
"$script" stop "$dir" >/dev/null 2>"$dir/stderr" || fail "stop exited non-zero: $(cat "$dir/stderr")"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ "$ms" -lt 5000 ] || fail "stop took ${ms} ms with a zombie pid (waited for it to exit)"
[ ! -e "$dir/pid" ] && [ ! -e "$dir/ready" ] || fail "stop left the pid or ready file"
grep -q "killing" "$dir/stderr" && fail "stop tried to kill the zombie: $(cat "$dir/stderr")"
zombie_ms=$ms

# A live process (ignoring nothing) is still stopped, by TERM.
sleep 300 &
live=$!
echo "$live" >"$dir/pid"
t0=$(date +%s%N)
"$script" stop "$dir" >"$dir/stdout" 2>"$dir/stderr" || fail "stop of a live process exited non-zero"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
grep -q "stopped" "$dir/stdout" || fail "stop did not report stopping the live process"
wait "$live" 2>/dev/null || true
kill -0 "$live" 2>/dev/null && fail "the live process $live still runs after stop"
live=""
[ "$ms" -lt 5000 ] || fail "stop of a live process took ${ms} ms"
echo "testcluster-stop-zombie: ok (zombie pid: stop returned in ${zombie_ms} ms; live pid: stopped in ${ms} ms)"
