#!/usr/bin/env bash
# Captures what a real kube-apiserver serves for discovery and OpenAPI v3, per Kubernetes
# minor, into fake/snapshots/<minor>/ (the in-memory API server of crate fake/ embeds them).
#
#   scripts/capture-snapshots.sh [MINOR...]     (default: every testcluster/go.<minor>.mod)
#
# For each minor it starts that minor's control plane (scripts/testcluster.sh, etcd +
# kube-apiserver only: discovery needs no controller manager) in a temporary directory, saves
# the response bodies byte for byte as the server sends them (no re-formatting; only the
# random port in /api's serverAddress becomes 6443, so a rerun against the same server gives
# identical files), gzip-compressed without a timestamp, and
# stops it again. Files of a minor (all gzip, named <name>.json.gz):
#   version.json               GET /version
#   api.json, apis.json        GET /api, GET /apis (legacy discovery)
#   api/v1.json, apis/<g>/<v>.json   every served group-version (legacy discovery)
#   aggregated-api.json, aggregated-apis.json   GET /api, /apis with
#                              Accept: application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList
#   openapi-v3.json            GET /openapi/v3
#   openapi-v3/<path>.json     every document /openapi/v3 lists (without its ?hash= query)
# and index.json (plain JSON): the Kubernetes version and one entry per file with the request
# path, the Accept header sent, the Content-Type the server answered with and the file name.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
if [ $# -eq 0 ]; then
  set -- $(cd "$root/testcluster" && ls go.1.*.mod | sed 's/go\.\(.*\)\.mod/\1/' | sort -V)
fi
for minor in "$@"; do
  [ -f "$root/testcluster/go.$minor.mod" ] || { echo "capture-snapshots: no testcluster/go.$minor.mod" >&2; exit 2; }
done

capture() {
  local minor=$1 dir out
  dir=$(mktemp -d "${TMPDIR:-/tmp}/k8s-client-capture-$minor.XXXXXX")
  out="$root/fake/snapshots/$minor"
  # Build (or find in the cache) first, so a cold build does not count against the start timeout.
  "$root/scripts/build-testcluster.sh" "$minor" >/dev/null
  trap 'K8S_MINOR='"$minor"' "$root/scripts/testcluster.sh" stop "'"$dir"'" >/dev/null; rm -rf "'"$dir"'"' EXIT
  K8S_MINOR=$minor "$root/scripts/testcluster.sh" start "$dir" >&2
  local server
  server=$(sed -n 's/^K8S_TESTCLUSTER_SERVER=//p' "$dir/env")
  rm -rf "$out.tmp"
  mkdir -p "$out.tmp"
  python3 - "$server" "$dir/pki" "$out.tmp" "$minor" <<'PY'
import gzip, json, os, ssl, sys, urllib.request

server, pki, out, minor = sys.argv[1:5]
ctx = ssl.create_default_context(cafile=os.path.join(pki, "ca.crt"))
ctx.load_cert_chain(os.path.join(pki, "admin.crt"), os.path.join(pki, "admin.key"))
host = server.split("://", 1)[1]
AGGREGATED = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
entries = []

def fetch(path, accept="application/json"):
    req = urllib.request.Request(server + path, headers={"Accept": accept})
    with urllib.request.urlopen(req, context=ctx, timeout=60) as resp:
        body = resp.read()
    # /api names the server's address, whose port is random: store the conventional 6443
    # so that reruns give identical files.
    body = body.replace(('"serverAddress":"%s"' % host).encode(), b'"serverAddress":"127.0.0.1:6443"')
    return body, resp.headers.get("Content-Type", "")

def save(path, name, accept="application/json"):
    body, ctype = fetch(path, accept)
    if accept == AGGREGATED and "apidiscovery.k8s.io" not in ctype:
        sys.exit(f"capture-snapshots: {path} answered {ctype!r} to the aggregated discovery Accept")
    file = name + ".json.gz"
    target = os.path.join(out, file)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    with open(target, "wb") as f:
        f.write(gzip.compress(body, compresslevel=9, mtime=0))
    entries.append({"path": path.split("?")[0], "accept": accept, "contentType": ctype, "file": file})
    return body

version = json.loads(save("/version", "version"))
api = json.loads(save("/api", "api"))
apis = json.loads(save("/apis", "apis"))
for v in api["versions"]:
    save(f"/api/{v}", f"api/{v}")
for g in apis["groups"]:
    for v in g["versions"]:
        gv = v["groupVersion"]
        save(f"/apis/{gv}", f"apis/{gv}")
save("/api", "aggregated-api", AGGREGATED)
save("/apis", "aggregated-apis", AGGREGATED)
openapi = json.loads(save("/openapi/v3", "openapi-v3"))
for path, ref in sorted(openapi["paths"].items()):
    url = ref["serverRelativeURL"]
    save(url, "openapi-v3/" + path)
index = {"minor": minor, "gitVersion": version["gitVersion"], "entries": entries}
with open(os.path.join(out, "index.json"), "w") as f:
    json.dump(index, f, indent=1, sort_keys=True)
    f.write("\n")
PY
  rm -rf "$out"
  mv "$out.tmp" "$out"
  K8S_MINOR=$minor "$root/scripts/testcluster.sh" stop "$dir" >/dev/null
  rm -rf "$dir"
  trap - EXIT
  echo "capture-snapshots: $minor: $(find "$out" -name '*.json.gz' | wc -l) files, $(du -sk "$out" | cut -f1) KiB in ${out#"$root"/}" >&2
}

for minor in "$@"; do
  capture "$minor"
done
