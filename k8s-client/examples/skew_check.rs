//! A small CLI that checks manifests against a cluster before they are applied: it reads
//! the YAML files given (several documents per file, `kind: List` too), collects every
//! `apiVersion` + `kind` they use, asks the cluster what it serves (discovery) and prints,
//! for each, whether it is served and, when not, what replaces it (from the Kubernetes
//! deprecation guide: `batch/v1beta1 CronJob` -> `batch/v1`, `autoscaling/v2beta2
//! HorizontalPodAutoscaler` -> `autoscaling/v2`, `policy/v1beta1 PodSecurityPolicy` ->
//! nothing). Served kinds that are deprecated are flagged too.
//!
//! Exit code: 0 when the cluster serves every kind, 1 when it does not serve some, 2 when
//! the files or the cluster could not be read.
//!
//! client-go: the discovery client of seed 001 section 5 (`ServerGroupsAndResources`) put
//! to work, as `kubectl convert`/`pluto`-style checks do; the answer to the version-skew
//! pain of seed 002 ("THE BAD": APIs move between versions under a program).
//!
//! ```text
//! cargo run -p k8s-client --example skew_check -- --context prod deploy/*.yaml
//! cargo run -p k8s-client --example skew_check -- --warnings app.yaml   # also ask the server for its deprecation warnings
//! ```

mod common;

use std::collections::BTreeMap;
use std::process::ExitCode;

use k8s_client::api::GroupVersionKind;
use k8s_client::discovery::{Discovery, KindStatus, SkewCheck};
use serde::Deserialize;

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("skew_check: {e}");
            ExitCode::from(2)
        }
    }
}

/// Whether every kind is served.
async fn run() -> Result<bool, Box<dyn std::error::Error>> {
    let mut setup = common::setup().await?;
    let probe = common::take_switch(&mut setup.args, "--warnings");
    if setup.args.is_empty() {
        return Err("usage: skew_check [kubectl flags] [--warnings] FILE.yaml...".into());
    }

    // Every kind used, in the order first seen, with where it is used.
    let mut used: Vec<GroupVersionKind> = Vec::new();
    let mut places: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for file in &setup.args {
        let text = std::fs::read_to_string(file).map_err(|e| format!("reading {file}: {e}"))?;
        for (gvk, place) in kinds_in(file, &text)? {
            let key = format!("{} {}", gvk.api_version(), gvk.kind);
            if !used.contains(&gvk) {
                used.push(gvk);
            }
            places.entry(key).or_default().push(place);
        }
    }
    println!("{} kind(s) in {} file(s)", used.len(), setup.args.len());

    let check = used
        .iter()
        .cloned()
        .fold(SkewCheck::new(), |check, gvk| check.gvk(gvk))
        .probe_warnings(probe);
    let report = check.run(&Discovery::new(setup.client.clone())).await?;
    println!("server {}", report.server_version);
    for kind in &report.kinds {
        let mark = match &kind.status {
            KindStatus::Served {
                deprecated: None, ..
            } => "ok  ",
            KindStatus::Served { .. } => "warn",
            KindStatus::NotServed { .. } => "FAIL",
            KindStatus::Unknown { .. } => "??  ",
        };
        println!("{mark} {kind}");
        let key = format!("{} {}", kind.gvk.api_version(), kind.gvk.kind);
        for place in places.get(&key).into_iter().flatten() {
            println!("       used in {place}");
        }
    }
    let missing = report.not_served().count();
    if missing > 0 {
        println!("{missing} kind(s) not served by this cluster");
    } else {
        println!("every kind is served");
    }
    Ok(missing == 0)
}

/// The kinds of every object in one YAML file, with `file#document` (and `items[i]` for a
/// `List`) saying where.
fn kinds_in(
    file: &str,
    text: &str,
) -> Result<Vec<(GroupVersionKind, String)>, Box<dyn std::error::Error>> {
    let mut out = Vec::new();
    for (index, document) in serde_yaml_ng::Deserializer::from_str(text).enumerate() {
        let place = format!("{file} document {}", index + 1);
        let value = serde_yaml_ng::Value::deserialize(document)
            .map_err(|e| format!("{place}: not YAML: {e}"))?;
        if value.is_null() {
            continue; // an empty document (a trailing `---`)
        }
        collect(&value, &place, &mut out)?;
    }
    Ok(out)
}

fn collect(
    value: &serde_yaml_ng::Value,
    place: &str,
    out: &mut Vec<(GroupVersionKind, String)>,
) -> Result<(), Box<dyn std::error::Error>> {
    let field = |name: &str| {
        value
            .get(name)
            .and_then(|v| v.as_str())
            .filter(|s| !s.is_empty())
            .ok_or_else(|| format!("{place}: no {name}"))
    };
    let api_version = field("apiVersion")?;
    let kind = field("kind")?;
    if kind == "List" || (kind.ends_with("List") && value.get("items").is_some()) {
        let items = value
            .get("items")
            .and_then(|i| i.as_sequence())
            .ok_or_else(|| format!("{place}: a {kind} without items"))?;
        for (i, item) in items.iter().enumerate() {
            collect(item, &format!("{place} items[{i}]"), out)?;
        }
        return Ok(());
    }
    let name = value
        .get("metadata")
        .and_then(|m| m.get("name"))
        .and_then(|n| n.as_str())
        .unwrap_or("(no name)");
    out.push((
        GroupVersionKind::from_api_version(api_version, kind),
        format!("{place} ({name})"),
    ));
    Ok(())
}
