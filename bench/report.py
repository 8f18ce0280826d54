#!/usr/bin/env python3
"""Markdown tables for bench/run.sh: medians of the JSON lines one row's runs printed.

    report.py decode|list|informer|throughput FILE
    report.py alloc-decode|alloc-list|alloc-informer FILE     (bench/run.sh --allocators)

Every run prints one JSON line with at least "client" ("k8s-client", "kube-rs", "client-go",
"client-go protobuf", ...). The ratios are against kube-rs (JSON, its only format) and against
client-go in the same format. A missing median is an error naming the client, not an empty cell.
The alloc-* tables compare our client built with each global allocator (every line's
"allocator": "system", "mimalloc", "jemalloc"); their ratios are against the system allocator.
"""
import json
import statistics
import sys


def load(path):
    return [json.loads(line) for line in open(path) if line.startswith("{")]


def name(row):
    """The client without the format suffix the Go commands add."""
    return row["client"].removesuffix(" protobuf")


def fmt_of(row):
    return row.get("format") or ("protobuf" if row["client"].endswith(" protobuf") else "json")


def median_by(rows, row_name, field, keys, **want):
    vals = [r[field] for r in rows if all(keys[k](r) == v for k, v in want.items())]
    if not vals:
        sys.exit(f"bench/run.sh: {row_name} row: no result for "
                 + ", ".join(f"{k} {v}" for k, v in want.items()))
    return statistics.median(vals)


def x(a, b):
    return f"{a / b:.2f}x"


def mib(b):
    return f"{b / 2**20:,.0f} MiB"


def decode(rows):
    keys = {"client": name, "format": fmt_of}

    def med(client, fmt, field):
        return median_by(rows, "decode", field, keys, client=client, format=fmt)
    size = {r["format"]: r["bytes"] for r in rows}
    n = rows[0]["objects"]
    print(f"\n## 1. Decode\n\nDecoding one list of {n:,} Pods (JSON {size['json'] / 1e6:.1f} MB, protobuf "
          f"{size['protobuf'] / 1e6:.1f} MB; median of 3, each the mean of 5 decodes after a warm-up)\n")
    print("Pods/s is wall-clock throughput. CPU/Pod is the process's CPU time (all threads) per "
          "Pod: our protobuf decoder hands large lists to helper threads (past the first MiB, up to "
          "one per extra core), and Go's garbage collector runs on other threads too.\n")
    print("| decoder | format | MB/s | Pods/s | CPU/Pod | vs kube-rs (JSON) | vs client-go (same format) |")
    print("|---|---|---|---|---|---|---|")
    base = med("kube-rs", "json", "objects_per_s")
    for client, fmt in (("k8s-client", "json"), ("kube-rs", "json"), ("client-go", "json"),
                        ("k8s-client", "protobuf"), ("client-go", "protobuf")):
        mb, ops = med(client, fmt, "mb_per_s"), med(client, fmt, "objects_per_s")
        cpu = med(client, fmt, "cpu_seconds_each") / n * 1e6
        go = med("client-go", fmt, "objects_per_s")
        print(f"| {client} | {fmt} | {mb:.1f} | {int(ops):,} | {cpu:.0f} µs | {x(ops, base)} | {x(ops, go)} |")


CLIENTS = (("k8s-client", "json"), ("k8s-client", "protobuf"), ("kube-rs", "json"),
           ("client-go", "json"), ("client-go", "protobuf"))


