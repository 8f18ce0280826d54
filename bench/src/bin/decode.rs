//! How fast a saved Pod list body decodes: ours (serde_json into `ObjectList<Pod>`, and the
//! protobuf list decoder) vs kube-rs (serde_json into `kube::core::ObjectList<Pod>`), the same
//! bodies bench/go's `decode` reads for client-go.
//!
//! ```sh
//! decode --mode ours --file DIR/pods.json [--iterations 5]
//! decode --mode ours --file DIR/pods.pb
//! decode --mode kube-rs --file DIR/pods.json
//! ```
//! The bodies are fetched once by `bench/go/.../decode --fetch` (see bench/run.sh). One warm-up
//! decode, then N timed ones; prints one line of JSON with the wall time and the CPU time (all
//! threads: a large protobuf list is decoded on helper threads too) per decode, and the
//! process's peak RSS.

use std::hint::black_box;
use std::time::Instant;

use anyhow::{bail, Context};
use k8s_client::protobuf::envelope::{self, Decoded};
use k8s_client_bench::{flags, usage, Allocator, ALLOCATOR, ALLOCATOR_NAME};
use k8s_openapi::api::core::v1::Pod;

#[global_allocator]
static GLOBAL: Allocator = ALLOCATOR;

/// Decodes one list body, returning how many objects it held.
type Decoder = fn(&[u8]) -> anyhow::Result<usize>;

fn main() -> anyhow::Result<()> {
    let flags = flags();
    let file = flags.get("file").context("--file is required")?;
    let iterations: usize = flags
        .get("iterations")
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(5);
    let body = std::fs::read(file).with_context(|| format!("reading {file}"))?;
    let protobuf = file.ends_with(".pb");
    let (client, decode): (&str, Decoder) = match (flags.get("mode").map(String::as_str), protobuf)
    {
        (Some("ours"), false) => ("k8s-client", ours_json),
        (Some("ours"), true) => ("k8s-client", ours_protobuf),
        (Some("kube-rs"), false) => ("kube-rs", kube_rs_json),
        (Some("kube-rs"), true) => bail!("kube-rs has no protobuf decoding"),
        (other, _) => bail!("--mode ours|kube-rs is required (got {other:?})"),
    };
    let objects = decode(&body)?; // warm-up
    let (start, cpu_start) = (Instant::now(), usage().cpu_seconds);
    for _ in 0..iterations {
        black_box(decode(black_box(&body))?);
    }
    let each = start.elapsed().as_secs_f64() / iterations as f64;
    // All threads' CPU: large protobuf lists are decoded on helper threads too.
    let cpu_each = (usage().cpu_seconds - cpu_start) / iterations as f64;
    println!(
        "{}",
        serde_json::json!({
            "client": client, "allocator": ALLOCATOR_NAME, "format": if protobuf { "protobuf" } else { "json" },
            "bytes": body.len(), "objects": objects, "iterations": iterations,
            "seconds_each": each, "mb_per_s": body.len() as f64 / each / 1e6,
            "objects_per_s": objects as f64 / each, "cpu_seconds_each": cpu_each,
            "peak_rss_bytes": usage().max_rss_bytes,
        })
    );
    Ok(())
}

fn ours_json(body: &[u8]) -> anyhow::Result<usize> {
    let list: k8s_client::api::ObjectList<Pod> = serde_json::from_slice(body)?;
    Ok(black_box(list).items.len())
}

fn ours_protobuf(body: &[u8]) -> anyhow::Result<usize> {
    match envelope::decode_list::<Pod>(body, "PodList")? {
        Decoded::Object(list) => Ok(black_box(list).items.len()),
        Decoded::Status(status) => bail!("the body is a Status: {status:?}"),
    }
}

fn kube_rs_json(body: &[u8]) -> anyhow::Result<usize> {
    let list: kube::core::ObjectList<Pod> = serde_json::from_slice(body)?;
    Ok(black_box(list).items.len())
}
