//! The finalizer helper in a controller against the real control plane: the finalizer is
//! added before the first apply, a deletion runs the cleanup, a failing cleanup keeps the
//! object (and is retried), the finalizer is removed only after cleanup succeeded, and
//! another controller's finalizer on the same object is left in place.

use k8s_client_testsupport::eventually;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use k8s_client::api::{DeleteParams, Patch, PatchParams, PostParams};
use k8s_client::cache::InformerFactory;
use k8s_client::runtime::controller::{Action, Controller};
use k8s_client::runtime::finalizer::{finalizer, Event, FinalizerError};
use k8s_client::runtime::leader_election::CancellationToken;
use k8s_client::Api;
use k8s_client_testsupport as ts;
use k8s_openapi::api::core::v1::ConfigMap;

const FINALIZER: &str = "example.com/cleanup";

#[derive(Default)]
struct Ctx {
    applies: AtomicU32,
    cleanups: AtomicU32,
    applied_without_finalizer: AtomicU32,
    api: std::sync::Mutex<Option<Api<ConfigMap>>>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cleanup_runs_once_deleted_and_the_finalizer_goes_after_it_succeeded() {
    let ns = ts::namespace("finalizer").await;
    let client = ts::client().await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), &ns.name);
    let mut cm = ConfigMap::default();
    cm.metadata.name = Some("guarded".into());
    // Another controller's finalizer, there first.
    cm.metadata.finalizers = Some(vec!["other.example.com/keep".into()]);
    api.create(&PostParams::default(), &cm).await.unwrap();

    let ctx = Arc::new(Ctx::default());
    *ctx.api.lock().unwrap() = Some(api.clone());
    let factory = Arc::new(InformerFactory::new(client.clone()));
    let stop = CancellationToken::new();
    let run = tokio::spawn(
        Controller::new(&factory, api.clone())
            .workers(2)
            .shutdown_on(stop.clone())
            .run(
                |cm: Arc<ConfigMap>, ctx: Arc<Ctx>| async move {
                    if cm.metadata.name.as_deref() != Some("guarded") {
                        return Ok(Action::await_change());
                    }
                    let api = ctx.api.lock().unwrap().clone().expect("api");
                    finalizer(&api, FINALIZER, cm, |event| async {
                        match event {
                            Event::Apply(cm) => {
                                if !cm
                                    .metadata
                                    .finalizers
                                    .iter()
                                    .flatten()
                                    .any(|f| f == FINALIZER)
                                {
                                    ctx.applied_without_finalizer.fetch_add(1, Ordering::SeqCst);
                                }
                                ctx.applies.fetch_add(1, Ordering::SeqCst);
                                Ok(Action::await_change())
                            }
                            Event::Cleanup(_) => {
                                // The external cleanup fails twice before it works.
                                let n = ctx.cleanups.fetch_add(1, Ordering::SeqCst) + 1;
                                if n <= 2 {
                                    Err(std::io::Error::other(format!(
                                        "cleanup attempt {n} failed"
                                    )))
                                } else {
                                    Ok(Action::await_change())
                                }
                            }
                        }
                    })
                    .await
                },
                |_cm, error: &FinalizerError<std::io::Error>, _ctx| {
                    assert!(matches!(error, FinalizerError::Cleanup(_)), "{error}");
                    Action::backoff()
                },
                ctx.clone(),
            ),
    );

    // The finalizer is added (after the other one), then the object is applied.
    eventually("applied", || ctx.applies.load(Ordering::SeqCst) >= 1).await;
    let live = api.get("guarded").await.unwrap();
    assert_eq!(
        live.metadata.finalizers.as_deref().unwrap_or_default(),
        ["other.example.com/keep".to_string(), FINALIZER.to_string()]
    );
    assert_eq!(ctx.applied_without_finalizer.load(Ordering::SeqCst), 0);

    // Delete: the cleanup fails twice (the object stays, finalizer in place), then works.
    api.delete("guarded", &DeleteParams::default())
        .await
        .unwrap();
    eventually("cleanup attempted twice", || {
        ctx.cleanups.load(Ordering::SeqCst) >= 2
    })
    .await;
    eventually("cleanup succeeded", || {
        ctx.cleanups.load(Ordering::SeqCst) >= 3
    })
    .await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let live = api.get("guarded").await.unwrap();
        let finalizers = live.metadata.finalizers.clone().unwrap_or_default();
        if finalizers == ["other.example.com/keep".to_string()] {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "finalizer not removed: {finalizers:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let cleanups = ctx.cleanups.load(Ordering::SeqCst);
    // The other controller lets go: the object is gone, and no cleanup ran again.
    let patch = Patch::Json(serde_json::json!([
        {"op": "test", "path": "/metadata/finalizers", "value": ["other.example.com/keep"]},
        {"op": "remove", "path": "/metadata/finalizers/0"},
    ]));
    api.patch("guarded", &PatchParams::default(), &patch)
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while api.get_opt("guarded").await.unwrap().is_some() {
        assert!(tokio::time::Instant::now() < deadline, "object not deleted");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(ctx.cleanups.load(Ordering::SeqCst), cleanups);

    stop.cancel();
    tokio::time::timeout(Duration::from_secs(10), run)
        .await
        .expect("controller did not stop")
        .unwrap();
}
