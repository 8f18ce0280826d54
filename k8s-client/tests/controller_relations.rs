//! The controller's relations against the real control plane: `owns` queues the owner when
//! a child it controls changes or is deleted, `watches` queues what a mapper names, and two
//! controllers built from one informer factory share the informer of a kind they both use.

use k8s_client_testsupport::eventually;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_client::api::{DeleteParams, ObjectRef, Patch, PatchParams, PostParams};
use k8s_client::cache::InformerFactory;
use k8s_client::runtime::controller::{Action, Controller};
use k8s_client::runtime::leader_election::CancellationToken;
use k8s_client::Api;
use k8s_client_testsupport as ts;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

type Calls = Arc<Mutex<HashMap<String, u32>>>;

fn count(calls: &Calls, name: &str) -> u32 {
    calls.lock().unwrap().get(name).copied().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owned_and_watched_objects_queue_their_owner() {
    let ns = ts::namespace("controller-rel").await;
    let client = ts::client().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), &ns.name);
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns.name);
    let mut parent = ConfigMap::default();
    parent.metadata.name = Some("parent".into());
    let parent = cms.create(&PostParams::default(), &parent).await.unwrap();

    let factory = Arc::new(InformerFactory::new(client.clone()));
    let stop = CancellationToken::new();
    let namespace = ns.name.clone();
    let controller = Controller::new(&factory, cms.clone())
        .name("parents")
        .owns(secrets.clone())
        // A Secret labelled `for=<name>` concerns the ConfigMap <name>.
        .watches(secrets.clone(), move |s: &Secret| {
            s.metadata
                .labels
                .as_ref()
                .and_then(|l| l.get("for"))
                .map(|name| vec![ObjectRef::new::<ConfigMap>(name).within(&namespace)])
                .unwrap_or_default()
        })
        .shutdown_on(stop.clone());
    // A second controller of Secrets from the same factory shares the Secret informer.
    let second = Controller::new(&factory, secrets.clone()).shutdown_on(stop.clone());
    assert!(second
        .informer()
        .ptr_eq(&factory.informer_for(secrets.clone())));
    let ready = controller.readiness();
    let calls: Calls = Arc::default();
    let c = calls.clone();
    let run = tokio::spawn(controller.run(
        move |cm: Arc<ConfigMap>, _ctx: Arc<()>| {
            let calls = c.clone();
            async move {
                let name = cm.metadata.name.clone().unwrap_or_default();
                *calls.lock().unwrap().entry(name).or_default() += 1;
                Ok::<_, String>(Action::await_change())
            }
        },
        |_, _, _| Action::backoff(),
        Arc::new(()),
    ));
    let second_run = tokio::spawn(second.run(
        |_s: Arc<Secret>, _ctx: Arc<()>| async { Ok::<_, String>(Action::await_change()) },
        |_, _, _| Action::backoff(),
        Arc::new(()),
    ));
    eventually("ready", || ready.is_ready()).await;
    eventually("parent reconciled at start", || {
        count(&calls, "parent") >= 1
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let base = count(&calls, "parent");

    // An owned child: created, changed, deleted -> the owner is reconciled each time.
    let mut child = Secret::default();
    child.metadata.name = Some("child".into());
    child.metadata.owner_references = Some(vec![OwnerReference {
        api_version: "v1".into(),
        kind: "ConfigMap".into(),
        name: "parent".into(),
        uid: parent.metadata.uid.clone().unwrap(),
        controller: Some(true),
        ..OwnerReference::default()
    }]);
    secrets
        .create(&PostParams::default(), &child)
        .await
        .unwrap();
    eventually("owner queued by a new child", || {
        count(&calls, "parent") > base
    })
    .await;
    let base = count(&calls, "parent");
    let patch = Patch::Merge(serde_json::json!({"stringData": {"k": "v"}}));
    secrets
        .patch("child", &PatchParams::default(), &patch)
        .await
        .unwrap();
    eventually("owner queued by a changed child", || {
        count(&calls, "parent") > base
    })
    .await;
    let base = count(&calls, "parent");
    secrets
        .delete("child", &DeleteParams::default())
        .await
        .unwrap();
    eventually("owner queued by a deleted child", || {
        count(&calls, "parent") > base
    })
    .await;

    // A child owned without `controller: true` is not mapped.
    let base = count(&calls, "parent");
    let mut loose = child.clone();
    loose.metadata.name = Some("loose".into());
    if let Some(refs) = loose.metadata.owner_references.as_mut() {
        refs[0].controller = None;
    }
    secrets
        .create(&PostParams::default(), &loose)
        .await
        .unwrap();

    // A watched Secret names the ConfigMap through its label.
    let mut other = ConfigMap::default();
    other.metadata.name = Some("other".into());
    cms.create(&PostParams::default(), &other).await.unwrap();
    eventually("other reconciled", || count(&calls, "other") >= 1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let other_base = count(&calls, "other");
    let mut labelled = Secret::default();
    labelled.metadata.name = Some("labelled".into());
    labelled.metadata.labels = Some([("for".to_string(), "other".to_string())].into());
    secrets
        .create(&PostParams::default(), &labelled)
        .await
        .unwrap();
    eventually("watched secret queued its ConfigMap", || {
        count(&calls, "other") > other_base
    })
    .await;
    assert_eq!(
        count(&calls, "parent"),
        base,
        "a child that its owner does not control queued it"
    );

    stop.cancel();
    for handle in [run, second_run] {
        tokio::time::timeout(Duration::from_secs(10), handle)
            .await
            .expect("a controller did not stop")
            .unwrap();
    }
}
