//! Leader election against a scripted local server that stores one Lease, speaks JSON only
//! (a protobuf write gets `415`) and can be made to stop answering: the leader falls back to
//! JSON and gives up within its renew deadline. (The real-server tests, one with the server
//! cut off through a frozen forwarder, are in `leader_election.rs`.)

mod rest_support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_client::runtime::leader_election::{
    CancellationToken, Ended, LeaderCallbacks, LeaderElectionConfig, LeaderElector, LeaseLock,
};
use k8s_client::Client;
use rest_support::{Reply, Server};
use serde_json::Value;
use tokio::time::Instant;

const RENEW: Duration = Duration::from_secs(2);
const RETRY: Duration = Duration::from_millis(500);

#[tokio::test]
async fn leader_that_cannot_renew_stops_within_the_renew_deadline() {
    let stall = Arc::new(AtomicBool::new(false));
    let store: Arc<Mutex<(u64, Option<Value>)>> = Arc::new(Mutex::new((0, None)));
    let server = {
        let (stall, store) = (stall.clone(), store.clone());
        Server::start(move |_, seen| {
            if stall.load(Ordering::SeqCst) {
                return Reply::Delayed(Duration::from_secs(30), Box::new(Reply::json(500, "")));
            }
            // This server speaks JSON only, as some API servers do: a protobuf body gets
            // 415, after which the client writes JSON.
            if seen.header("content-type") != Some("application/json") && !seen.body.is_empty() {
                return Reply::json(
                    415,
                    r#"{"kind":"Status","status":"Failure","reason":"UnsupportedMediaType","code":415}"#,
                );
            }
            let mut st = store.lock().unwrap();
            match (seen.method.as_str(), &st.1) {
                ("GET", None) => Reply::json(
                    404,
                    r#"{"kind":"Status","status":"Failure","reason":"NotFound","code":404}"#,
                ),
                ("GET", Some(lease)) => Reply::json(200, &lease.to_string()),
                ("POST", _) | ("PUT", _) => {
                    let mut lease: Value = serde_json::from_slice(&seen.body).unwrap();
                    st.0 += 1;
                    lease["metadata"]["resourceVersion"] = Value::String(st.0.to_string());
                    st.1 = Some(lease.clone());
                    Reply::json(200, &lease.to_string())
                }
                _ => Reply::json(405, ""),
            }
        })
        .await
    };
    let client = Client::try_from(server.config()).unwrap();
    let config =
        LeaderElectionConfig::new(Duration::from_secs(3), RENEW, RETRY).release_on_cancel(true);
    let elector = LeaderElector::new(client, LeaseLock::new("ns", "l", "me"), config).unwrap();
    let stopped = Arc::new(AtomicBool::new(false));
    let work_ended = Arc::new(AtomicBool::new(false));
    let callbacks = {
        let (stopped, work_ended) = (stopped.clone(), work_ended.clone());
        LeaderCallbacks::new(move |leading: CancellationToken| async move {
            leading.cancelled().await;
            work_ended.store(true, Ordering::SeqCst);
        })
        .on_stopped_leading(move || stopped.store(true, Ordering::SeqCst))
    };
    let task = {
        let elector = elector.clone();
        tokio::spawn(async move { elector.run(CancellationToken::new(), callbacks).await })
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while !elector.is_leader() {
        assert!(Instant::now() < deadline, "never became leader");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Let it renew a few times, then stop answering.
    let renewed_from = store.lock().unwrap().0;
    while store.lock().unwrap().0 < renewed_from + 3 {
        assert!(Instant::now() < deadline, "never renewed");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let stalled_at = Instant::now();
    stall.store(true, Ordering::SeqCst);
    let ended = tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("the leader never gave up")
        .unwrap();
    let took = stalled_at.elapsed();
    assert_eq!(ended, Ended::LostLeadership);
    assert!(!elector.is_leader());
    assert!(work_ended.load(Ordering::SeqCst));
    assert!(stopped.load(Ordering::SeqCst));
    // The last renewal was sent at most one retry period (plus a request) before the stall;
    // the leader gives up renew_deadline after it.
    assert!(
        took <= RENEW + Duration::from_millis(300),
        "gave up {took:?} after the server stalled (renew deadline {RENEW:?})"
    );
    assert!(
        took >= RENEW - RETRY - Duration::from_millis(200),
        "gave up after only {took:?}"
    );
    // Losing never writes a release.
    let lease = store.lock().unwrap().1.clone().unwrap();
    assert_eq!(lease["spec"]["holderIdentity"], "me");
}
