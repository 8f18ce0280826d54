//! Raw requests with the request builder under every client: a GET of
//! `/api/v1/namespaces/NS/pods?limit=100` decoded into a typed list, then GETs of raw paths
//! (`/version` as JSON, `/healthz` as text), the way `kubectl get --raw` does.
//!
//! client-go: `rest.RESTClientFor(config)`, `restClient.Get().Namespace(ns).Resource("pods")
//! .VersionedParams(&metav1.ListOptions{Limit: 100}, ...).Do(ctx).Into(result)` (seed 001
//! section 6, "restClient"), and `restClient.Get().AbsPath("/healthz").DoRaw(ctx)`.
//!
//! ```text
//! cargo run -p k8s-client --example raw_request -- --context kind-dev -n kube-system
//! ```

mod common;

use k8s_client::api::ObjectList;
use k8s_client::rest::{Request, Verb};
use k8s_openapi::api::core::v1::Pod;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let setup = common::setup().await?;
    let client = &setup.client;
    let ns = &setup.namespace;

    // GET /api/v1/namespaces/{ns}/pods?limit=100, into a typed list.
    let request = Request::new(Verb::List)
        .namespace(ns.as_str())
        .resource("pods")
        .query("limit", "100")
        .build()?;
    println!("GET {}", request.uri());
    let pods: ObjectList<Pod> = client.request(request).await?;
    println!("{} pods in namespace {ns}", pods.items.len());
    for pod in &pods.items {
        println!("  {}", pod.metadata.name.as_deref().unwrap_or_default());
    }
    if let Some(token) = pods.metadata.continue_.as_deref().filter(|t| !t.is_empty()) {
        println!("  (more: continue={token})");
    }

    // AbsPath("/version"): any path, decoded as JSON without a Rust type.
    let request = Request::at_path(Verb::Get, "/version").build()?;
    println!("GET {}", request.uri());
    let version: serde_json::Value = client.request(request).await?;
    println!(
        "server gitVersion {}, platform {}",
        version["gitVersion"].as_str().unwrap_or("?"),
        version["platform"].as_str().unwrap_or("?")
    );

    // AbsPath("/healthz").DoRaw(): the body as text.
    let request = Request::at_path(Verb::Get, "/healthz").build()?;
    println!("GET {}", request.uri());
    let health = client.request_text(request).await?;
    println!("healthz: {}", health.trim());
    Ok(())
}
