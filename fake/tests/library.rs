//! k8s-client's own machinery, unchanged, over the in-memory server: discovery, dynamic and
//! metadata handles, custom resources, an informer, a work-queue controller, leader
//! election, the event recorder and `wait_until`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_client::api::{Api, ApiResource, ListParams, Patch, PatchParams, PostParams};
use k8s_client::cache::InformerFactory;
use k8s_client::discovery::Discovery;
use k8s_client::dynamic::{DynamicApi, DynamicObject};
use k8s_client::metadata::MetadataApi;
use k8s_client::runtime::controller::{Action, Controller};
use k8s_client::runtime::crd;
use k8s_client::runtime::events::{reference_of, EventRecord, EventRecorder};
use k8s_client::runtime::leader_election::{
    CancellationToken, LeaderCallbacks, LeaderElectionConfig, LeaderElector, LeaseLock,
};
use k8s_client::runtime::wait::{conditions, wait_until};
use k8s_client_fake::FakeServer;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use serde_json::json;

fn cm(name: &str) -> ConfigMap {
    serde_json::from_value(json!({"metadata": {"name": name}})).unwrap()
}

async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn discovery_resolves_builtin_kinds_and_custom_resources() {
    let server = FakeServer::new("1.36").unwrap();
    let client = server.client();
    let discovery = Discovery::new(client.clone());
    let deploy = discovery.resolve("deploy").await.unwrap();
    assert_eq!(deploy.api.plural, "deployments");
    assert_eq!(deploy.api.group, "apps");

    let definition: CustomResourceDefinition = serde_json::from_value(json!({
        "metadata": {"name": "widgets.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "shortNames": ["wd"]},
            "versions": [{"name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}},
                "subresources": {"status": {}, "scale": {"specReplicasPath": ".spec.replicas", "statusReplicasPath": ".status.replicas"}}}]}
    }))
    .unwrap();
    crd::create(&client, &definition, Duration::from_secs(10))
        .await
        .unwrap();
    let fresh = Discovery::new(client.clone());
    let widget = fresh
        .resolve("wd")
        .await
        .unwrap_or_else(|_| panic!("short name"));
    assert_eq!(widget.api.kind, "Widget");

    // The custom resource through the dynamic handle, with status and scale subresources.
    let ar = ApiResource::from_gvk(
        &k8s_client::api::GroupVersionKind::new("example.com", "v1", "Widget"),
        "widgets",
        true,
    );
    let widgets = DynamicApi::namespaced_with(client.clone(), "default", &ar);
    let w: DynamicObject =
        serde_json::from_value(json!({"apiVersion": "example.com/v1", "kind": "Widget",
        "metadata": {"name": "w1"}, "spec": {"replicas": 2}}))
        .unwrap();
    let created = widgets.create(&PostParams::default(), &w).await.unwrap();
    assert_eq!(created.metadata.generation, Some(1));
    let scale = widgets.get_scale("w1").await.unwrap();
    assert_eq!(scale.spec.unwrap().replicas, Some(2));
    let listed = widgets.list(&ListParams::default()).await.unwrap();
    assert_eq!(listed.items.len(), 1);
}

