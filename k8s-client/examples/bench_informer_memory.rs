//! Memory benchmark: bytes per cached Pod in a shared informer's store, for 10,000 realistic
//! Pods (with managedFields, and with the transform that strips them).
//!
//! Measured with a counting global allocator: live heap bytes after the informer has synced
//! minus before it was created, divided by the number of Pods. The Pods are created through
//! the server in a fresh namespace (without a node they stay Pending) and deleted at the end.
//!
//! ```sh
//! cargo run --release -p k8s-client --features latest --example bench_informer_memory -- \
//!     --kubeconfig /path/to/kubeconfig [--pods 10000] [--keep]
//! ```

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::PathBuf;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_client::api::ApiResource;
use k8s_client::api::{DeleteParams, ListParams, PostParams};
use k8s_client::cache::{
    strip_managed_fields, InformerOptions, ListWatch, SharedInformer, WatchListMode,
};
use k8s_client::config::KubeConfigOptions;
use k8s_client::metadata::MetadataApi;
use k8s_client::{Api, Client, Config};
use k8s_openapi::api::core::v1::{Namespace, Pod};
use serde_json::json;

/// Counts live heap bytes.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator; only a counter is
// updated besides.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        }
        p
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE.fetch_add(
                new_size as isize - layout.size() as isize,
                Ordering::Relaxed,
            );
        }
        p
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn live() -> isize {
    LIVE.load(Ordering::Relaxed)
}

struct Args {
    kubeconfig: Option<PathBuf>,
    pods: usize,
    keep: bool,
    namespace: Option<String>,
}

fn args() -> Result<Args, String> {
    let mut a = Args {
        kubeconfig: None,
        pods: 10_000,
        keep: false,
        namespace: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--kubeconfig" => {
                a.kubeconfig = Some(it.next().ok_or("--kubeconfig needs a path")?.into())
            }
            "--pods" => {
                let n = it.next().ok_or("--pods needs a number")?;
                a.pods = n
                    .parse()
                    .map_err(|_| format!("--pods: {n:?} is not a number"))?;
            }
            "--keep" => a.keep = true,
            "--namespace" => a.namespace = Some(it.next().ok_or("--namespace needs a name")?),
            other => {
                return Err(format!(
                    "unknown argument {other:?} (use --kubeconfig PATH, --pods N, --keep, \
                     --namespace NS to reuse the Pods of an earlier --keep run)"
                ))
            }
        }
    }
    Ok(a)
}

