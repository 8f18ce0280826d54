//! Listing the pods of all namespaces, and telling the kinds of failure apart: a get of a
//! missing pod is `NotFound`; any other answer of the server is a `Status` error whose code
//! and reason are printed (with the `restricted` user of a test cluster, listing outside its
//! namespace is `403 Forbidden`); anything else (no connection, a bad kubeconfig) ends the
//! program.
//!
//! client-go: `clientset.CoreV1().Pods("").List(...)` and the error handling of seed 004
//! (`errors.IsNotFound(err)`, then `err.(*errors.StatusError)`); seed 001 section 3.2
//! ("列出集群内pod资源").
//!
//! ```text
//! cargo run -p k8s-client --example list_pods -- --context kind-dev -n default [MISSING_POD_NAME]
//! ```
//!
//! `-n` is the namespace of the get of the missing pod (default: the context's); the list
//! covers all namespaces (and falls back to `-n`'s namespace when that is forbidden).

mod common;

use k8s_client::api::ListParams;
use k8s_client::{Api, Error};
use k8s_openapi::api::core::v1::Pod;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let setup = common::setup().await?;
    let missing = setup
        .args
        .first()
        .cloned()
        .unwrap_or_else(|| "example-xxxxx".to_string());
    let ns = setup.namespace.clone();

    // client-go: clientset.CoreV1().Pods("").List(context.TODO(), metav1.ListOptions{})
    let all: Api<Pod> = Api::all(setup.client.clone());
    match all.list(&ListParams::default()).await {
        Ok(list) => {
            println!("There are {} pods in the cluster", list.items.len());
            for pod in &list.items {
                println!("  {}", describe(pod));
            }
        }
        Err(e) if e.is_forbidden() => {
            // Allowed in one namespace at most: say so, and list that one.
            print_status_error("listing pods in all namespaces", &e);
            let here: Api<Pod> = Api::namespaced(setup.client.clone(), &ns);
            match here.list(&ListParams::default()).await {
                Ok(list) => println!("There are {} pods in namespace {ns}", list.items.len()),
                Err(e) if e.status().is_some() => {
                    print_status_error(&format!("listing pods in namespace {ns}"), &e)
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(e) => return Err(e.into()),
    }

    // client-go: clientset.CoreV1().Pods(ns).Get(context.TODO(), name, metav1.GetOptions{})
    let pods: Api<Pod> = Api::namespaced(setup.client.clone(), &ns);
    match pods.get(&missing).await {
        Ok(pod) => println!("Found pod {missing} in namespace {ns}: {}", describe(&pod)),
        // errors.IsNotFound(err)
        Err(e) if e.is_not_found() => println!("Pod {missing} not found in namespace {ns}"),
        // err.(*errors.StatusError): the server answered with another error.
        Err(e) if e.status().is_some() => {
            print_status_error(&format!("getting pod {missing} in namespace {ns}"), &e)
        }
        // No answer at all (connection, TLS, timeout): give up, as the seed's panic does.
        Err(e) => return Err(e.into()),
    }
    Ok(())
}

/// `namespace/name phase node`.
fn describe(pod: &Pod) -> String {
    let status = pod.status.as_ref();
    format!(
        "{}/{} {} {}",
        pod.metadata.namespace.as_deref().unwrap_or_default(),
        pod.metadata.name.as_deref().unwrap_or_default(),
        status.and_then(|s| s.phase.as_deref()).unwrap_or("Unknown"),
        pod.spec
            .as_ref()
            .and_then(|s| s.node_name.as_deref())
            .unwrap_or("(unscheduled)"),
    )
}

/// Prints the code, reason and message of the server's `Status`.
fn print_status_error(what: &str, e: &Error) {
    let code = e.api().map(|a| a.code).unwrap_or_default();
    let status = e.status();
    let reason = status.and_then(|s| s.reason.as_deref()).unwrap_or("");
    let message = status.and_then(|s| s.message.as_deref()).unwrap_or("");
    println!("Error {what}: status {code} {reason}: {message}");
}
