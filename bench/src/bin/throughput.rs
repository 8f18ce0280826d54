//! Request throughput: N GETs of one small ConfigMap at a fixed concurrency, client-side rate
//! limiting off, ours (HTTP/2, JSON or protobuf) vs kube-rs (its default client); bench/go's
//! `throughput` is client-go.
//!
//! ```sh
//! throughput --mode ours [--protobuf] [--requests 20000] [--concurrency 64]
//! throughput --mode kube-rs [--requests 20000] [--concurrency 64]
//! ```
//! The ConfigMap (`--name`, default bench-small, in `--namespace`, default bench-throughput) is
//! created when missing. One warm-up wave of `concurrency` GETs opens the connections, then
//! `concurrency` tasks share the N GETs; any failed GET fails the run. Reports requests/s and
//! the process's CPU time (getrusage user + sys over the timed part) per request as one line
//! of JSON, read by bench/run.sh.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context};
use k8s_client_bench::{
    ensure_format, flags, ours_api, ours_client, usage, Allocator, ALLOCATOR, ALLOCATOR_NAME,
};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};

#[global_allocator]
static GLOBAL: Allocator = ALLOCATOR;

struct Settings {
    ns: String,
    name: String,
    requests: usize,
    concurrency: usize,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let flags = flags();
    let num = |name: &str, default: usize| -> anyhow::Result<usize> {
        Ok(flags
            .get(name)
            .map(|s| s.parse())
            .transpose()?
            .unwrap_or(default))
    };
    let s = Settings {
        ns: flags
            .get("namespace")
            .cloned()
            .unwrap_or_else(|| "bench-throughput".into()),
        name: flags
            .get("name")
            .cloned()
            .unwrap_or_else(|| "bench-small".into()),
        requests: num("requests", 20_000)?,
        concurrency: num("concurrency", 64)?,
    };
    let protobuf = flags.contains_key("protobuf");
    let (client, (wall, cpu)) = match flags.get("mode").map(String::as_str) {
        Some("ours") => ("k8s-client", ours(&s, protobuf).await?),
        Some("kube-rs") if protobuf => bail!("kube-rs has no protobuf"),
        Some("kube-rs") => ("kube-rs", kube_rs(&s).await?),
        other => bail!("--mode ours|kube-rs is required (got {other:?})"),
    };
    println!(
        "{}",
        serde_json::json!({
            "client": client, "allocator": ALLOCATOR_NAME, "format": if protobuf { "protobuf" } else { "json" },
            "requests": s.requests, "concurrency": s.concurrency, "wall_s": wall,
            "requests_per_s": s.requests as f64 / wall,
            "cpu_us_per_request": cpu * 1e6 / s.requests as f64,
            "peak_rss_bytes": usage().max_rss_bytes,
        })
    );
    Ok(())
}

/// Runs `get` `requests` times on `concurrency` tasks after one warm-up wave; (wall seconds,
/// CPU seconds) of the timed part.
async fn drive<F, Fut>(s: &Settings, who: &str, get: F) -> anyhow::Result<(f64, f64)>
where
    F: Fn() -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = anyhow::Result<()>> + Send,
{
    let wave = |count: usize| {
        let next = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..s.concurrency)
            .map(|_| {
                let (get, next) = (get.clone(), next.clone());
                tokio::spawn(async move {
                    while next.fetch_add(1, Ordering::Relaxed) < count {
                        get().await?;
                    }
                    anyhow::Ok(())
                })
            })
            .collect();
        async move {
            for task in tasks {
                task.await??;
            }
            anyhow::Ok(())
        }
    };
    wave(s.concurrency)
        .await
        .with_context(|| format!("{who}: warm-up GETs"))?;
    let (before, start) = (usage(), Instant::now());
    wave(s.requests)
        .await
        .with_context(|| format!("{who}: GETs"))?;
    let (wall, after) = (start.elapsed().as_secs_f64(), usage());
    Ok((wall, after.cpu_seconds - before.cpu_seconds))
}

fn small_config_map(name: &str) -> ConfigMap {
    let mut cm = ConfigMap::default();
    cm.metadata.name = Some(name.to_string());
    cm.data = Some([("greeting".to_string(), "hello".to_string())].into());
    cm
}

async fn ours(s: &Settings, protobuf: bool) -> anyhow::Result<(f64, f64)> {
    use k8s_client::api::PostParams;
    let client = ours_client().await?;
    let nss: k8s_client::Api<Namespace> = k8s_client::Api::all(client.clone());
    if nss.get_opt(&s.ns).await?.is_none() {
        let mut obj = Namespace::default();
        obj.metadata.name = Some(s.ns.clone());
        nss.create(&PostParams::default(), &obj).await?;
    }
    let cms: k8s_client::Api<ConfigMap> = k8s_client::Api::namespaced(client, &s.ns);
    if cms.get_opt(&s.name).await?.is_none() {
        cms.create(&PostParams::default(), &small_config_map(&s.name))
            .await?;
    }
    let api = Arc::new(ours_api(cms, protobuf));
    let name: Arc<str> = s.name.as_str().into();
    let measured = drive(s, "k8s-client", {
        let api = api.clone();
        move || {
            let (api, name) = (api.clone(), name.clone());
            async move {
                api.get(&name).await?;
                Ok(())
            }
        }
    })
    .await?;
    ensure_format(&api, protobuf)?;
    Ok(measured)
}

async fn kube_rs(s: &Settings) -> anyhow::Result<(f64, f64)> {
    use kube::api::PostParams;
    let client = kube::Client::try_default().await?;
    let nss: kube::Api<Namespace> = kube::Api::all(client.clone());
    if nss.get_opt(&s.ns).await?.is_none() {
        let mut obj = Namespace::default();
        obj.metadata.name = Some(s.ns.clone());
        nss.create(&PostParams::default(), &obj).await?;
    }
    let cms: kube::Api<ConfigMap> = kube::Api::namespaced(client, &s.ns);
    if cms.get_opt(&s.name).await?.is_none() {
        cms.create(&PostParams::default(), &small_config_map(&s.name))
            .await?;
    }
    let name: Arc<str> = s.name.as_str().into();
    drive(s, "kube-rs", move || {
        let (api, name) = (cms.clone(), name.clone());
        async move {
            api.get(&name).await?;
            Ok(())
        }
    })
    .await
}
