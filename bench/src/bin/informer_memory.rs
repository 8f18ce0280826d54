//! Memory per cached Pod: ours vs kube-rs, measured the same way in separate processes.
//!
//! ```sh
//! informer_memory --mode seed --namespace bench-mem --pods 10000   # create the Pods once
//! informer_memory --mode kube-rs --namespace bench-mem [--strip]
//! informer_memory --mode ours --namespace bench-mem [--strip] [--list-watch] [--compact]
//! informer_memory --mode ours-metadata --namespace bench-mem [--strip]
//! ```
//! Each mode starts a reflector/informer over the namespace's Pods, waits until it has synced,
//! lets it settle for a second, and reports the bytes still allocated (a counting global
//! allocator: live heap bytes after sync minus before the informer was made) divided by the
//! number of cached Pods. `--strip` drops managedFields before objects are cached (ours: with
//! `InformerOptions::without_managed_fields`, which skips them while decoding); `--compact`
//! gives our informer a compact store (objects packed, decoded on read). The
//! kubeconfig comes from $KUBECONFIG. The JSON line also has the CPU time to synced, the
//! peak RSS and the RSS after the settling second, and the global allocator the binary was
//! built with (the bench crate's `alloc-*` features; `bench/run.sh --allocators`).

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use cap::Cap;
use futures::StreamExt;
use k8s_client_bench::{
    ensure_format, flags, ours_api, peak_rss_bytes, pod_name, realistic_pod, realistic_status,
    rss_bytes, usage, Allocator, ALLOCATOR, ALLOCATOR_NAME,
};
use k8s_openapi::api::core::v1::{Namespace, Pod};

/// The allocator the bench crate was built with (system, mimalloc or jemalloc), wrapped to
/// count live bytes. `Cap` counts the sizes asked for, so bytes/Pod is the same under every
/// allocator; what each allocator adds on top shows in the RSS figures.
#[global_allocator]
static ALLOC: Cap<Allocator> = Cap::new(ALLOCATOR, usize::MAX);

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let flags = flags();
    let ns = flags
        .get("namespace")
        .cloned()
        .unwrap_or_else(|| "bench-mem".into());
    let strip = flags.contains_key("strip");
    match flags.get("mode").map(String::as_str) {
        Some("seed") => {
            let n: usize = flags
                .get("pods")
                .map(|s| s.parse())
                .transpose()?
                .unwrap_or(10_000);
            seed(&ns, n).await
        }
        Some("kube-rs") => report("kube-rs", strip, kube_rs(&ns, strip).await?),
        Some("ours") => {
            let list_watch = flags.contains_key("list-watch");
            let compact = flags.contains_key("compact");
            let who = if compact {
                "k8s-client compact"
            } else {
                "k8s-client"
            };
            report(who, strip, ours(&ns, strip, list_watch, compact).await?)
        }
        Some("ours-metadata") => report(
            "k8s-client metadata-only",
            strip,
            ours_metadata(&ns, strip).await?,
        ),
        other => bail!("--mode seed|kube-rs|ours is required (got {other:?})"),
    }
}

/// What one informer run measured.
struct Measured {
    /// Cached objects.
    n: usize,
    /// Live heap bytes one second after sync minus before the informer.
    bytes: usize,
    /// From creating the informer to synced.
    took: Duration,
    /// The process's CPU time (user + sys, all threads) over the same span.
    cpu: f64,
}

/// A reading of the clocks: the wall clock and the process's CPU seconds so far.
type Clocks = (Instant, f64);

/// Reads the clocks (before the informer is made, and once it has synced).
fn clocks() -> Clocks {
    (Instant::now(), usage().cpu_seconds)
}

/// A run's figures from its two clock readings.
fn measured(
    n: usize,
    bytes: usize,
    (start, cpu_start): Clocks,
    (end, cpu_end): Clocks,
) -> Measured {
    Measured {
        n,
        bytes,
        took: end.duration_since(start),
        cpu: cpu_end - cpu_start,
    }
}

fn report(who: &str, strip: bool, m: Measured) -> anyhow::Result<()> {
    let Measured {
        n,
        bytes,
        took,
        cpu,
    } = m;
    if n == 0 {
        bail!("{who}: nothing was cached; seed the namespace first (--mode seed)");
    }
    // One line of JSON, read by bench/run.sh.
    println!(
        "{}",
        serde_json::json!({
            "client": who, "allocator": ALLOCATOR_NAME, "strip_managed_fields": strip,
            "objects": n, "bytes_per_object": bytes / n, "total_bytes": bytes,
            "sync_ms": took.as_millis() as u64, "sync_cpu_ms": (cpu * 1e3).round() as u64,
            "peak_rss_bytes": peak_rss_bytes(), "rss_bytes": rss_bytes(),
        })
    );
    Ok(())
}

