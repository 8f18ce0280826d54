//! The seed's discovery walkthrough: print the API groups the server serves with their
//! versions and preferred version, then the resources of one group-version (subresources
//! included, as `pods/status`).
//!
//! client-go: `discovery.NewDiscoveryClientForConfig`, `ServerGroups()` and
//! `ServerResourcesForGroupVersion(gv)` (seed 001 section 5, "discoveryClient").
//!
//! ```text
//! cargo run -p k8s-client --example discovery -- --context kind-dev [GROUP_VERSION]
//! ```
//!
//! GROUP_VERSION is `v1` (the core group) by default; for example `apps/v1` or
//! `batch/v1`.

use std::io::Write;

use k8s_client::config::{Config, InClusterPaths, KubeConfigOptions};
use k8s_client::discovery::Discovery;
use k8s_client::Client;

/// Prints the groups, then the resources of `v1`, to `out`.
#[allow(dead_code)] // used by tests that include this file
pub async fn run(client: Client, out: &mut impl Write) -> Result<(), Box<dyn std::error::Error>> {
    run_for(client, "v1", out).await
}

/// Prints the groups, then the resources of `group_version` (`v1`, `apps/v1`), to `out`.
pub async fn run_for(
    client: Client,
    group_version: &str,
    out: &mut impl Write,
) -> Result<(), Box<dyn std::error::Error>> {
    let discovery = Discovery::new(client);

    // ServerGroups()
    for group in discovery.groups().await? {
        let versions: Vec<String> = group
            .versions
            .iter()
            .map(|v| k8s_client::api::join_api_version(&group.name, v))
            .collect();
        let preferred = group
            .preferred()
            .map(|v| k8s_client::api::join_api_version(&group.name, v))
            .unwrap_or_default();
        let name = if group.name.is_empty() {
            "(core)"
        } else {
            &group.name
        };
        writeln!(
            out,
            "group {name}: versions [{}], preferred {preferred}",
            versions.join(", ")
        )?;
    }

    // ServerResourcesForGroupVersion(gv)
    let Some(list) = discovery.resources_for(group_version).await? else {
        return Err(format!("the server does not serve {group_version}").into());
    };
    writeln!(out, "resources of {group_version}:")?;
    for resource in &list.resources {
        writeln!(out, "{}", resource.api.plural)?;
        for sub in &resource.subresources {
            writeln!(out, "{}/{}", resource.api.plural, sub.name)?;
        }
    }
    Ok(())
}

#[allow(dead_code)] // the tests that include this file call `run` only
#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (options, args) = KubeConfigOptions::from_args(std::env::args().skip(1))?;
    let group_version = match args.as_slice() {
        [] => "v1".to_string(),
        [gv] => gv.clone(),
        _ => return Err("usage: discovery [kubectl flags] [GROUP_VERSION]".into()),
    };
    let config = Config::infer_with(&options, &InClusterPaths::from_env()).await?;
    let client = Client::try_from(config)?;
    let stdout = std::io::stdout();
    run_for(client, &group_version, &mut stdout.lock()).await
}
