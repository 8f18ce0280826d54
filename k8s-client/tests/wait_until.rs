//! `wait_until` against the real control plane: existence and deletion, a condition on
//! data, a selection of objects, a timeout, a CRD becoming Established, a Deployment rolled
//! out by kube-controller-manager onto a KWOK node, and a Pod Running on a KWOK node.

use std::time::Duration;

use k8s_client::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use k8s_client::runtime::wait::{conditions, wait_until, wait_until_list, WaitError};
use k8s_client::{Api, Client};
use k8s_client_testsupport as ts;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use serde_json::json;
use tokio::sync::oneshot::{self, Receiver};

const LONG: Duration = Duration::from_secs(45);

async fn own_client() -> Client {
    let mut config = ts::config("admin").await;
    config.rate_limit = None;
    Client::try_from(config).unwrap()
}

/// Wraps `condition` so the returned receiver learns its first answer (on the waiter's
/// initial read). The tests make their change only after a `false` first answer, so the
/// waiter's watch path (not its initial read) is what sees the change.
fn observed<K, C>(mut condition: C) -> (impl FnMut(Option<&K>) -> bool, Receiver<bool>)
where
    C: FnMut(Option<&K>) -> bool,
{
    let (tx, rx) = oneshot::channel();
    let mut tx = Some(tx);
    let wrapped = move |obj: Option<&K>| {
        let answer = condition(obj);
        if let Some(tx) = tx.take() {
            let _ = tx.send(answer);
        }
        answer
    };
    (wrapped, rx)
}

/// [`observed`] for a condition on a list.
fn observed_list<K, C>(mut condition: C) -> (impl FnMut(&[K]) -> bool, Receiver<bool>)
where
    C: FnMut(&[K]) -> bool,
{
    let (tx, rx) = oneshot::channel();
    let mut tx = Some(tx);
    let wrapped = move |all: &[K]| {
        let answer = condition(all);
        if let Some(tx) = tx.take() {
            let _ = tx.send(answer);
        }
        answer
    };
    (wrapped, rx)
}

/// Waits for the first answer of an [`observed`] condition and checks it was `false`.
async fn first_false(first: Receiver<bool>) {
    let answer = tokio::time::timeout(LONG, first)
        .await
        .expect("the waiter never read the initial state")
        .expect("the waiter ended before asking its condition");
    assert!(
        !answer,
        "the condition was already true on the initial read"
    );
}

fn configmap(name: &str, labels: serde_json::Value) -> ConfigMap {
    serde_json::from_value(json!({"metadata": {"name": name, "labels": labels}})).unwrap()
}

#[tokio::test]
async fn exists_then_data_then_deleted() {
    let ns = ts::namespace("wait-cm").await;
    let cms: Api<ConfigMap> = Api::namespaced(own_client().await, &ns.name);

    let (exists, first) = observed(conditions::exists::<ConfigMap>);
    let waiter = {
        let cms = cms.clone();
        tokio::spawn(async move { wait_until(&cms, "cm", LONG, exists).await })
    };
    first_false(first).await;
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

    let (deleted, first) = observed(conditions::is_deleted::<ConfigMap>);
    let waiter = {
        let cms = cms.clone();
        tokio::spawn(async move { wait_until(&cms, "cm", LONG, deleted).await })
    };
    first_false(first).await;
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
    let (three, first) = observed_list(|all: &[ConfigMap]| all.len() == 3);
    let waiter = {
        let (cms, lp) = (cms.clone(), lp.clone());
        tokio::spawn(async move { wait_until_list(&cms, &lp, LONG, three).await })
    };
    first_false(first).await;
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
    let (empty, first) = observed_list(|all: &[ConfigMap]| all.is_empty());
    let waiter = {
        let (cms, lp) = (cms.clone(), lp.clone());
        tokio::spawn(async move { wait_until_list(&cms, &lp, LONG, empty).await })
    };
    first_false(first).await;
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
    // Both waiters start before their change (the CRD is established within milliseconds
    // of its creation, which an initial read after the create could already see).
    let (established, first) = observed(conditions::crd_established);
    let waiter = {
        let (crds, name) = (crds.clone(), name.clone());
        tokio::spawn(async move { wait_until(&crds, &name, LONG, established).await })
    };
    first_false(first).await;
    let created = crds.create(&PostParams::default(), &crd).await.unwrap();
    let established = waiter.await.unwrap();
    let (deleted, first) = observed(conditions::is_deleted::<CustomResourceDefinition>);
    let waiter = {
        let (crds, name) = (crds.clone(), name.clone());
        tokio::spawn(async move { wait_until(&crds, &name, LONG, deleted).await })
    };
    first_false(first).await;
    let deleting = crds.delete(&name, &DeleteParams::default()).await;
    let deleted = waiter.await.unwrap();

    assert_eq!(created.metadata.name.as_deref(), Some(name.as_str()));
    let established = established.unwrap().unwrap();
    assert!(conditions::crd_established(Some(&established)));
    deleting.unwrap();
    assert!(deleted.unwrap().is_none());
}

#[tokio::test]
async fn pod_runs_on_a_kwok_node() {
    let ns = ts::namespace("wait-pod").await;
    let client = own_client().await;
    let node = ts::kwok::fake_node(&ns).await;
    let pods: Api<Pod> = Api::namespaced(client, &ns.name);
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "p"},
        "spec": {"nodeName": node.name, "containers": [{"name": "c", "image": "fake"}]}
    }))
    .unwrap();
    let (running, first) = observed(conditions::pod_running);
    let waiter = {
        let pods = pods.clone();
        tokio::spawn(async move { wait_until(&pods, "p", LONG, running).await })
    };
    first_false(first).await;
    pods.create(&PostParams::default(), &pod).await.unwrap();
    let running = waiter.await.unwrap();
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
    let node = ts::kwok::fake_node(&ns).await;
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
    let (rolled_out, first) = observed(conditions::deployment_rolled_out);
    let waiter = {
        let deployments = deployments.clone();
        tokio::spawn(async move { wait_until(&deployments, "web", LONG, rolled_out).await })
    };
    first_false(first).await;
    let created = deployments
        .create(&PostParams::default(), &deployment)
        .await
        .unwrap();
    assert!(
        !conditions::deployment_rolled_out(Some(&created)),
        "a new Deployment is not rolled out before the controller saw it"
    );
    let first = waiter.await.unwrap();

    // A new template: generation 2, rolled out again by the controller. The waiter starts
    // first, on generation 1 (rolled out, but not the generation it waits for).
    let (rolled_out, first_answer) = observed(|d: Option<&Deployment>| {
        d.is_some_and(|d| d.metadata.generation >= Some(2)) && conditions::deployment_rolled_out(d)
    });
    let waiter = {
        let deployments = deployments.clone();
        tokio::spawn(async move { wait_until(&deployments, "web", LONG, rolled_out).await })
    };
    first_false(first_answer).await;
    let patch = json!({"spec": {"template": {"spec": {"containers": [
        {"name": "c", "image": "fake:2"}]}}}});
    let patched = deployments
        .patch("web", &PatchParams::default(), &Patch::Strategic(&patch))
        .await;
    let second = waiter.await.unwrap();

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
