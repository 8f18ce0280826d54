//! The controller loop against the real control plane: informer -> work queue -> workers
//! running a reconcile function that writes back to the server, with requeue-after, retries
//! with backoff, giving up after the maximum, and deletions.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_client::api::{DeleteParams, Patch, PatchParams, PostParams};
use k8s_client::cache::{InformerOptions, SharedInformer};
use k8s_client::runtime::controller::{Action, Controller, ReconcileRequest};
use k8s_client::Api;
use k8s_client_testsupport as ts;
use k8s_openapi::api::core::v1::ConfigMap;

fn cm(name: &str) -> ConfigMap {
    let mut c = ConfigMap::default();
    c.metadata.name = Some(name.into());
    c
}

#[derive(Debug, Default, Clone)]
struct Seen {
    calls: u32,
    last_exists: bool,
    max_retries_seen: u32,
}

async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(45);
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn controller_reconciles_retries_requeues_and_sees_deletions() {
    let ns = ts::namespace("controller").await;
    let client = ts::client().await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), &ns.name);
    for name in ["plain", "flaky", "broken", "periodic"] {
        api.create(&PostParams::default(), &cm(name)).await.unwrap();
    }
    let informer = SharedInformer::new(api.clone(), InformerOptions::default());
    let controller = Controller::new(informer).workers(3).max_retries(3);
    let queue = controller.queue();
    let seen: Arc<Mutex<HashMap<String, Seen>>> = Arc::default();
    let s = seen.clone();
    let writer = api.clone();
    let run = tokio::spawn(controller.run(move |req: ReconcileRequest<ConfigMap>| {
        let seen = s.clone();
        let api = writer.clone();
        async move {
            let name = req.key.rsplit('/').next().unwrap_or_default().to_string();
            let calls = {
                let mut seen = seen.lock().unwrap();
                let e = seen.entry(name.clone()).or_default();
                e.calls += 1;
                e.last_exists = req.object.is_some();
                e.max_retries_seen = e.max_retries_seen.max(req.retries);
                e.calls
            };
            let Some(obj) = req.object else {
                return Ok(Action::Done);
            };
            match name.as_str() {
                "broken" => Err(format!("{name} never works")),
                "flaky" if calls <= 2 => Err(format!("{name} fails on call {calls}")),
                "periodic" if calls <= 2 => Ok(Action::RequeueAfter(Duration::from_millis(100))),
                "kube-root-ca.crt" => Ok(Action::Done),
                _ => {
                    // Writes back: marks the object reconciled (once).
                    let done = obj
                        .metadata
                        .annotations
                        .as_ref()
                        .is_some_and(|a| a.contains_key("reconciled"));
                    if !done {
                        let patch = Patch::Merge(serde_json::json!({
                            "metadata": {"annotations": {"reconciled": calls.to_string()}}
                        }));
                        api.patch(&name, &PatchParams::default(), &patch)
                            .await
                            .map_err(|e| e.to_string())?;
                    }
                    Ok(Action::Done)
                }
            }
        }
    }));

    let get = |name: &str| seen.lock().unwrap().get(name).cloned().unwrap_or_default();
    // Reconciled objects are written back; the write comes back as an update, reconciled once
    // more, and left alone.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(45);
    for name in ["plain", "flaky", "periodic"] {
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
                "{name} was not annotated"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    eventually("flaky retried twice then succeeded", || {
        get("flaky").calls >= 3
    })
    .await;
    assert!(get("flaky").max_retries_seen >= 2, "{:?}", get("flaky"));
    // "periodic" asked to run again twice (without changes), then wrote its annotation.
    eventually("periodic requeued", || get("periodic").calls >= 3).await;
    // "broken": the first attempt and 3 retries, then the controller gives up.
    // Given up = forgotten by the queue (its requeue count back to 0) after the fourth call;
    // nothing adds the key again, so the count is final once that is seen.
    let broken_key = format!("{}/broken", ns.name);
    eventually("broken given up", || {
        get("broken").calls >= 4 && queue.num_requeues(&broken_key) == 0
    })
    .await;
    assert_eq!(get("broken").calls, 4, "{:?}", get("broken"));
    assert_eq!(get("broken").max_retries_seen, 3);

    // A deletion is reconciled with no object.
    api.delete("plain", &DeleteParams::default()).await.unwrap();
    eventually("plain reconciled as deleted", || !get("plain").last_exists).await;

    queue.shut_down();
    tokio::time::timeout(Duration::from_secs(10), run)
        .await
        .expect("the controller did not stop after the queue was shut down")
        .unwrap();
}
