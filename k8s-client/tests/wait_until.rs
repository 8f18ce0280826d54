//! `wait_until` against the real control plane: existence and deletion, a condition on
//! data, a selection of objects, a timeout, a CRD becoming Established, a Deployment rolled
//! out by kube-controller-manager onto a KWOK node, and a Pod Running on a KWOK node.

use std::time::Duration;

use k8s_client::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use k8s_client::runtime::wait::{conditions, wait_until, wait_until_list, WaitError};
use k8s_client::{Api, Client};
use k8s_client_testsupport as ts;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Node, Pod};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use serde_json::json;

const LONG: Duration = Duration::from_secs(45);

async fn own_client() -> Client {
    let mut config = ts::config("admin").await;
    config.rate_limit = None;
    Client::try_from(config).unwrap()
}

fn configmap(name: &str, labels: serde_json::Value) -> ConfigMap {
    serde_json::from_value(json!({"metadata": {"name": name, "labels": labels}})).unwrap()
}

#[tokio::test]
async fn exists_then_data_then_deleted() {
    let ns = ts::namespace("wait-cm").await;
    let cms: Api<ConfigMap> = Api::namespaced(own_client().await, &ns.name);

    let waiter = {
        let cms = cms.clone();
        tokio::spawn(async move { wait_until(&cms, "cm", LONG, conditions::exists).await })
    };
    cms.create(&PostParams::default(), &configmap("cm", json!({})))
        .await
        .unwrap();
    let found = waiter.await.unwrap().unwrap().expect("the object");
    assert_eq!(found.metadata.name.as_deref(), Some("cm"));

    // No change between the initial read and the watch is missed: once the waiter has read
    // the state (its condition was asked once), three quick updates follow, and the waiter
    // must see the intermediate one.
    let (listed_tx, listed_rx) = tokio::sync::oneshot::channel();
    let waiter = {
        let cms = cms.clone();
        let mut listed = Some(listed_tx);
        tokio::spawn(async move {
            wait_until(&cms, "cm", LONG, move |cm: Option<&ConfigMap>| {
                if let Some(tx) = listed.take() {
                    let _ = tx.send(());
                }
                cm.and_then(|c| c.data.as_ref())
                    .and_then(|d| d.get("n"))
                    .is_some_and(|n| n == "2")
            })
            .await
        })
    };
    listed_rx
        .await
        .expect("the waiter never checked the listed state");
    let mut rv_of_2 = String::new();
    for n in 1..=3 {
        let patch = json!({"data": {"n": n.to_string()}});
        let cm = cms
            .patch("cm", &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .unwrap();
        if n == 2 {
            rv_of_2 = cm.metadata.resource_version.unwrap();
        }
    }
    let cm = waiter.await.unwrap().unwrap().unwrap();
    assert_eq!(cm.data.unwrap()["n"], "2");
    assert_eq!(cm.metadata.resource_version.unwrap(), rv_of_2);

    // Already true: returns at once, from the list.
    let again = wait_until(&cms, "cm", Duration::from_secs(5), conditions::exists)
        .await
        .unwrap();
    assert!(again.is_some());

    let waiter = {
        let cms = cms.clone();
        tokio::spawn(async move { wait_until(&cms, "cm", LONG, conditions::is_deleted).await })
    };
    cms.delete("cm", &DeleteParams::default()).await.unwrap();
    assert!(waiter.await.unwrap().unwrap().is_none());
}

#[tokio::test]
async fn timeout_is_a_typed_error_naming_the_object() {
    let ns = ts::namespace("wait-timeout").await;
    let cms: Api<ConfigMap> = Api::namespaced(own_client().await, &ns.name);
    let started = std::time::Instant::now();
    let err = wait_until(
        &cms,
        "never",
        Duration::from_millis(700),
        conditions::exists,
    )
    .await
    .unwrap_err();
    assert!(started.elapsed() >= Duration::from_millis(700));
    assert!(err.is_timeout(), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("\"never\""), "{msg}");
    assert!(msg.contains(&ns.name), "{msg}");
    assert!(matches!(err, WaitError::Timeout { .. }));
}

#[tokio::test]
async fn wait_for_a_labelled_selection() {
    let ns = ts::namespace("wait-list").await;
    let cms: Api<ConfigMap> = Api::namespaced(own_client().await, &ns.name);
    cms.create(
        &PostParams::default(),
        &configmap("other", json!({"app": "no"})),
    )
    .await
    .unwrap();
    let lp = ListParams::default().labels("app=yes");
    let waiter = {
        let (cms, lp) = (cms.clone(), lp.clone());
        tokio::spawn(async move { wait_until_list(&cms, &lp, LONG, |all| all.len() == 3).await })
    };
    for i in 0..3 {
        let cm = configmap(&format!("yes-{i}"), json!({"app": "yes"}));
        cms.create(&PostParams::default(), &cm).await.unwrap();
    }
    let mut names: Vec<String> = waiter
        .await
        .unwrap()
        .unwrap()
        .into_iter()
        .map(|c| c.metadata.name.unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["yes-0", "yes-1", "yes-2"]);

    // Deletions shrink the selection.
    let waiter = {
        let (cms, lp) = (cms.clone(), lp.clone());
        tokio::spawn(async move { wait_until_list(&cms, &lp, LONG, |all| all.is_empty()).await })
    };
    cms.delete_collection(&DeleteParams::default(), &lp)
        .await
        .unwrap();
    assert!(waiter.await.unwrap().unwrap().is_empty());
}

#[tokio::test]
async fn crd_becomes_established_then_deleted() {
    let ns = ts::namespace("wait-crd").await;
    let crds: Api<CustomResourceDefinition> = Api::all(own_client().await);
    let group = format!("{}.wait.example.com", ns.name);
    let name = format!("widgets.{group}");
    let crd: CustomResourceDefinition = serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
            "versions": [{"name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object",
                    "x-kubernetes-preserve-unknown-fields": true}}}]
        }
    }))
    .unwrap();
    let created = crds.create(&PostParams::default(), &crd).await.unwrap();
    let established = wait_until(&crds, &name, LONG, conditions::crd_established).await;
    let deleting = crds.delete(&name, &DeleteParams::default()).await;
    let deleted = wait_until(&crds, &name, LONG, conditions::is_deleted).await;

    assert_eq!(created.metadata.name.as_deref(), Some(name.as_str()));
    let established = established.unwrap().unwrap();
    assert!(conditions::crd_established(Some(&established)));
    deleting.unwrap();
    assert!(deleted.unwrap().is_none());
}

