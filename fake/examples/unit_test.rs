//! Unit-testing your own Kubernetes code without a cluster: the code under test takes a
//! `Client` (or an `Api`), the tests give it one over [`FakeServer`], the in-memory API
//! server, seed the objects the scenario needs, run the code, and assert on the objects it
//! left and on the requests it made. A reactor makes the server answer `409 Conflict`
//! once, to show that the code retries as it should when another writer got there first.
//!
//! client-go: the same test written with `k8s.io/client-go/kubernetes/fake`
//! (`fake.NewSimpleClientset(objects...)`, `clientset.PrependReactor("update",
//! "deployments", ...)`, `clientset.Actions()`), with the code under test using
//! `retry.RetryOnConflict`. Unlike client-go's object tracker, this server keeps
//! resourceVersions, so a stale update really conflicts, and selectors, paging and patches
//! behave as kube-apiserver's.
//!
//! Run the scenario (no cluster needed) and the tests:
//!
//! ```sh
//! cargo run -p k8s-client-fake --example unit_test
//! cargo test -p k8s-client-fake --example unit_test
//! ```
//!
//! In your own crate: put `k8s-client-fake` (with the same k8s-openapi version feature as
//! `k8s-client`, e.g. `features = ["latest"]`) and tokio under `[dev-dependencies]`, write
//! `#[tokio::test]` functions like the ones below in your `#[cfg(test)]` modules or in
//! `tests/`, and run `cargo test`.

use k8s_client::api::{ListParams, PostParams};
use k8s_client::retry::{retry_on_conflict, Backoff};
use k8s_client::{Api, Client};
use k8s_client_fake::FakeServer;
use k8s_openapi::api::apps::v1::Deployment;

// ---------------------------------------------------------------------------------------
// The "user code" under test: it knows nothing of the fake server.
// ---------------------------------------------------------------------------------------

/// Scales every Deployment of `namespace` that matches the label `selector` to
/// `replicas`, and returns the names of the Deployments it changed (those already at
/// `replicas` are left alone). Each change is a get-modify-update that is retried when it
/// loses a race with another writer (client-go's `retry.RetryOnConflict`).
pub async fn scale_selected(
    client: Client,
    namespace: &str,
    selector: &str,
    replicas: i32,
) -> Result<Vec<String>, k8s_client::Error> {
    let deployments: Api<Deployment> = Api::namespaced(client, namespace);
    let mut changed = Vec::new();
    let selected = deployments
        .list(&ListParams::default().labels(selector))
        .await?;
    for listed in selected.items {
        let Some(name) = listed.metadata.name.clone() else {
            continue;
        };
        if listed.spec.replicas == Some(replicas) {
            continue;
        }
        retry_on_conflict(Backoff::default_retry(), || async {
            // Read again on every attempt: a conflict means our copy is stale.
            let mut current = deployments.get(&name).await?;
            current.spec.replicas = Some(replicas);
            deployments
                .replace(&name, &PostParams::default(), &current)
                .await
        })
        .await?;
        changed.push(name);
    }
    Ok(changed)
}

// ---------------------------------------------------------------------------------------
// The scenario, shared by `main` and the tests.
// ---------------------------------------------------------------------------------------

/// Three Deployments in namespace `shop`: `web` and `api` labelled `tier=frontend` (with 1
/// and 3 replicas), `db` labelled `tier=backend`.
const SEED: &str = r#"
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop, labels: {tier: frontend}}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: nginx}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: shop, labels: {tier: frontend}}
spec:
  replicas: 3
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec: {containers: [{name: api, image: api:1}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: db, namespace: shop, labels: {tier: backend}}
spec:
  replicas: 1
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: db, image: postgres}]}
"#;

/// An in-memory server (speaking as Kubernetes 1.36) holding [`SEED`].
fn seeded_server() -> Result<FakeServer, Box<dyn std::error::Error>> {
    let server = FakeServer::new("1.36")?;
    server.seed_yaml(SEED)?;
    Ok(server)
}

