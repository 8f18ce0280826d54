#!/usr/bin/env bash
# Runs every test of the scripts themselves (scripts/tests/*.sh other than this one): quick
# checks that need no control plane and no network (a few seconds in all). scripts/test.sh
# runs it first.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
status=0
for t in "$here"/*.sh; do
  [ "$(basename "$t")" = run.sh ] && continue
  "$t" || status=1
done
exit $status