/// A KWOK fake node, deleted on drop.
struct FakeNode {
    name: String,
    nodes: Api<Node>,
}

impl FakeNode {
    async fn new(client: Client, name: String) -> Self {
        let nodes: Api<Node> = Api::all(client);
        let node: Node = serde_json::from_value(json!({
            "metadata": {"name": name, "annotations": {"kwok.x-k8s.io/node": "fake"}}
        }))
        .unwrap();
        nodes.create(&PostParams::default(), &node).await.unwrap();
        FakeNode { name, nodes }
    }

    async fn delete(self) {
        self.nodes
            .delete(&self.name, &DeleteParams::default())
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn pod_runs_on_a_kwok_node() {
    let ns = ts::namespace("wait-pod").await;
    let client = own_client().await;
    let node = FakeNode::new(client.clone(), format!("kwok-{}", ns.name)).await;
    let pods: Api<Pod> = Api::namespaced(client, &ns.name);
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "p"},
        "spec": {"nodeName": node.name, "containers": [{"name": "c", "image": "fake"}]}
    }))
    .unwrap();
    let waiter = {
        let pods = pods.clone();
        tokio::spawn(async move { wait_until(&pods, "p", LONG, conditions::pod_running).await })
    };
    pods.create(&PostParams::default(), &pod).await.unwrap();
    let running = waiter.await.unwrap();
    node.delete().await;
    let running = running.unwrap().unwrap();
    assert_eq!(running.status.unwrap().phase.as_deref(), Some("Running"));
    assert!(conditions::pod_phase("Running")(Some(
        &pods.get("p").await.unwrap()
    )));
}

#[tokio::test]
async fn deployment_rolls_out_on_a_kwok_node() {
    let ns = ts::namespace("wait-deploy").await;
    let client = own_client().await;
    let node = FakeNode::new(client.clone(), format!("kwok-{}", ns.name)).await;
    let deployments: Api<Deployment> = Api::namespaced(client, &ns.name);
    let deployment: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"nodeName": node.name,
                         "containers": [{"name": "c", "image": "fake:1"}]}
            }
        }
    }))
    .unwrap();
    let created = deployments
        .create(&PostParams::default(), &deployment)
        .await
        .unwrap();
    assert!(
        !conditions::deployment_rolled_out(Some(&created)),
        "a new Deployment is not rolled out before the controller saw it"
    );
    let first = wait_until(&deployments, "web", LONG, conditions::deployment_rolled_out).await;

    // A new template: generation 2, rolled out again by the controller.
    let patch = json!({"spec": {"template": {"spec": {"containers": [
        {"name": "c", "image": "fake:2"}]}}}});
    let patched = deployments
        .patch("web", &PatchParams::default(), &Patch::Strategic(&patch))
        .await;
    let second = wait_until(&deployments, "web", LONG, conditions::deployment_rolled_out).await;
    node.delete().await;

    let first = first.unwrap().unwrap();
    assert_eq!(first.status.as_ref().unwrap().updated_replicas, Some(2));
    let patched = patched.unwrap();
    assert_eq!(patched.metadata.generation, Some(2));
    assert!(!conditions::deployment_rolled_out(Some(&patched)));
    let second = second.unwrap().unwrap();
    let status = second.status.unwrap();
    assert!(status.observed_generation >= Some(2), "{status:?}");
    assert_eq!(status.updated_replicas, Some(2));
    assert_eq!(status.available_replicas, Some(2));
}
