#!/usr/bin/env bash
# The compatibility matrix: runs the smoke suite (k8s-client/tests/smoke.rs: typed CRUD,
# dynamic, metadata-only list, aggregated discovery, server-side apply, an informer, a
# controller, exec and logs in a KWOK pod, streaming watch-list, protobuf) against the real
# control plane of each Kubernetes minor, and writes the table feature x minor
# (ok / fallback / fail, with what the server lacks and what the client does about it) to
# docs/compatibility.md and to the README's compatibility section (between the markers
# <!-- compatibility:begin --> and <!-- compatibility:end -->).
#
#   scripts/compat-matrix.sh [MINOR...]     (default: every testcluster/go.<minor>.mod)
#
# For each minor: builds (or finds cached) its control plane, starts it with
# --controller-manager --kwok in .cache/compat-<minor>, runs the smoke test with
# --features protobuf,compact,derive,metrics -- --nocapture --test-threads=2, keeps the
# `SMOKE <feature> <result> <detail>` lines and the server's gitVersion, and stops it. Minors
# not run this time keep their column from the previous docs/compatibility.md (the raw lines
# are kept there in an HTML comment), so one new minor can be added alone.
#
# Exits non-zero if any feature of a minor run this time is `fail` (or printed no line).
# How long (measured on 2 shared cores): with the control planes built and the test
# compiled, about 30 s per minor (start 4-7 s, the smoke suite 2-4 s, the rest is KWOK and
# the stop): 1 min 56 s for 1.33-1.36. Compiling the smoke test the first time adds
# several minutes, and a minor whose control plane is not built yet a cold build of 15-30
# minutes. Too slow for every CI run: .ci/run does not run it.
#
# `--render-only MINOR...` runs nothing: it rewrites the documents from the results kept in
# .cache/compat/<minor>.smoke by an earlier run (to change the layout without a rerun);
# `--render-only` alone rewrites them from the records kept in docs/compatibility.md.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
render_only=no
if [ "${1:-}" = --render-only ]; then
  render_only=yes; shift
  # Without minors: from the records in docs/compatibility.md alone (e.g. to put the README's
  # section back after a merge took another README).
  if [ $# -eq 0 ]; then set -- --from-doc; fi
fi
if [ $# -eq 0 ]; then
  set -- $(cd testcluster && ls go.1.*.mod | sed 's/go\.\(.*\)\.mod/\1/' | sort -V)
fi
for minor in "$@"; do
  [ "$minor" = --from-doc ] && continue
  [ -f "testcluster/go.$minor.mod" ] || { echo "compat-matrix: no testcluster/go.$minor.mod (add a minor with scripts/add-k8s-minor.sh)" >&2; exit 2; }
done
features=protobuf,compact,derive,metrics
# The features the smoke suite checks, in table order: a missing line is a failure.
expected="typed-crud crd dynamic metadata-list discovery ssa informer controller exec logs port-forward watch-list protobuf"
results=$root/.cache/compat
mkdir -p "$results"
commit=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
if [ -n "$(git status --porcelain --untracked-files=no -- . ':!docs/compatibility.md' ':!README.md' 2>/dev/null)" ]; then
  commit="$commit+changes"
fi
rustc=$(rustc --version)
date=$(date -u +%Y-%m-%d)

if [ $render_only = no ]; then
  echo "compat-matrix: compiling the smoke test" >&2
  cargo test -q -p k8s-client --features "$features" --test smoke --no-run >&2
fi

run_minor() {
  local minor=$1 dir bin start status=0 t_all
  dir=$root/.cache/compat-$minor
  # A minor whose control plane does not build or start is a column of failures, not the end
  # of the run.
  if ! bin=$("$root/scripts/build-testcluster.sh" "$minor"); then
    printf 'minor %s\ndate %s\ncommit %s\nrustc %s\nstatus build\n' "$minor" "$date" "$commit" "$rustc" >"$results/$minor.smoke"
    echo "compat-matrix: $minor: the control plane did not build" >&2
    return 0
  fi
  t_all=$(date +%s)
  "$root/scripts/testcluster.sh" stop "$dir" >/dev/null 2>&1 || true
  rm -rf "$dir"
  trap '"$root/scripts/testcluster.sh" stop "'"$dir"'" >/dev/null 2>&1 || true' EXIT
  if ! K8S_MINOR=$minor "$root/scripts/testcluster.sh" start "$dir" --controller-manager --kwok >&2; then
    "$root/scripts/testcluster.sh" stop "$dir" >/dev/null 2>&1 || true
    trap - EXIT
    printf 'minor %s\ndate %s\ncommit %s\nrustc %s\nstatus start\n' "$minor" "$date" "$commit" "$rustc" >"$results/$minor.smoke"
    echo "compat-matrix: $minor: the control plane did not start (log kept in ${dir#"$root"/})" >&2
    return 0
  fi
  local server git_version
  server=$(sed -n 's/^K8S_TESTCLUSTER_SERVER=//p' "$dir/env")
  git_version=$(python3 - "$server" "$dir/pki" <<'PY'
import json, os, ssl, sys, urllib.request
server, pki = sys.argv[1:3]
ctx = ssl.create_default_context(cafile=os.path.join(pki, "ca.crt"))
ctx.load_cert_chain(os.path.join(pki, "admin.crt"), os.path.join(pki, "admin.key"))
with urllib.request.urlopen(server + "/version", context=ctx, timeout=30) as r:
    print(json.load(r)["gitVersion"])
PY
)
  start=$(date +%s)
  K8S_CLIENT_TEST_KUBECONFIG=$dir/kubeconfig K8S_CLIENT_TESTCLUSTER_BIN=$bin \
    cargo test -p k8s-client --features "$features" --test smoke -- --nocapture --test-threads=2 \
    >"$results/$minor.log" 2>&1 || status=$?
  local secs=$(( $(date +%s) - start ))
  "$root/scripts/testcluster.sh" stop "$dir" >/dev/null
  trap - EXIT
  rm -rf "$dir"
  local all=$(( $(date +%s) - t_all ))
  {
    echo "minor $minor"
    echo "gitVersion $git_version"
    echo "date $date"
    echo "commit $commit"
    echo "rustc $rustc"
    echo "seconds $secs"
    echo "seconds-with-control-plane $all"
    echo "status $status"
    # (anchored at SMOKE, not at the line start: test output may share the line)
    grep -oE 'SMOKE [a-z0-9-]+ (ok|fallback|fail)( .*)?$' "$results/$minor.log" || true
  } >"$results/$minor.smoke"
  echo "compat-matrix: $minor ($git_version): smoke suite in ${secs}s (${all}s with the control plane's start and stop), cargo test status $status; $(grep -c '^SMOKE [^ ]* ok' "$results/$minor.smoke" || true) ok, $(grep -c '^SMOKE [^ ]* fallback' "$results/$minor.smoke" || true) fallback, $(grep -c '^SMOKE [^ ]* fail' "$results/$minor.smoke" || true) fail (log: ${results#"$root"/}/$minor.log)" >&2
}

if [ $render_only = no ]; then
  for minor in "$@"; do
    run_minor "$minor"
  done
fi

python3 - "$root" "$expected" "$@" <<'PY'
import os, re, sys, textwrap

root, expected, run = sys.argv[1], sys.argv[2].split(), [m for m in sys.argv[3:] if m != "--from-doc"]
doc_path = os.path.join(root, "docs", "compatibility.md")
readme_path = os.path.join(root, "README.md")
results = os.path.join(root, ".cache", "compat")

def parse(text):
    """One minor's record: its header fields and {feature: (result, detail)}."""
    meta, smoke = {}, {}
    for line in text.splitlines():
        if line.startswith("SMOKE "):
            parts = line.split(" ", 3)
            if len(parts) >= 3:
                smoke[parts[1]] = (parts[2], parts[3] if len(parts) > 3 else "")
        elif " " in line:
            k, v = line.split(" ", 1)
            meta[k] = v
    return meta, smoke

# Columns kept from the previous document (raw records in an HTML comment), then this run's.
records = {}
if os.path.exists(doc_path):
    old = open(doc_path).read()
    for block in re.findall(r"<!-- smoke-record\n(.*?)\n-->", old, re.S):
        meta, smoke = parse(block)
        if "minor" in meta:
            records[meta["minor"]] = (block, meta, smoke)
for minor in run:
    block = open(os.path.join(results, f"{minor}.smoke")).read().strip()
    meta, smoke = parse(block)
    records[minor] = (block, meta, smoke)

def key(m):
    return tuple(int(x) for x in m.split("."))

minors = sorted(records, key=key)
failed = []
for minor in minors:
    _, meta, smoke = records[minor]
    why = {"build": "the control plane did not build",
           "start": "the control plane did not start"}.get(meta.get("status", ""),
           "the smoke test printed no line for it (it did not run or crashed): see the log")
    for f in expected:
        if f not in smoke:
            smoke[f] = ("fail", why)
    if meta.get("status", "0") not in ("0", "build", "start") and all(r != "fail" for r, _ in smoke.values()):
        smoke["(suite)"] = ("fail", f"cargo test exited with status {meta.get('status')} although every feature printed a line")
    for f, (r, _) in smoke.items():
        if r not in ("ok", "fallback"):
            if minor in run:
                failed.append(f"{minor} {f}")

features = expected + sorted({f for m in minors for f in records[m][2]} - set(expected))
notes = []  # (number, minor, feature, result, detail)

def cell(minor, feature):
    r, d = records[minor][2].get(feature, ("-", ""))
    if r == "ok" or r == "-":
        return r
    notes.append((len(notes) + 1, minor, feature, r, d))
    return f"**{r}** [{len(notes)}]" if r == "fail" else f"{r} [{len(notes)}]"

def checks(feature):
    for minor in reversed(minors):
        r, d = records[minor][2].get(feature, ("", ""))
        if r == "ok":
            return d
    return ""

def table(with_checks):
    head = "| feature | " + " | ".join(minors) + (" | what is checked (newest minor that passed) |" if with_checks else " |")
    sep = "|---|" + "---|" * len(minors) + ("---|" if with_checks else "")
    rows = [head, sep]
    for f in features:
        row = f"| {f} | " + " | ".join(cell(m, f) for m in minors) + " |"
        if with_checks:
            row += f" {checks(f).replace('|', '/')} |"
        rows.append(row)
    return rows

def versions():
    out = []
    for m in minors:
        meta = records[m][1]
        out.append(f"| {m} | {meta.get('gitVersion', '?')} | {meta.get('date', '?')} | `{meta.get('commit', '?')}` | {meta.get('rustc', '?')} | {meta.get('seconds', '?')} s ({meta.get('seconds-with-control-plane', '?')} s with start and stop) |")
    return ["| minor | server (gitVersion) | run on | k8s-client commit | rustc | smoke suite |", "|---|---|---|---|---|---|"] + out

doc = ["# Compatibility with each supported Kubernetes minor", "",
       "Generated by `scripts/compat-matrix.sh` (do not edit by hand): the smoke suite",
       "`k8s-client/tests/smoke.rs` run against the real control plane (kube-apiserver, etcd,",
       "kube-controller-manager and KWOK, built from each minor's Go modules) of every minor.",
       "`ok`: the feature worked the preferred way; `fallback`: the server lacks something and the",
       "feature worked through the client's fallback (the note says what the server lacks and what",
       "the client did); `fail`: it did not work.", "",
       "The full suite (`scripts/test.sh`) runs on the newest and the oldest supported minor; the",
       "minors between get this smoke suite.", ""]
doc += table(True)
doc += ["", "## What the server lacks and what the client does", ""]
if notes:
    for n, m, f, r, d in notes:
        doc.append(f"{n}. {m}, {f} ({r}): {d}")
else:
    doc.append("Nothing: every feature worked the preferred way on every minor.")
doc += ["", "## Versions", ""] + versions()
doc += ["", "Raw `SMOKE` lines of each minor, which a later run for other minors keeps:", ""]
for m in minors:
    doc += ["<!-- smoke-record", records[m][0], "-->"]
doc.append("")
os.makedirs(os.path.dirname(doc_path), exist_ok=True)
open(doc_path, "w").write("\n".join(doc))

# The README's section: the table without the long column, the notes, the versions.
notes.clear()
def same(field, quote=""):
    """The field's value if every minor has the same, else the value of each minor."""
    values = {m: records[m][1].get(field, "?") for m in minors}
    if len(set(values.values())) == 1:
        return quote + values[minors[0]] + quote
    return ", ".join(f"{quote}{v}{quote} ({m})" for m, v in values.items())

dates = sorted({records[m][1].get("date", "?") for m in minors})
section = ["<!-- compatibility:begin -->",
           "<!-- generated by scripts/compat-matrix.sh from docs/compatibility.md's run; do not edit -->", ""]
section += textwrap.wrap(f"The smoke suite (`k8s-client/tests/smoke.rs`) on each supported minor, run on "
            f"{', '.join(dates)} with " + ", ".join(f"{m}: {records[m][1].get('gitVersion', '?')}" for m in minors)
            + "; " + same("rustc") + ", commit " + same("commit", "`")
            + " (details, what each row checks: [docs/compatibility.md](docs/compatibility.md)).",
                         width=95, break_on_hyphens=False) + [""]
section += table(False)
section.append("")
for n, m, f, r, d in notes:
    section += textwrap.wrap(f"{n}. {m}, {f}: {d}", width=95, subsequent_indent="   ",
                             break_on_hyphens=False, break_long_words=False)
if notes:
    section.append("")
section += textwrap.wrap(
    f"The full suite (`scripts/test.sh`) runs on the newest and the oldest of these minors; "
    "this smoke suite on every one (`scripts/compat-matrix.sh [MINOR...]`, a few minutes, not "
    "part of CI). When `scripts/check-k8s-versions.sh` (run by CI) reports a newer Kubernetes on "
    "the Go module proxy, `scripts/add-k8s-minor.sh 1.X` adds it: module files, control plane, "
    "snapshots for the in-memory server, and its column here.", width=95, break_on_hyphens=False)
section += ["", "<!-- compatibility:end -->"]
readme = open(readme_path).read()
begin, end = "<!-- compatibility:begin -->", "<!-- compatibility:end -->"
if begin in readme and end in readme:
    pre, rest = readme.split(begin, 1)
    _, post = rest.split(end, 1)
    readme = pre + "\n".join(section) + post
else:
    readme = readme.rstrip("\n") + "\n\n## Compatibility\n\n" + "\n".join(section) + "\n"
open(readme_path, "w").write(readme)
print(f"compat-matrix: wrote docs/compatibility.md and the README's section ({len(minors)} minors: {' '.join(minors)})", file=sys.stderr)
if failed:
    print("compat-matrix: FAILED: " + ", ".join(failed), file=sys.stderr)
    sys.exit(1)
PY
