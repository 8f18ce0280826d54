//! The seed walkthrough's "Deployment CRUD, the dynamic way": create the demo Deployment
//! from untyped JSON through the dynamic client, read it, update its replicas and image
//! (retried on conflict), list Deployments, delete it. No Rust type of the object is used:
//! only its group, version, kind and resource.
//!
//! client-go: `dynamic.NewForConfig` and `client.Resource(deploymentRes).Namespace(ns)`
//! with `unstructured.Unstructured` (seed 001 section 4, "deployment资源CRUD - dynamic方式").
//!
//! ```text
//! cargo run -p k8s-client --example dynamic -- --context kind-dev -n default
//! ```
//!
//! The cluster is the one of `--kubeconfig`/`$KUBECONFIG`/`~/.kube/config` (or the pod's
//! service account); the namespace is `-n`, else the context's.

use k8s_client::api::{
    ApiResource, DeleteParams, GroupVersionKind, ListParams, Object, PostParams, PropagationPolicy,
};
use k8s_client::dynamic::{DynamicApi, DynamicObject};
use k8s_client::retry::{retry_on_conflict, Backoff};
use serde_json::json;

mod common;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let common::Setup {
        client,
        namespace,
        args,
        ..
    } = common::setup().await?;
    if let Some(extra) = args.first() {
        return Err(
            format!("unexpected argument {extra:?} (the namespace is -n NAMESPACE)").into(),
        );
    }

    // client-go: schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
    let deployments = ApiResource::from_gvk(
        &GroupVersionKind::new("apps", "v1", "Deployment"),
        "deployments",
        true,
    );
    let api = DynamicApi::namespaced_with(client, &namespace, &deployments);

    let deployment = DynamicObject::from_json(json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "demo-deployment"},
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

    println!("Creating deployment...");
    let result = api.create(&PostParams::default(), &deployment).await?;
    println!(
        "Created deployment {:?}.",
        result.name().unwrap_or_default()
    );

    let got = api.get("demo-deployment").await?;
    println!(
        "Read it back: replicas {}, image {}",
        got.field(&["spec", "replicas"]).unwrap_or(&json!(null)),
        got.field(&["spec", "template", "spec", "containers"])
            .and_then(|c| c.get(0))
            .and_then(|c| c.get("image"))
            .unwrap_or(&json!(null))
    );

    println!("Updating deployment...");
    retry_on_conflict(Backoff::default_retry(), || async {
        let mut latest = api.get("demo-deployment").await?;
        latest.set_field(&["spec", "replicas"], json!(1))?;
        if let Some(containers) = latest.field_mut(&["spec", "template", "spec", "containers"]) {
            if let Some(first) = containers.get_mut(0) {
                first["image"] = json!("nginx:1.13");
            }
        }
        api.replace("demo-deployment", &PostParams::default(), &latest)
            .await
    })
    .await?;
    println!("Updated deployment...");

    println!("Listing deployments in namespace {namespace:?}:");
    for d in api.list(&ListParams::default()).await? {
        println!(
            " * {} ({} replicas)",
            d.name().unwrap_or_default(),
            d.field(&["spec", "replicas"]).unwrap_or(&json!(null))
        );
    }

    println!("Deleting deployment...");
    api.delete(
        "demo-deployment",
        &DeleteParams::default().propagation(PropagationPolicy::Foreground),
    )
    .await?;
    println!("Deleted deployment.");
    Ok(())
}