async fn seed(ns: &str, n: usize) -> anyhow::Result<()> {
    use k8s_client::api::{Patch, PatchParams, PostParams};
    let mut config = k8s_client::Config::infer().await?;
    config.rate_limit = None;
    let client = k8s_client::Client::try_from(config)?;
    let nss: k8s_client::Api<Namespace> = k8s_client::Api::all(client.clone());
    if nss.get_opt(ns).await?.is_none() {
        let mut obj = Namespace::default();
        obj.metadata.name = Some(ns.to_string());
        nss.create(&PostParams::default(), &obj).await?;
    }
    let pods: k8s_client::Api<Pod> = k8s_client::Api::namespaced(client, ns);
    let start = Instant::now();
    // Pods that exist and have their status are kept, so a second run is one paged LIST.
    let done: std::collections::HashSet<String> = pods
        .list_all(&k8s_client::api::ListParams::default().limit(1000))
        .await?
        .items
        .into_iter()
        .filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
        .filter_map(|p| p.metadata.name)
        .collect();
    let missing: Vec<usize> = (0..n).filter(|i| !done.contains(&pod_name(*i))).collect();
    if missing.is_empty() {
        eprintln!("{ns} already holds the {n} pods");
        return Ok(());
    }
    futures::stream::iter(missing)
        .map(|i| {
            let pods = pods.clone();
            async move {
                let pod = realistic_pod(i);
                let name = pod.metadata.name.clone().unwrap_or_default();
                match pods.create(&PostParams::default(), &pod).await {
                    Ok(_) => {}
                    Err(e) if e.is_already_exists() => {}
                    Err(e) => return Err(anyhow::Error::new(e).context(format!("creating {name}"))),
                }
                let status = Patch::Merge(realistic_status(i));
                pods.patch_status(&name, &PatchParams::default(), &status)
                    .await
                    .with_context(|| format!("setting the status of {name}"))?;
                Ok(())
            }
        })
        .buffer_unordered(32)
        .collect::<Vec<anyhow::Result<()>>>()
        .await
        .into_iter()
        .collect::<anyhow::Result<Vec<()>>>()?;
    eprintln!(
        "seeded {n} pods in {ns} in {:.1}s",
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

async fn kube_rs(ns: &str, strip: bool) -> anyhow::Result<Measured> {
    use kube::runtime::{reflector, watcher, WatchStreamExt};
    use kube::ResourceExt;
    let client = kube::Client::try_default().await?;
    let api: kube::Api<Pod> = kube::Api::namespaced(client, ns);
    let before = ALLOC.allocated();
    let start = clocks();
    let (reader, writer) = reflector::store::<Pod>();
    let events = watcher(api, watcher::Config::default()).default_backoff();
    let events = if strip {
        events
            .modify(|pod| {
                pod.managed_fields_mut().clear();
            })
            .boxed()
    } else {
        events.boxed()
    };
    let driver = tokio::spawn(events.reflect(writer).for_each(|_| async {}));
    reader.wait_until_ready().await?;
    let synced = clocks();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let n = reader.state().len();
    let bytes = ALLOC.allocated().saturating_sub(before);
    driver.abort();
    Ok(measured(n, bytes, start, synced))
}

async fn ours(ns: &str, strip: bool, list_watch: bool, compact: bool) -> anyhow::Result<Measured> {
    use k8s_client::cache::{InformerOptions, SharedInformer, WatchListMode};
    let client = k8s_client::Client::try_default().await?;
    // Protobuf, our default for built-in kinds, as client-go's typed clients default to it.
    let api = ours_api(k8s_client::Api::<Pod>::namespaced(client, ns), true);
    let before = ALLOC.allocated();
    let start = clocks();
    let mut options = InformerOptions::default();
    if strip {
        // Our option for it: protobuf decoding skips them instead of building them.
        options = options.without_managed_fields();
    }
    if list_watch {
        options = options.watch_list(WatchListMode::Off);
    }
    if compact {
        options = options.compact();
    }
    let informer = SharedInformer::new(api.clone(), options);
    informer.start();
    informer.wait_for_sync().await;
    let synced = clocks();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let n = informer.store().len();
    let bytes = ALLOC.allocated().saturating_sub(before);
    informer.stop();
    ensure_format(&api, true)?;
    Ok(measured(n, bytes, start, synced))
}

/// The same informer over the metadata-only client: what a controller that needs only names,
/// labels and owners keeps.
async fn ours_metadata(ns: &str, strip: bool) -> anyhow::Result<Measured> {
    use k8s_client::api::ApiResource;
    use k8s_client::cache::{strip_managed_fields, InformerOptions, SharedInformer};
    use k8s_client::metadata::MetadataApi;
    let client = k8s_client::Client::try_default().await?;
    let api = MetadataApi::namespaced_with(client, ns, &ApiResource::of::<Pod>());
    let before = ALLOC.allocated();
    let start = clocks();
    let mut options = InformerOptions::default();
    if strip {
        options = options.transform(strip_managed_fields());
    }
    let informer = SharedInformer::new(api, options);
    informer.start();
    informer.wait_for_sync().await;
    let synced = clocks();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let n = informer.store().len();
    let bytes = ALLOC.allocated().saturating_sub(before);
    informer.stop();
    Ok(measured(n, bytes, start, synced))
}