/// A Pod as a Deployment would make it (without the owner reference: the garbage collector
/// would delete Pods whose ReplicaSet does not exist).
fn pod(i: usize) -> Pod {
    let hash = "7d9f8c6b5";
    serde_json::from_value(json!({
        "metadata": {
            "name": format!("web-{hash}-{i:05}"),
            "labels": {"app": "web", "tier": "frontend", "pod-template-hash": hash, "version": "v1.4.2"},
            "annotations": {
                "kubectl.kubernetes.io/restartedAt": "2026-01-01T00:00:00Z",
                "prometheus.io/scrape": "true",
                "prometheus.io/port": "9090"
            }
        },
        "spec": {
            "containers": [{
                "name": "web",
                "image": "registry.example.com/team/web:v1.4.2",
                "imagePullPolicy": "IfNotPresent",
                "args": ["--port=8080", "--metrics-port=9090", "--log-level=info"],
                "ports": [
                    {"name": "http", "containerPort": 8080, "protocol": "TCP"},
                    {"name": "metrics", "containerPort": 9090, "protocol": "TCP"}
                ],
                "env": [
                    {"name": "POD_NAME", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}},
                    {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}},
                    {"name": "LOG_FORMAT", "value": "json"},
                    {"name": "CACHE_SIZE", "value": "256Mi"}
                ],
                "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}},
                "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080, "scheme": "HTTP"}, "periodSeconds": 10},
                "livenessProbe": {"httpGet": {"path": "/livez", "port": 8080, "scheme": "HTTP"}, "periodSeconds": 20},
                "volumeMounts": [
                    {"name": "config", "mountPath": "/etc/web"},
                    {"name": "kube-api-access", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount", "readOnly": true}
                ],
                "terminationMessagePath": "/dev/termination-log",
                "terminationMessagePolicy": "File"
            }],
            "volumes": [
                {"name": "config", "configMap": {"name": "web-config", "defaultMode": 420}},
                {"name": "kube-api-access", "projected": {"defaultMode": 420, "sources": [
                    {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                    {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                    {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}
                ]}}
            ],
            "tolerations": [
                {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
                {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}
            ],
            "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 30,
            "dnsPolicy": "ClusterFirst",
            "securityContext": {"runAsNonRoot": true, "runAsUser": 1000, "fsGroup": 2000},
            "schedulerName": "default-scheduler",
            "serviceAccountName": "default",
            "enableServiceLinks": true
        }
    }))
    .expect("the pod template is valid")
}

async fn settle() -> isize {
    // Let tasks finish and buffers drop.
    tokio::time::sleep(Duration::from_millis(500)).await;
    live()
}

async fn measure<S: ListWatch>(
    api: &S,
    n: usize,
    label: &str,
    options: InformerOptions<S::Object>,
) {
    let before = settle().await;
    let started = Instant::now();
    let informer = SharedInformer::new(api.clone(), options);
    informer.start();
    informer.wait_for_sync().await;
    // The first list may be served (at resourceVersion 0) from a watch cache that is behind:
    // wait for the watch to bring the rest.
    let deadline = Instant::now() + Duration::from_secs(120);
    while informer.store().len() < n {
        if Instant::now() > deadline {
            println!(
                "{label}: the store has {} pods after 120 s, expected {n}",
                informer.store().len()
            );
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let synced = started.elapsed();
    let after = settle().await;
    let stats = informer.stats();
    let per_pod = (after - before) as f64 / n as f64;
    println!(
        "{label:<40} {per_pod:>9.0} bytes/pod  {:>8.1} MiB total  sync {synced:>8.2?}  (lists {}, streaming {})",
        (after - before) as f64 / (1024.0 * 1024.0),
        stats.lists,
        stats.streaming_lists
    );
    drop(informer);
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = args()?;
    let mut config = match &args.kubeconfig {
        Some(path) => {
            Config::from_kubeconfig(&KubeConfigOptions {
                path: Some(path.clone()),
                ..KubeConfigOptions::default()
            })
            .await?
        }
        None => Config::infer().await?,
    };
    config.rate_limit = None;
    let client = Client::try_from(config)?;
    let reuse = args.namespace.is_some();
    let ns_name = args
        .namespace
        .clone()
        .unwrap_or_else(|| format!("bench-mem-{}", std::process::id()));
    if !reuse {
        let mut ns = Namespace::default();
        ns.metadata.name = Some(ns_name.clone());
        Api::<Namespace>::all(client.clone())
            .create(&PostParams::default(), &ns)
            .await?;
    }
    let api: Api<Pod> = Api::namespaced(client.clone(), &ns_name);
    let outcome = run(&api, &args, reuse).await;
    if !args.keep {
        Api::<Namespace>::all(client)
            .delete(&ns_name, &DeleteParams::default())
            .await?;
        println!("deleted namespace {ns_name}");
    }
    outcome
}

async fn create_pods(api: &Api<Pod>, n: usize) -> Result<(), Box<dyn std::error::Error>> {
    let ns_name = api.namespace().unwrap_or_default();
    // One first, so a template the server rejects fails at once.
    api.create(
        &PostParams::default().field_manager("kube-controller-manager"),
        &pod(0),
    )
    .await?;
    let started = Instant::now();
    let creates = futures::stream::iter(1..n)
        .map(|i| {
            let api = api.clone();
            async move {
                api.create(
                    &PostParams::default().field_manager("kube-controller-manager"),
                    &pod(i),
                )
                .await
            }
        })
        .buffer_unordered(32);
    let results: Vec<_> = creates.collect().await;
    let failed = results.iter().filter(|r| r.is_err()).count();
    if let Some(Err(e)) = results.iter().find(|r| r.is_err()) {
        return Err(format!("{failed} of {} creates failed, first: {e}", n).into());
    }
    drop(results);
    println!(
        "created {} pods in {ns_name} in {:.1?}",
        n,
        started.elapsed()
    );

    Ok(())
}

async fn run(api: &Api<Pod>, args: &Args, reuse: bool) -> Result<(), Box<dyn std::error::Error>> {
    if !reuse {
        create_pods(api, args.pods).await?;
    }
    // For scale: the size of one Pod as JSON, as the server sends it.
    let sample = api.list(&ListParams::default().limit(1)).await?;
    if let Some(p) = sample.items.first() {
        let json = serde_json::to_vec(p)?.len();
        let managed = p
            .metadata
            .managed_fields
            .as_ref()
            .map(|m| serde_json::to_vec(m).map(|v| v.len()).unwrap_or(0))
            .unwrap_or(0);
        println!("one pod as JSON: {json} bytes, of which managedFields {managed} bytes");
    }
    drop(sample);
    // What the typed structs cost before any string or vector is allocated.
    {
        use k8s_openapi::api::core::v1::{Container, PodSpec, PodStatus, Volume};
        use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
        use std::mem::size_of;
        println!(
            "inline struct sizes: Pod {} B, ObjectMeta {} B, PodSpec {} B, PodStatus {} B, \
             Container {} B, Volume {} B",
            size_of::<Pod>(),
            size_of::<ObjectMeta>(),
            size_of::<PodSpec>(),
            size_of::<PodStatus>(),
            size_of::<Container>(),
            size_of::<Volume>()
        );
    }

    let n = args.pods;
    let off = WatchListMode::Off;
    measure(
        api,
        n,
        "list+watch, as served",
        InformerOptions::default().watch_list(off),
    )
    .await;
    measure(
        api,
        n,
        "list+watch, managedFields stripped",
        InformerOptions::default()
            .watch_list(off)
            .transform(strip_managed_fields()),
    )
    .await;
    measure(
        api,
        n,
        "streaming list (if served), as served",
        InformerOptions::default(),
    )
    .await;
    measure(
        api,
        n,
        "streaming list (if served), stripped",
        InformerOptions::default().transform(strip_managed_fields()),
    )
    .await;
    // Metadata only (client-go's metadata informer): what a controller that only needs
    // names, labels and owners keeps.
    let ns = api.namespace().unwrap_or_default();
    let metadata = MetadataApi::namespaced(api.client().clone(), &ApiResource::of::<Pod>(), ns);
    measure(
        &metadata,
        n,
        "metadata only, as served",
        InformerOptions::default(),
    )
    .await;
    measure(
        &metadata,
        n,
        "metadata only, stripped",
        InformerOptions::default().transform(strip_managed_fields()),
    )
    .await;

    Ok(())
}
