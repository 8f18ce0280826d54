//! Shared pieces of the benchmarks: realistic test objects, measurement helpers and the
//! global allocator the binaries are built with.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Pod;
use serde_json::json;

#[cfg(all(feature = "alloc-mimalloc", feature = "alloc-jemalloc"))]
compile_error!(
    "choose one allocator: the features alloc-mimalloc and alloc-jemalloc exclude each other"
);

/// The global allocator the benchmark binaries are built with: the system allocator (glibc's
/// malloc) unless a feature picks mimalloc (`alloc-mimalloc`) or jemalloc (`alloc-jemalloc`).
/// Each binary installs [`ALLOCATOR`] (or wraps it in a counting `cap::Cap`, as
/// informer_memory does) with `#[global_allocator]`.
#[cfg(not(any(feature = "alloc-mimalloc", feature = "alloc-jemalloc")))]
pub type Allocator = std::alloc::System;
/// The global allocator the benchmark binaries are built with (here mimalloc).
#[cfg(all(feature = "alloc-mimalloc", not(feature = "alloc-jemalloc")))]
pub type Allocator = mimalloc::MiMalloc;
/// The global allocator the benchmark binaries are built with (here jemalloc).
#[cfg(all(feature = "alloc-jemalloc", not(feature = "alloc-mimalloc")))]
pub type Allocator = tikv_jemallocator::Jemalloc;

/// The value of [`Allocator`], for `#[global_allocator]` statics.
#[cfg(not(any(feature = "alloc-mimalloc", feature = "alloc-jemalloc")))]
pub const ALLOCATOR: Allocator = std::alloc::System;
/// The value of [`Allocator`], for `#[global_allocator]` statics.
#[cfg(all(feature = "alloc-mimalloc", not(feature = "alloc-jemalloc")))]
pub const ALLOCATOR: Allocator = mimalloc::MiMalloc;
/// The value of [`Allocator`], for `#[global_allocator]` statics.
#[cfg(all(feature = "alloc-jemalloc", not(feature = "alloc-mimalloc")))]
pub const ALLOCATOR: Allocator = tikv_jemallocator::Jemalloc;

/// The name of [`Allocator`] as the results print it ("system", "mimalloc", "jemalloc"): every
/// binary adds it to its JSON line as `"allocator"`.
pub const ALLOCATOR_NAME: &str = if cfg!(feature = "alloc-mimalloc") {
    "mimalloc"
} else if cfg!(feature = "alloc-jemalloc") {
    "jemalloc"
} else {
    "system"
};

/// A Pod shaped like one a Deployment would make: two containers with env, probes, resources
/// and volume mounts, labels and annotations (~7.5 KB of JSON once the server adds managedFields
/// and status). No owner reference: the garbage collector would delete Pods whose ReplicaSet
/// does not exist.
pub fn realistic_pod(i: usize) -> Pod {
    let name = pod_name(i);
    let value = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "labels": {"app": "bench", "pod-template-hash": "7c9d8b6f5d", "tier": "backend", "release": "stable"},
            "annotations": {
                "kubectl.kubernetes.io/restartedAt": "2026-11-01T10:00:00Z",
                "prometheus.io/scrape": "true", "prometheus.io/port": "9090"
            }
        },
        "spec": {
            "containers": [
                {
                    "name": "app", "image": "registry.example/team/app:1.24.3",
                    "args": ["--port=8080", "--log-level=info", "--metrics-port=9090"],
                    "ports": [{"name": "http", "containerPort": 8080}, {"name": "metrics", "containerPort": 9090}],
                    "env": [
                        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                        {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
                        {"name": "GOMAXPROCS", "value": "2"},
                        {"name": "FEATURE_FLAGS", "value": "alpha,beta,gamma"}
                    ],
                    "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}},
                    "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080}, "periodSeconds": 5},
                    "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080}, "initialDelaySeconds": 10},
                    "volumeMounts": [{"name": "config", "mountPath": "/etc/app"}, {"name": "cache", "mountPath": "/var/cache/app"}]
                },
                {
                    "name": "sidecar", "image": "registry.example/infra/proxy:2.8.1",
                    "args": ["proxy", "--upstream=127.0.0.1:8080"],
                    "ports": [{"name": "proxy", "containerPort": 15001}],
                    "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}}
                }
            ],
            "volumes": [
                {"name": "config", "configMap": {"name": "bench-config"}},
                {"name": "cache", "emptyDir": {}}
            ],
            "serviceAccountName": "default",
            "terminationGracePeriodSeconds": 30,
            "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}]
        }
    });
    serde_json::from_value(value).expect("static pod JSON is valid")
}