def list_(rows):
    keys = {"client": name, "format": fmt_of, "pods": lambda r: r["objects"]}
    print("\n## 2. List\n\nOne LIST of all the namespace's Pods without a limit (one request, one "
          "response), after a `limit=1` LIST that opened the connection; median of 3 fresh processes. "
          "CPU is the process's user + sys time (getrusage) around the LIST; peak RSS is ru_maxrss "
          "with the list still alive. Ratios: vs kube-rs / vs client-go in the same format.\n")
    print("| Pods | client | format | wall | CPU | peak RSS | wall vs kube-rs / client-go "
          "| CPU vs kube-rs / client-go | RSS vs kube-rs / client-go |")
    print("|---|---|---|---|---|---|---|---|---|")
    for n in sorted({r["objects"] for r in rows}):
        def med(client, fmt, field):
            return median_by(rows, "list", field, keys, client=client, format=fmt, pods=n)
        for client, fmt in CLIENTS:
            cells = []
            ratios = []
            for field, show in (("wall_ms", lambda v: f"{v:,.0f} ms"), ("cpu_ms", lambda v: f"{v:,.0f} ms"),
                                ("peak_rss_bytes", mib)):
                v = med(client, fmt, field)
                cells.append(show(v))
                ratios.append(f"{x(v, med('kube-rs', 'json', field))} / {x(v, med('client-go', fmt, field))}")
            print(f"| {n:,} | {client} | {fmt} | {' | '.join(cells)} | {' | '.join(ratios)} |")


def informer(rows):
    keys = {"client": lambda r: r["client"], "strip": lambda r: r["strip_managed_fields"],
            "pods": lambda r: r["objects"]}
    print("\n## 3. Informer\n\nInformer over all the namespace's Pods: time from creating it to synced, "
          "and live heap bytes per cached Pod one second after sync (median of 3 fresh processes). "
          "Ratios: vs kube-rs / vs client-go protobuf: protobuf is what both our `Api` and "
          "client-go's typed clients speak by default for built-in kinds, and what our informer "
          "rows use. The client-go row sets JSON explicitly.\n")
    print("| Pods | informer | managedFields | time to synced | vs kube-rs / client-go | bytes/Pod "
          "| vs kube-rs | vs client-go | peak RSS |")
    print("|---|---|---|---|---|---|---|---|---|")
    for n in sorted({r["objects"] for r in rows}):
        for strip in (False, True):
            def med(client, field):
                return median_by(rows, "informer", field, keys, client=client, strip=strip, pods=n)
            kb, gb = med("kube-rs", "bytes_per_object"), med("client-go protobuf", "bytes_per_object")
            ks, gs = med("kube-rs", "sync_ms"), med("client-go protobuf", "sync_ms")
            for client in ("k8s-client", "k8s-client compact", "kube-rs", "client-go",
                           "client-go protobuf", "k8s-client metadata-only"):
                b, ms, rss = med(client, "bytes_per_object"), med(client, "sync_ms"), med(client, "peak_rss_bytes")
                print(f"| {n:,} | {client} | {'stripped' if strip else 'kept'} | {ms:,.0f} ms "
                      f"| {x(ms, ks)} / {x(ms, gs)} | {b:,.0f} | {x(b, kb)} | {x(b, gb)} | {mib(rss)} |")
    print("\nclient-go: Go's runtime.MemStats.HeapAlloc after runtime.GC() (live heap objects); the Rust")
    print("clients: a counting global allocator's live bytes. Both are after sync minus before the informer.")
    print("client-go 0.36 syncs with a streaming watch-list; kube-rs's watcher lists.")
    print("\nFormats: client-go's typed clients ask for protobuf when `ContentType` is unset, so its")
    print("JSON rows set `application/json` explicitly; every client-go response is checked to be in")
    print("the row's format, and our protobuf rows ask for protobuf only and check the handle never")
    print("fell back to JSON.")
    print("\n\"stripped\": kube-rs and client-go drop managedFields in a transform after decoding them; ours")
    print("uses `InformerOptions::without_managed_fields`, whose protobuf decoding skips them. \"k8s-client")
    print("compact\": `InformerOptions::compact`, each cached object kept as LZ4-compressed JSON and")
    print("decoded on read; the initial list is packed as it arrives.")


