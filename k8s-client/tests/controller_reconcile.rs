//! The controller loop against the real control plane: informer -> work queue -> workers
//! running a reconcile function with a shared context that writes back to the server, with
//! requeue-after, an error policy with backoff, giving up after the maximum, a panicking
//! reconcile (caught, retried, the worker carries on), and graceful shutdown that lets the
//! reconcile in progress finish.

use k8s_client_testsupport::eventually;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_client::api::{Patch, PatchParams, PostParams};
use k8s_client::cache::InformerFactory;
use k8s_client::runtime::controller::{Action, Controller};
use k8s_client::runtime::leader_election::CancellationToken;
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
    errors_seen_by_policy: u32,
}

#[derive(Default)]
struct Ctx {
    seen: Mutex<HashMap<String, Seen>>,
    api: Mutex<Option<Api<ConfigMap>>>,
}

impl Ctx {
    fn get(&self, name: &str) -> Seen {
        self.seen
            .lock()
            .unwrap()
            .get(name)
            .cloned()
            .unwrap_or_default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn controller_reconciles_retries_requeues_and_survives_panics() {
    let ns = ts::namespace("controller").await;
    let client = ts::client().await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), &ns.name);
    for name in ["plain", "flaky", "broken", "periodic", "panicky"] {
        api.create(&PostParams::default(), &cm(name)).await.unwrap();
    }
    let factory = Arc::new(InformerFactory::new(client.clone()));
    let stop = CancellationToken::new();
    // One worker: a panic must not take the only worker (and the controller) down.
    let controller = Controller::new(&factory, api.clone())
        .workers(1)
        .max_retries(3)
        .shutdown_on(stop.clone());
    let ready = controller.readiness();
    assert!(!ready.is_ready());
    let ctx = Arc::new(Ctx::default());
    *ctx.api.lock().unwrap() = Some(api.clone());
    let run = tokio::spawn(controller.run(
        |obj: Arc<ConfigMap>, ctx: Arc<Ctx>| async move {
            let name = obj.metadata.name.clone().unwrap_or_default();
            let calls = {
                let mut seen = ctx.seen.lock().unwrap();
                let e = seen.entry(name.clone()).or_default();
                e.calls += 1;
                e.calls
            };
            match name.as_str() {
                "broken" => Err(format!("{name} never works")),
                "flaky" if calls <= 2 => Err(format!("{name} fails on call {calls}")),
                "periodic" if calls <= 2 => Ok(Action::requeue(Duration::from_millis(100))),
                "panicky" if calls <= 2 => panic!("reconcile of {name} panics on call {calls}"),
                "kube-root-ca.crt" => Ok(Action::await_change()),
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
                        let api = ctx.api.lock().unwrap().clone().expect("api");
                        api.patch(&name, &PatchParams::default(), &patch)
                            .await
                            .map_err(|e| e.to_string())?;
                    }
                    Ok(Action::await_change())
                }
            }
        },
        |obj: Arc<ConfigMap>, _error: &String, ctx: Arc<Ctx>| {
            let name = obj.metadata.name.clone().unwrap_or_default();
            ctx.seen
                .lock()
                .unwrap()
                .entry(name)
                .or_default()
                .errors_seen_by_policy += 1;
            Action::backoff()
        },
        ctx.clone(),
    ));

    eventually("readiness after the caches synced", || ready.is_ready()).await;
    // Reconciled objects are written back; the write comes back as an update, reconciled once
    // more, and left alone. "panicky" panicked twice before that: it was retried each time.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(45);
    for name in ["plain", "flaky", "periodic", "panicky"] {
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
    assert!(ctx.get("panicky").calls >= 3, "{:?}", ctx.get("panicky"));
    assert_eq!(ctx.get("panicky").errors_seen_by_policy, 0);
    eventually("flaky retried twice then succeeded", || {
        ctx.get("flaky").calls >= 3
    })
    .await;
    assert_eq!(ctx.get("flaky").errors_seen_by_policy, 2);
    // "periodic" asked to run again twice (without changes), then wrote its annotation.
    eventually("periodic requeued", || ctx.get("periodic").calls >= 3).await;
    // "broken": the first attempt and 3 retries, then the controller gives up.
    eventually("broken given up", || ctx.get("broken").calls >= 4).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(ctx.get("broken").calls, 4, "{:?}", ctx.get("broken"));
    // A change of "broken" queues it again.
    let patch = Patch::Merge(serde_json::json!({"data": {"k": "v"}}));
    api.patch("broken", &PatchParams::default(), &patch)
        .await
        .unwrap();
    eventually("broken reconciled after a change", || {
        ctx.get("broken").calls >= 5
    })
    .await;

    stop.cancel();
    tokio::time::timeout(Duration::from_secs(10), run)
        .await
        .expect("the controller did not stop after the shutdown token")
        .unwrap();
    assert!(!ready.is_ready());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_the_reconcile_in_progress_finish() {
    let ns = ts::namespace("controller-stop").await;
    let client = ts::client().await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), &ns.name);
    api.create(&PostParams::default(), &cm("slow"))
        .await
        .unwrap();
    let factory = Arc::new(InformerFactory::new(client.clone()));
    let stop = CancellationToken::new();
    let started = Arc::new(tokio::sync::Notify::new());
    let finished = Arc::new(AtomicBool::new(false));
    let (s, f) = (started.clone(), finished.clone());
    let run = tokio::spawn(
        Controller::new(&factory, api.clone())
            .shutdown_on(stop.clone())
            .run(
                move |obj: Arc<ConfigMap>, _ctx: Arc<()>| {
                    let (started, finished) = (s.clone(), f.clone());
                    async move {
                        if obj.metadata.name.as_deref() == Some("slow") {
                            started.notify_one();
                            tokio::time::sleep(Duration::from_millis(1500)).await;
                            finished.store(true, Ordering::SeqCst);
                        }
                        Ok::<_, String>(Action::await_change())
                    }
                },
                |_, _, _| Action::backoff(),
                Arc::new(()),
            ),
    );
    tokio::time::timeout(Duration::from_secs(30), started.notified())
        .await
        .expect("the slow reconcile did not start");
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(10), run)
        .await
        .expect("the controller did not stop")
        .unwrap();
    assert!(
        finished.load(Ordering::SeqCst),
        "run returned before the reconcile in progress finished"
    );
}
