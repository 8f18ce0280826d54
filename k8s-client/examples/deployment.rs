//! The typed Deployment walk-through: create a Deployment, update its replicas and image
//! (read, change, write back; retried when someone else changed it in between), list the
//! Deployments of the namespace, and delete it with foreground propagation, waiting until
//! it (and, before it, its ReplicaSets and Pods) is gone.
//!
//! client-go: seed 001 section 3 ("deployment资源CRUD - typed (clientset)方式"):
//! `deploymentsClient.Create`, `retry.RetryOnConflict(retry.DefaultRetry, ...)` around
//! `Get` + `Update`, `List`, and `Delete` with `PropagationPolicy: Foreground`.
//!
//! ```text
//! cargo run -p k8s-client --example deployment -- --context kind-dev -n default [NAME]
//! ```
//!
//! NAME defaults to `demo-deployment`.

mod common;

use std::time::Duration;

use k8s_client::api::{DeleteParams, ListParams, PostParams, PropagationPolicy};
use k8s_client::retry::{retry_on_conflict, Backoff};
use k8s_client::runtime::wait::{conditions, wait_until};
use k8s_client::Api;
use k8s_openapi::api::apps::v1::Deployment;
use serde_json::json;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let setup = common::setup().await?;
    let name = setup
        .args
        .first()
        .cloned()
        .unwrap_or_else(|| "demo-deployment".to_string());
    let ns = &setup.namespace;
    let deployments: Api<Deployment> = Api::namespaced(setup.client.clone(), ns);

    let deployment: Deployment = serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "demo"}},
            "template": {
                "metadata": {"labels": {"app": "demo"}},
                "spec": {"containers": [{
                    "name": "web",
                    "image": "nginx:1.12",
                    "ports": [{"name": "http", "protocol": "TCP", "containerPort": 80}]
                }]}
            }
        }
    }))?;

    println!("Creating deployment {ns}/{name}...");
    let created = deployments
        .create(&PostParams::default(), &deployment)
        .await?;
    println!(
        "Created deployment {:?} (resourceVersion {}).",
        created.metadata.name.unwrap_or_default(),
        created.metadata.resource_version.unwrap_or_default()
    );

    // client-go: retry.RetryOnConflict(retry.DefaultRetry, func() error { Get; change; Update })
    // The update carries the resourceVersion it read, so a write in between fails with
    // 409 Conflict and the closure runs again on a fresh copy.
    println!("Updating deployment...");
    let mut attempts = 0;
    let updated = retry_on_conflict(Backoff::default_retry(), || {
        attempts += 1;
        let deployments = deployments.clone();
        let name = name.clone();
        async move {
            let mut latest = deployments.get(&name).await?;
            set_replicas_and_image(&mut latest, 1, "nginx:1.13");
            deployments
                .replace(&name, &PostParams::default(), &latest)
                .await
        }
    })
    .await?;
    println!(
        "Updated deployment (after {attempts} attempt(s)): replicas {}, image {}",
        replicas(&updated),
        image(&updated)
    );

    println!("Listing deployments in namespace {ns}:");
    for d in deployments.list(&ListParams::default()).await?.items {
        println!(
            " * {} ({} replicas, image {})",
            d.metadata.name.as_deref().unwrap_or_default(),
            replicas(&d),
            image(&d)
        );
    }

    // client-go: deletePolicy := metav1.DeletePropagationForeground
    println!("Deleting deployment...");
    let params = DeleteParams::default().propagation(PropagationPolicy::Foreground);
    deployments.delete(&name, &params).await?;
    // Foreground: the Deployment stays (with a deletionTimestamp and the foregroundDeletion
    // finalizer) until the garbage collector has deleted its dependents.
    wait_until(
        &deployments,
        &name,
        Duration::from_secs(120),
        conditions::is_deleted,
    )
    .await?;
    println!("Deleted deployment {ns}/{name}.");
    Ok(())
}

k8s_openapi::k8s_if_ge_1_37! {
    fn spec(d: &Deployment) -> Option<&k8s_openapi::api::apps::v1::DeploymentSpec> {
        Some(&d.spec)
    }
    fn spec_mut(d: &mut Deployment) -> &mut k8s_openapi::api::apps::v1::DeploymentSpec {
        &mut d.spec
    }
}
k8s_openapi::k8s_if_le_1_36! {
    fn spec(d: &Deployment) -> Option<&k8s_openapi::api::apps::v1::DeploymentSpec> {
        d.spec.as_ref()
    }
    fn spec_mut(d: &mut Deployment) -> &mut k8s_openapi::api::apps::v1::DeploymentSpec {
        d.spec.get_or_insert_with(Default::default)
    }
}

fn set_replicas_and_image(d: &mut Deployment, replicas: i32, image: &str) {
    let spec = spec_mut(d);
    spec.replicas = Some(replicas);
    if let Some(container) = spec
        .template
        .spec
        .as_mut()
        .and_then(|pod| pod.containers.first_mut())
    {
        container.image = Some(image.to_string());
    }
}

fn replicas(d: &Deployment) -> i32 {
    spec(d).and_then(|s| s.replicas).unwrap_or(1)
}

fn image(d: &Deployment) -> String {
    spec(d)
        .and_then(|s| s.template.spec.as_ref())
        .and_then(|pod| pod.containers.first())
        .and_then(|c| c.image.clone())
        .unwrap_or_default()
}