def throughput(rows):
    keys = {"client": name, "format": fmt_of}
    r0 = rows[0]
    print(f"\n## 4. Request throughput\n\n{r0['requests']:,} GETs of one small ConfigMap from "
          f"{r0['concurrency']} concurrent tasks/goroutines, client-side rate limiting off, after one "
          "warm-up wave that opened the connections (median of 3 fresh processes). CPU is the "
          "process's user + sys time (getrusage) over the GETs divided by their number. "
          "k8s-client and client-go speak HTTP/2 (one connection); kube-rs's client HTTP/1.1 "
          "(one connection per request in flight).\n")
    print("| client | format | requests/s | vs kube-rs | vs client-go | CPU per request "
          "| vs kube-rs | vs client-go | peak RSS |")
    print("|---|---|---|---|---|---|---|---|---|")

    def med(client, fmt, field):
        return median_by(rows, "throughput", field, keys, client=client, format=fmt)
    for client, fmt in CLIENTS:
        rps, cpu, rss = med(client, fmt, "requests_per_s"), med(client, fmt, "cpu_us_per_request"), med(client, fmt, "peak_rss_bytes")
        print(f"| {client} | {fmt} | {rps:,.0f} | {x(rps, med('kube-rs', 'json', 'requests_per_s'))} "
              f"| {x(rps, med('client-go', fmt, 'requests_per_s'))} | {cpu:,.0f} µs "
              f"| {x(cpu, med('kube-rs', 'json', 'cpu_us_per_request'))} "
              f"| {x(cpu, med('client-go', fmt, 'cpu_us_per_request'))} | {mib(rss)} |")


ALLOCATORS = ("system", "mimalloc", "jemalloc")


# What the alloc-* tables select runs by; "cache" is the client without its "(allocator)".
ALLOC_KEYS = {"allocator": lambda r: r["allocator"], "format": fmt_of,
              "cache": lambda r: r["client"].split(" (")[0],
              "strip": lambda r: r.get("strip_managed_fields")}


def alloc_med(rows, row_name, field, **want):
    return median_by(rows, row_name, field, ALLOC_KEYS, **want)


def spread(rows, field, **want):
    """The lowest and highest of the runs a median was taken from (after alloc_med found them)."""
    vals = [r[field] for r in rows if all(ALLOC_KEYS[k](r) == v for k, v in want.items())]
    return min(vals), max(vals)


def ms_range(lo, hi):
    return f"{lo:,.0f}-{hi:,.0f}"


def alloc_decode(rows):
    n = rows[0]["objects"]
    print(f"\n## 1. Decode under each allocator\n\nDecoding the same saved list of {n:,} Pods "
          "(`decode --mode ours`; median of 3 fresh processes, each the mean of 5 decodes after a "
          "warm-up). CPU/Pod counts all threads (large protobuf lists are decoded on helper "
          "threads too). Peak RSS: the process's ru_maxrss, with the body and one decoded list alive.\n")
    print("| format | allocator | MB/s | Pods/s | CPU/Pod | peak RSS | Pods/s vs system | CPU vs system | RSS vs system |")
    print("|---|---|---|---|---|---|---|---|---|")
    for fmt in ("json", "protobuf"):
        def med(a, field):
            return alloc_med(rows, "decode", field, allocator=a, format=fmt)
        for a in ALLOCATORS:
            ops, cpu, rss = med(a, "objects_per_s"), med(a, "cpu_seconds_each"), med(a, "peak_rss_bytes")
            print(f"| {fmt} | {a} | {med(a, 'mb_per_s'):.1f} | {int(ops):,} | {cpu / n * 1e6:.0f} µs | {mib(rss)} "
                  f"| {x(ops, med('system', 'objects_per_s'))} | {x(cpu, med('system', 'cpu_seconds_each'))} "
                  f"| {x(rss, med('system', 'peak_rss_bytes'))} |")