/// The replicas of each Deployment in `shop`, sorted by name.
async fn replicas(client: Client) -> Result<Vec<(String, i32)>, k8s_client::Error> {
    let deployments: Api<Deployment> = Api::namespaced(client, "shop");
    let mut all: Vec<(String, i32)> = deployments
        .list(&ListParams::default())
        .await?
        .items
        .into_iter()
        .map(|d| {
            let replicas = d.spec.replicas.unwrap_or(1);
            (d.metadata.name.unwrap_or_default(), replicas)
        })
        .collect();
    all.sort();
    Ok(all)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = seeded_server()?;
    println!("before: {:?}", replicas(server.client()).await?);

    // Another writer gets in the way once: the first update of `web` conflicts.
    let conflicted = std::sync::atomic::AtomicBool::new(false);
    server.prepend_reactor("update", "deployments", move |action| {
        if action.name == "web" && !conflicted.swap(true, std::sync::atomic::Ordering::SeqCst) {
            k8s_client_fake::Reaction::conflict(action)
        } else {
            k8s_client_fake::Reaction::Continue
        }
    });

    server.clear_actions();
    let changed = scale_selected(server.client(), "shop", "tier=frontend", 3).await?;
    println!("scaled tier=frontend to 3: changed {changed:?}");
    println!("requests the code made (the first update of web met a conflict):");
    for action in server.actions() {
        println!("  {} {} {}", action.verb, action.resource, action.name);
    }
    println!("after: {:?}", replicas(server.client()).await?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Arc;

    use k8s_client_fake::{Action, Reaction};

    use super::*;

    /// The (verb, name) of each request on Deployments, in order.
    fn deployment_requests(server: &FakeServer) -> Vec<(String, String)> {
        server
            .actions()
            .into_iter()
            .filter(|a: &Action| a.resource == "deployments")
            .map(|a| (a.verb, a.name))
            .collect()
    }

    fn req(verb: &str, name: &str) -> (String, String) {
        (verb.to_string(), name.to_string())
    }

    #[tokio::test]
    async fn scales_only_the_selected_deployments_that_differ() {
        let server = seeded_server().unwrap();
        server.clear_actions();

        let changed = scale_selected(server.client(), "shop", "tier=frontend", 3)
            .await
            .unwrap();

        // The requests the code made (before the checks below make their own).
        let requests = deployment_requests(&server);
        // `api` already had 3 replicas and `db` is not selected.
        assert_eq!(changed, ["web"]);
        assert_eq!(
            replicas(server.client()).await.unwrap(),
            [("api".into(), 3), ("db".into(), 1), ("web".into(), 3)]
        );
        // One list with the selector, then a get and an update of `web` only.
        assert_eq!(
            requests,
            [req("list", ""), req("get", "web"), req("update", "web")]
        );
        let list = &server.actions()[0];
        assert!(list.query.contains("labelSelector=tier"), "{list:?}");
    }

    #[tokio::test]
    async fn running_again_changes_nothing() {
        let server = seeded_server().unwrap();
        scale_selected(server.client(), "shop", "tier=frontend", 3)
            .await
            .unwrap();
        server.clear_actions();

        let changed = scale_selected(server.client(), "shop", "tier=frontend", 3)
            .await
            .unwrap();

        assert!(changed.is_empty(), "{changed:?}");
        let writes = deployment_requests(&server)
            .into_iter()
            .filter(|(verb, _)| verb != "list" && verb != "get")
            .count();
        assert_eq!(writes, 0);
    }

    #[tokio::test]
    async fn a_conflicting_update_is_retried_with_a_fresh_read() {
        let server = seeded_server().unwrap();
        // The first update of any Deployment answers 409, as if someone else had written
        // it between our get and our update.
        let conflicts = Arc::new(AtomicU32::new(0));
        let seen = conflicts.clone();
        server.prepend_reactor("update", "deployments", move |action| {
            if seen.fetch_add(1, Ordering::SeqCst) == 0 {
                Reaction::conflict(action)
            } else {
                Reaction::Continue
            }
        });
        server.clear_actions();

        let changed = scale_selected(server.client(), "shop", "tier=frontend", 5)
            .await
            .unwrap();

        let requests = deployment_requests(&server);
        // Listed in name order, as kube-apiserver lists.
        assert_eq!(changed, ["api", "web"]);
        assert_eq!(
            replicas(server.client()).await.unwrap(),
            [("api".into(), 5), ("db".into(), 1), ("web".into(), 5)]
        );
        // Three updates for two Deployments: the first was refused, and its Deployment
        // was read again before the second try.
        assert_eq!(conflicts.load(Ordering::SeqCst), 3);
        assert_eq!(
            requests,
            [
                req("list", ""),
                req("get", "api"),
                req("update", "api"),
                req("get", "api"),
                req("update", "api"),
                req("get", "web"),
                req("update", "web"),
            ]
        );
    }

    #[tokio::test]
    async fn a_conflict_that_never_ends_is_returned_not_hidden() {
        let server = seeded_server().unwrap();
        server.prepend_reactor("update", "deployments", Reaction::conflict);

        let err = scale_selected(server.client(), "shop", "tier=frontend", 2)
            .await
            .unwrap_err();

        assert!(err.is_conflict(), "{err:?}");
        // Nothing changed on the server.
        assert_eq!(
            replicas(server.client()).await.unwrap(),
            [("api".into(), 3), ("db".into(), 1), ("web".into(), 1)]
        );
    }
}