/// The name of the `i`th benchmark Pod.
pub fn pod_name(i: usize) -> String {
    format!("bench-{i:06}")
}

/// A realistic status for a running Pod (set through the status subresource).
pub fn realistic_status(i: usize) -> serde_json::Value {
    let ip = format!("10.244.{}.{}", (i / 250) % 250, i % 250 + 1);
    let cond = |t: &str| json!({"type": t, "status": "True", "lastTransitionTime": "2026-11-01T10:00:05Z"});
    let cs = |name: &str, image: &str| {
        json!({
            "name": name, "ready": true, "restartCount": 0, "started": true, "image": image,
            "imageID": format!("{image}@sha256:4b1c0de5e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c"),
            "containerID": format!("containerd://{:064x}", i),
            "state": {"running": {"startedAt": "2026-11-01T10:00:03Z"}}
        })
    };
    json!({"status": {
        "phase": "Running", "hostIP": "172.18.0.3", "podIP": ip, "podIPs": [{"ip": ip}],
        "startTime": "2026-11-01T10:00:01Z", "qosClass": "Burstable",
        "conditions": [cond("PodReadyToStartContainers"), cond("Initialized"), cond("Ready"), cond("ContainersReady"), cond("PodScheduled")],
        "containerStatuses": [cs("app", "registry.example/team/app:1.24.3"), cs("sidecar", "registry.example/infra/proxy:2.8.1")]
    }})
}

/// The process's peak resident set size in bytes (`VmHWM`), when /proc tells it.
pub fn peak_rss_bytes() -> Option<u64> {
    proc_status_bytes("VmHWM:")
}

/// The process's resident set size now in bytes (`VmRSS`), when /proc tells it: after a
/// peak, how much of it the allocator kept or gave back.
pub fn rss_bytes() -> Option<u64> {
    proc_status_bytes("VmRSS:")
}

/// A size field (in kB) of /proc/self/status, in bytes.
fn proc_status_bytes(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Simple command-line flags: `--name value` pairs and bare `--flag`s.
pub fn flags() -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut args = std::env::args().skip(1).peekable();
    while let Some(a) = args.next() {
        if let Some(name) = a.strip_prefix("--") {
            let value = match args.peek() {
                Some(v) if !v.starts_with("--") => args.next().unwrap_or_default(),
                _ => "true".to_string(),
            };
            out.insert(name.to_string(), value);
        }
    }
    out
}

/// CPU time (user + system) this process has used so far, and its peak resident set size
/// (`ru_maxrss`), from `getrusage(RUSAGE_SELF)`.
#[derive(Clone, Copy, Debug)]
pub struct Usage {
    pub cpu_seconds: f64,
    pub max_rss_bytes: u64,
}

/// The process's [`Usage`] now. Take one before and one after the measured part.
pub fn usage() -> Usage {
    // SAFETY: getrusage only writes into the zeroed struct it is given.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    assert_eq!(rc, 0, "getrusage failed");
    let secs = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    Usage {
        cpu_seconds: secs(ru.ru_utime) + secs(ru.ru_stime),
        // Linux reports ru_maxrss in KiB.
        max_rss_bytes: ru.ru_maxrss as u64 * 1024,
    }
}

/// A k8s-client client from $KUBECONFIG without client-side rate limiting.
pub async fn ours_client() -> anyhow::Result<k8s_client::Client> {
    let config = k8s_client::Config::infer().await?;
    Ok(k8s_client::Client::try_from(config)?.with_rate_limiter(None))
}

/// The one place the benchmarks choose JSON or protobuf for our client: with the `protobuf`
/// feature, `Api<K>` of a built-in kind speaks protobuf by default and `json()` opts out.
/// Protobuf rows ask for protobuf only, so a server that would answer JSON refuses instead and
/// [`ensure_format`] catches the switch.
pub fn ours_api<K: k8s_client::Resource>(
    api: k8s_client::Api<K>,
    protobuf: bool,
) -> k8s_client::Api<K> {
    let api = if protobuf {
        api.protobuf_only()
    } else {
        api.json()
    };
    assert_eq!(api.uses_protobuf(), protobuf, "the wire format asked for");
    api
}

/// After a measurement: fails when `api` (or a clone of it) no longer speaks the format the
/// row is labelled with, because the server refused protobuf.
pub fn ensure_format<K: k8s_client::Resource>(
    api: &k8s_client::Api<K>,
    protobuf: bool,
) -> anyhow::Result<()> {
    anyhow::ensure!(
        api.uses_protobuf() == protobuf,
        "the {} row measured {}: the server refused protobuf",
        if protobuf { "protobuf" } else { "JSON" },
        if api.uses_protobuf() {
            "protobuf"
        } else {
            "JSON"
        },
    );
    Ok(())
}