def alloc_list(rows):
    n = rows[0]["objects"]
    print(f"\n## 2. List under each allocator\n\nOne LIST of {n:,} Pods without a limit after a "
          "`limit=1` LIST that opened the connection (`list --mode ours`; median of 3 fresh "
          "processes, the lowest-highest wall time in brackets). CPU: user + sys around the LIST; "
          "peak RSS: ru_maxrss with the list alive.\n")
    print("| format | allocator | wall | CPU | peak RSS | wall vs system | CPU vs system | RSS vs system |")
    print("|---|---|---|---|---|---|---|---|")
    for fmt in ("json", "protobuf"):
        def med(a, field):
            return alloc_med(rows, "list", field, allocator=a, format=fmt)
        for a in ALLOCATORS:
            wall, cpu, rss = med(a, "wall_ms"), med(a, "cpu_ms"), med(a, "peak_rss_bytes")
            lo, hi = spread(rows, "wall_ms", allocator=a, format=fmt)
            print(f"| {fmt} | {a} | {wall:,.0f} ms ({ms_range(lo, hi)}) | {cpu:,.0f} ms | {mib(rss)} "
                  f"| {x(wall, med('system', 'wall_ms'))} | {x(cpu, med('system', 'cpu_ms'))} "
                  f"| {x(rss, med('system', 'peak_rss_bytes'))} |")


def alloc_informer(rows):
    n = rows[0]["objects"]
    print(f"\n## 3. Informer under each allocator\n\nA protobuf informer over {n:,} Pods "
          "(`informer_memory --mode ours [--compact] [--strip]`): time and CPU (all threads) from "
          "creating it to synced, the lowest-highest time in brackets; peak RSS; RSS one second "
          "after sync (what the allocator kept of the peak); live heap bytes per cached Pod "
          "(median of 3 fresh processes). The live bytes come from a counting `cap::Cap` around "
          "each allocator and count the sizes asked for, so they match across allocators by "
          "construction; RSS is where an allocator's own overhead and what it gives back show.\n")
    print("| cache | managedFields | allocator | time to synced | CPU to synced | peak RSS | RSS after sync "
          "| bytes/Pod | time vs system | CPU vs system | peak RSS vs system | RSS after vs system |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for cache in ("k8s-client", "k8s-client compact"):
        for strip in (False, True):
            def med(a, field):
                return alloc_med(rows, "informer", field, allocator=a, cache=cache, strip=strip)
            for a in ALLOCATORS:
                ms, cpu = med(a, "sync_ms"), med(a, "sync_cpu_ms")
                peak, rss, b = med(a, "peak_rss_bytes"), med(a, "rss_bytes"), med(a, "bytes_per_object")
                lo, hi = spread(rows, "sync_ms", allocator=a, cache=cache, strip=strip)
                label = "compact" if cache.endswith("compact") else "default"
                print(f"| {label} | {'stripped' if strip else 'kept'} | {a} | {ms:,.0f} ms ({ms_range(lo, hi)}) "
                      f"| {cpu:,.0f} ms | {mib(peak)} | {mib(rss)} | {b:,.0f} "
                      f"| {x(ms, med('system', 'sync_ms'))} | {x(cpu, med('system', 'sync_cpu_ms'))} "
                      f"| {x(peak, med('system', 'peak_rss_bytes'))} | {x(rss, med('system', 'rss_bytes'))} |")


if __name__ == "__main__":
    table = {"decode": decode, "list": list_, "informer": informer, "throughput": throughput,
             "alloc-decode": alloc_decode, "alloc-list": alloc_list, "alloc-informer": alloc_informer}
    if len(sys.argv) != 3 or sys.argv[1] not in table:
        sys.exit("usage: report.py decode|list|informer|throughput|alloc-decode|alloc-list|alloc-informer FILE")
    rows = load(sys.argv[2])
    if not rows:
        sys.exit(f"bench/run.sh: {sys.argv[1]} row: no results")
    table[sys.argv[1]](rows)
