//! One LIST of a namespace's Pods (no `limit`, so one request and one response), timed in a
//! fresh process: ours (JSON or protobuf) vs kube-rs; bench/go's `list` is client-go.
//!
//! ```sh
//! list --mode ours --namespace bench-mem-10000 [--protobuf] [--decode-threads N]
//! list --mode kube-rs --namespace bench-mem-10000
//! ```
//! Before the timed LIST, one `limit=1` LIST in the same format opens the connection (TLS,
//! HTTP/2 settings), so the figures are the big LIST alone: wall time, CPU time (user + sys
//! from getrusage, after minus before) and the process's peak RSS (ru_maxrss) at the end,
//! with the decoded list still alive. Prints one line of JSON, read by bench/run.sh.
//! `--decode-threads N` sets our client's `Config::list_decode_threads` (default 4; `1`
//! decodes a protobuf list on the reading task alone).

use std::hint::black_box;
use std::time::Instant;

use anyhow::bail;
use k8s_client_bench::{
    ensure_format, flags, ours_api, ours_client, usage, Allocator, ALLOCATOR, ALLOCATOR_NAME,
};
use k8s_openapi::api::core::v1::Pod;

#[global_allocator]
static GLOBAL: Allocator = ALLOCATOR;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let flags = flags();
    let ns = flags
        .get("namespace")
        .cloned()
        .unwrap_or_else(|| "bench-mem-10000".into());
    let protobuf = flags.contains_key("protobuf");
    let threads: Option<usize> = flags.get("decode-threads").map(|s| s.parse()).transpose()?;
    let (client, format, measured) = match flags.get("mode").map(String::as_str) {
        Some("ours") => ("k8s-client", protobuf, ours(&ns, protobuf, threads).await?),
        Some("kube-rs") if threads.is_some() => bail!("--decode-threads is for --mode ours"),
        Some("kube-rs") if protobuf => bail!("kube-rs has no protobuf"),
        Some("kube-rs") => ("kube-rs", false, kube_rs(&ns).await?),
        other => bail!("--mode ours|kube-rs is required (got {other:?})"),
    };
    let (objects, wall, cpu) = measured;
    if objects == 0 {
        bail!("{client}: the list of {ns} is empty; seed it first (informer_memory --mode seed)");
    }
    println!(
        "{}",
        serde_json::json!({
            "client": client, "allocator": ALLOCATOR_NAME, "format": if format { "protobuf" } else { "json" },
            "objects": objects, "wall_ms": wall * 1e3, "cpu_ms": cpu * 1e3,
            "decode_threads": threads,
            "peak_rss_bytes": usage().max_rss_bytes,
        })
    );
    Ok(())
}

/// (listed objects, wall seconds, CPU seconds)
type Measured = (usize, f64, f64);

/// Times `list(false)` (the whole list) after `list(true)` (a `limit=1` warm-up that opens
/// the connection). The list stays alive until the clocks are read; `shape` gives its item
/// count and whether it is paged (an error: the benchmark wants one response).
async fn timed_list<L, Fut>(
    who: &str,
    list: impl Fn(bool) -> Fut,
    shape: fn(&L) -> (usize, bool),
) -> anyhow::Result<Measured>
where
    Fut: std::future::Future<Output = anyhow::Result<L>>,
{
    list(true).await?;
    let (before, start) = (usage(), Instant::now());
    let all = list(false).await?;
    let (wall, after) = (start.elapsed().as_secs_f64(), usage());
    let (n, paged) = shape(black_box(&all));
    if paged {
        bail!("{who}: the server paged the list; the benchmark wants one response");
    }
    Ok((n, wall, after.cpu_seconds - before.cpu_seconds))
}

async fn ours(ns: &str, protobuf: bool, threads: Option<usize>) -> anyhow::Result<Measured> {
    use k8s_client::api::{ListParams, ObjectList};
    let client = match threads {
        None => ours_client().await?,
        Some(n) => {
            let mut config = k8s_client::Config::infer().await?;
            config.list_decode_threads = n;
            k8s_client::Client::try_from(config)?.with_rate_limiter(None)
        }
    };
    let api = ours_api(k8s_client::Api::<Pod>::namespaced(client, ns), protobuf);
    let list = |warm_up: bool| {
        let api = api.clone();
        async move {
            let params = ListParams::default();
            let params = if warm_up { params.limit(1) } else { params };
            Ok(api.list(&params).await?)
        }
    };
    let measured = timed_list("k8s-client", list, |l: &ObjectList<Pod>| {
        (
            l.items.len(),
            l.metadata
                .continue_
                .as_deref()
                .is_some_and(|c| !c.is_empty()),
        )
    })
    .await?;
    ensure_format(&api, protobuf)?;
    Ok(measured)
}

async fn kube_rs(ns: &str) -> anyhow::Result<Measured> {
    use kube::api::{ListParams, ObjectList};
    let client = kube::Client::try_default().await?;
    let api: kube::Api<Pod> = kube::Api::namespaced(client, ns);
    let list = |warm_up: bool| {
        let api = api.clone();
        async move {
            let params = ListParams::default();
            let params = if warm_up { params.limit(1) } else { params };
            Ok(api.list(&params).await?)
        }
    };
    timed_list("kube-rs", list, |l: &ObjectList<Pod>| {
        (
            l.items.len(),
            l.metadata
                .continue_
                .as_deref()
                .is_some_and(|c| !c.is_empty()),
        )
    })
    .await
}
