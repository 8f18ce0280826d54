//! The seed's discovery walkthrough (client-go's `discoveryClient`): print the groups the
//! server serves with their versions and preferred version, then the resources of core
//! `v1` (subresources included, as `pods/status`).
//!
//! Runs against the cluster of $KUBECONFIG (or ~/.kube/config):
//! `cargo run -p k8s-client --example discovery`.

use std::io::Write;

use k8s_client::discovery::Discovery;
use k8s_client::Client;

/// Prints the groups, then the resources of `v1`, to `out`.
pub async fn run(client: Client, out: &mut impl Write) -> Result<(), Box<dyn std::error::Error>> {
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

    // ServerResourcesForGroupVersion("v1")
    let Some(core) = discovery.resources_for("v1").await? else {
        return Err("the server does not serve v1".into());
    };
    for resource in &core.resources {
        writeln!(out, "{}", resource.api.plural)?;
        for sub in &resource.subresources {
            writeln!(out, "{}/{}", resource.api.plural, sub.name)?;
        }
    }
    Ok(())
}

#[allow(dead_code)] // the test includes this file and calls `run` only
#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let client = Client::try_default().await?;
    let stdout = std::io::stdout();
    run(client, &mut stdout.lock()).await
}