#[tokio::test]
async fn dynamic_and_metadata_handles() {
    let server = FakeServer::new("1.36").unwrap();
    let client = server.client();
    Api::<ConfigMap>::namespaced(client.clone(), "default")
        .create(&PostParams::default(), &cm("a"))
        .await
        .unwrap();
    let ar = ApiResource::of::<ConfigMap>();
    let dynamic = DynamicApi::namespaced_with(client.clone(), "default", &ar);
    let items = dynamic.list(&ListParams::default()).await.unwrap().items;
    assert!(items
        .iter()
        .all(|o| o.kind == "ConfigMap" && o.api_version == "v1"));
    let metadata = MetadataApi::namespaced_with(client.clone(), "default", &ar);
    let names: Vec<_> = metadata
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|o| o.metadata.name)
        .collect();
    assert_eq!(names, ["a"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn informer_and_controller_reconcile_over_the_fake() {
    let server = FakeServer::new("1.36").unwrap();
    let api: Api<ConfigMap> = Api::namespaced(server.client(), "default");
    for name in ["one", "two", "three"] {
        api.create(&PostParams::default(), &cm(name)).await.unwrap();
    }
    let factory = Arc::new(InformerFactory::new(server.client()));
    let stop = CancellationToken::new();
    let controller = Controller::new(&factory, api.clone())
        .workers(2)
        .shutdown_on(stop.clone());
    let informer = controller.informer().clone();
    let seen: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
    let s = seen.clone();
    let writer = api.clone();
    let run = tokio::spawn(controller.run(
        move |obj: Arc<ConfigMap>, _ctx: Arc<()>| {
            let seen = s.clone();
            let api = writer.clone();
            async move {
                let name = obj.metadata.name.clone().unwrap_or_default();
                *seen.lock().unwrap().entry(name.clone()).or_default() += 1;
                if obj
                    .metadata
                    .annotations
                    .as_ref()
                    .is_none_or(|a| !a.contains_key("reconciled"))
                {
                    let patch =
                        Patch::Merge(json!({"metadata": {"annotations": {"reconciled": "yes"}}}));
                    api.patch(&name, &PatchParams::default(), &patch)
                        .await
                        .map_err(|e| e.to_string())?;
                }
                Ok::<_, String>(Action::await_change())
            }
        },
        |_, _, _| Action::backoff(),
        Arc::new(()),
    ));
    tokio::time::timeout(Duration::from_secs(20), informer.wait_for_sync())
        .await
        .unwrap();
    for name in ["one", "two", "three"] {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let c = api.get(name).await.unwrap();
            if c.metadata
                .annotations
                .is_some_and(|a| a.contains_key("reconciled"))
            {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{name} not reconciled"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    api.create(&PostParams::default(), &cm("four"))
        .await
        .unwrap();
    eventually("four reconciled", || {
        seen.lock().unwrap().contains_key("four")
    })
    .await;
    assert_eq!(informer.store().len(), 4);
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(10), run)
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_election_over_the_fake() {
    let server = FakeServer::new("1.36").unwrap();
    let config = LeaderElectionConfig::new(
        Duration::from_secs(2),
        Duration::from_millis(1500),
        Duration::from_millis(200),
    )
    .release_on_cancel(true);
    let started = Arc::new(AtomicUsize::new(0));
    let cancel = CancellationToken::new();
    let mut tasks = Vec::new();
    for id in ["a", "b"] {
        let elector = LeaderElector::new(
            server.client(),
            LeaseLock::new("default", "lock", id),
            config.clone(),
        )
        .unwrap();
        let started = started.clone();
        let callbacks = LeaderCallbacks::new(move |leading: CancellationToken| {
            let started = started.clone();
            async move {
                started.fetch_add(1, Ordering::SeqCst);
                leading.cancelled().await;
            }
        });
        let cancel = cancel.clone();
        tasks.push(tokio::spawn(
            async move { elector.run(cancel, callbacks).await },
        ));
    }
    eventually("a leader", || started.load(Ordering::SeqCst) >= 1).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(started.load(Ordering::SeqCst), 1, "exactly one leader");
    let lease: Lease = Api::namespaced(server.client(), "default")
        .get("lock")
        .await
        .unwrap();
    assert!(lease.spec.unwrap().holder_identity.is_some());
    cancel.cancel();
    for t in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(10), t)
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn event_recorder_and_wait_until_over_the_fake() {
    let server = FakeServer::new("1.36").unwrap();
    let client = server.client();
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let subject = cms
        .create(&PostParams::default(), &cm("subject"))
        .await
        .unwrap();
    let recorder = EventRecorder::builder(client.clone(), "example.com/test", "pod-0")
        .build()
        .unwrap();
    for _ in 0..5 {
        recorder
            .record(
                EventRecord::normal("Reconciled", "Reconcile", reference_of(&subject)).note("done"),
            )
            .unwrap();
    }
    recorder.flush().await;
    let events: Vec<Event> = Api::namespaced(client.clone(), "default")
        .list(&ListParams::default())
        .await
        .unwrap()
        .items;
    assert_eq!(events.len(), 1, "{events:?}");

    let waiter = {
        let cms = cms.clone();
        tokio::spawn(async move {
            wait_until(&cms, "later", Duration::from_secs(10), conditions::exists).await
        })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    cms.create(&PostParams::default(), &cm("later"))
        .await
        .unwrap();
    let found = waiter.await.unwrap().unwrap();
    assert_eq!(found.unwrap().metadata.name.as_deref(), Some("later"));
    cms.delete("later", &Default::default()).await.unwrap();
    wait_until(
        &cms,
        "later",
        Duration::from_secs(10),
        conditions::is_deleted,
    )
    .await
    .unwrap();
}
