//! A controller with leader election against the real control plane: of two replicas
//! competing for one Lease only the leader reconciles; when it stops (releasing the Lease)
//! the other takes over and reconciles the keys its cache queued meanwhile.

use k8s_client_testsupport::eventually;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_client::api::{Patch, PatchParams, PostParams};
use k8s_client::cache::InformerFactory;
use k8s_client::runtime::controller::{Action, Controller};
use k8s_client::runtime::leader_election::{
    CancellationToken, LeaderElectionConfig, LeaderElector, LeaseLock,
};
use k8s_client::Api;
use k8s_client_testsupport as ts;
use k8s_openapi::api::core::v1::ConfigMap;

type Log = Arc<Mutex<Vec<(String, String)>>>;

fn replica(
    client: &k8s_client::Client,
    ns: &str,
    identity: &str,
    log: &Log,
    stop: &CancellationToken,
) -> tokio::task::JoinHandle<()> {
    let config = LeaderElectionConfig::new(
        Duration::from_secs(4),
        Duration::from_secs(3),
        Duration::from_millis(500),
    )
    .release_on_cancel(true);
    let elector = LeaderElector::new(
        client.clone(),
        LeaseLock::new(ns, "controller-leader", identity),
        config,
    )
    .unwrap();
    let factory = Arc::new(InformerFactory::new(client.clone()));
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), ns);
    let (log, me) = (log.clone(), identity.to_string());
    tokio::spawn(
        Controller::new(&factory, api)
            .leader_election(elector)
            .shutdown_on(stop.clone())
            .run(
                move |cm: Arc<ConfigMap>, _ctx: Arc<()>| {
                    let (log, me) = (log.clone(), me.clone());
                    async move {
                        let name = cm.metadata.name.clone().unwrap_or_default();
                        if name == "watched" {
                            log.lock().unwrap().push((me, name));
                        }
                        Ok::<_, String>(Action::await_change())
                    }
                },
                |_, _, _| Action::backoff(),
                Arc::new(()),
            ),
    )
}

fn by(log: &Log, who: &str) -> usize {
    log.lock().unwrap().iter().filter(|(w, _)| w == who).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_leader_reconciles_and_a_successor_takes_over() {
    let ns = ts::namespace("controller-leader").await;
    let client = ts::client().await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), &ns.name);
    let mut cm = ConfigMap::default();
    cm.metadata.name = Some("watched".into());
    api.create(&PostParams::default(), &cm).await.unwrap();

    let log: Log = Arc::default();
    let (stop_a, stop_b) = (CancellationToken::new(), CancellationToken::new());
    let a = replica(&client, &ns.name, "a", &log, &stop_a);
    eventually("a leads and reconciles", || by(&log, "a") >= 1).await;
    let b = replica(&client, &ns.name, "b", &log, &stop_b);
    // b's cache syncs; a change is reconciled by a only.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let patch = Patch::Merge(serde_json::json!({"data": {"n": "1"}}));
    api.patch("watched", &PatchParams::default(), &patch)
        .await
        .unwrap();
    eventually("a reconciles the change", || by(&log, "a") >= 2).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(by(&log, "b"), 0, "a replica that does not lead reconciled");

    // a stops and releases the Lease: b leads and reconciles what it queued.
    stop_a.cancel();
    tokio::time::timeout(Duration::from_secs(15), a)
        .await
        .expect("a did not stop")
        .unwrap();
    eventually("b takes over", || by(&log, "b") >= 1).await;
    stop_b.cancel();
    tokio::time::timeout(Duration::from_secs(15), b)
        .await
        .expect("b did not stop")
        .unwrap();
}
