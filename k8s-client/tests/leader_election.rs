//! Leader election against the real control plane: three candidates, at most one leader at
//! any sampled instant, takeover after a crashed leader's lease expires, immediate takeover
//! after a release, the Lease object's holder and transitions, and a leader cut off from the
//! server (through a forwarder the test freezes) giving up within its renew deadline.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_client::api::{Patch, PatchParams};
use k8s_client::runtime::leader_election::{
    CancellationToken, Ended, LeaderCallbacks, LeaderElectionConfig, LeaderElectionConfigError,
    LeaderElector, LeaderStatus, LeaseLock,
};
use k8s_client::{Api, Client};
use k8s_client_testsupport as ts;
use k8s_openapi::api::coordination::v1::Lease;
use tokio::task::JoinHandle;
use tokio::time::Instant;

const LEASE: Duration = Duration::from_secs(3);
const RENEW: Duration = Duration::from_secs(2);
const RETRY: Duration = Duration::from_millis(500);

fn config() -> LeaderElectionConfig {
    LeaderElectionConfig::new(LEASE, RENEW, RETRY).release_on_cancel(true)
}

async fn own_client() -> Client {
    let mut config = ts::config("admin").await;
    config.rate_limit = None;
    Client::try_from(config).unwrap()
}

#[derive(Default)]
struct Log {
    started: AtomicUsize,
    stopped: AtomicUsize,
    /// Leaders this candidate observed, in order.
    leaders: Mutex<Vec<String>>,
    /// Set when the leading token was cancelled and the leading future returned.
    work_ended: AtomicBool,
}

struct Candidate {
    id: String,
    elector: LeaderElector,
    cancel: CancellationToken,
    log: Arc<Log>,
    task: Option<JoinHandle<Ended>>,
}

fn start(elector: &LeaderElector, log: &Arc<Log>, cancel: &CancellationToken) -> JoinHandle<Ended> {
    let (l1, l2, l3) = (log.clone(), log.clone(), log.clone());
    let callbacks = LeaderCallbacks::new(move |leading: CancellationToken| async move {
        l1.started.fetch_add(1, Ordering::SeqCst);
        leading.cancelled().await;
        l1.work_ended.store(true, Ordering::SeqCst);
    })
    .on_stopped_leading(move || {
        l2.stopped.fetch_add(1, Ordering::SeqCst);
    })
    .on_new_leader(move |id| l3.leaders.lock().unwrap().push(id.to_string()));
    let elector = elector.clone();
    let cancel = cancel.clone();
    tokio::spawn(async move { elector.run(cancel, callbacks).await })
}

async fn wait_for<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn leaders(cs: &[Candidate]) -> Vec<usize> {
    (0..cs.len())
        .filter(|&i| cs[i].elector.is_leader())
        .collect()
}

fn spec(lease: &Lease) -> (String, i32) {
    let s = lease.spec.clone().unwrap_or_default();
    (
        s.holder_identity.unwrap_or_default(),
        s.lease_transitions.unwrap_or(-1),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_candidates_failover_and_release() {
    let ns = ts::namespace("leader").await;
    let leases: Api<Lease> = Api::namespaced(ts::client().await, &ns.name);
    let mut cs = Vec::new();
    for i in 0..3 {
        let id = format!("candidate-{i}");
        let lock = LeaseLock::new(&ns.name, "the-lock", &id);
        let elector = LeaderElector::new(own_client().await, lock, config()).unwrap();
        cs.push(Candidate {
            id,
            elector,
            cancel: CancellationToken::new(),
            log: Arc::new(Log::default()),
            task: None,
        });
    }

    // The sampler: how many believe they lead, every millisecond or so.
    let electors: Vec<LeaderElector> = cs.iter().map(|c| c.elector.clone()).collect();
    let stop_sampler = CancellationToken::new();
    let sampler = {
        let stop = stop_sampler.clone();
        tokio::spawn(async move {
            let (mut samples, mut violations) = (0usize, Vec::new());
            while !stop.is_cancelled() {
                let now: Vec<usize> = (0..3).filter(|&i| electors[i].is_leader()).collect();
                if now.len() > 1 {
                    violations.push(now);
                }
                samples += 1;
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            (samples, violations)
        })
    };

    for c in cs.iter_mut() {
        c.task = Some(start(&c.elector, &c.log, &c.cancel));
    }
    let first = wait_for("a first leader", Duration::from_secs(15), || {
        leaders(&cs).first().copied()
    })
    .await;
    let lease = leases.get("the-lock").await.unwrap();
    assert_eq!(spec(&lease), (cs[first].id.clone(), 0));
    assert_eq!(cs[first].log.started.load(Ordering::SeqCst), 1);
    // Everybody learns who leads.
    wait_for(
        "all candidates to observe the leader",
        Duration::from_secs(10),
        || {
            cs.iter()
                .all(|c| c.elector.leader().as_deref() == Some(cs[first].id.as_str()))
                .then_some(())
        },
    )
    .await;
    // Leadership is stable while the leader renews: nobody else takes over for 2 leases.
    let calm_until = Instant::now() + LEASE * 2;
    while Instant::now() < calm_until {
        assert_eq!(
            leaders(&cs),
            vec![first],
            "leadership moved while the leader renewed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Crash the leader: abort its run without any release.
    let crashed_at = Instant::now();
    let task = cs[first].task.take().unwrap();
    task.abort();
    assert!(task.await.unwrap_err().is_cancelled());
    assert!(!cs[first].elector.is_leader());
    let second = wait_for(
        "a takeover after the crash",
        Duration::from_secs(15),
        || leaders(&cs).first().copied(),
    )
    .await;
    let takeover = crashed_at.elapsed();
    assert_ne!(second, first);
    eprintln!("takeover after a crash: {takeover:?}");
    let bound = LEASE + RETRY + Duration::from_secs(1);
    assert!(
        takeover <= bound,
        "takeover after a crash took {takeover:?}, more than {bound:?}"
    );
    // The lease had been renewed at most one retry period (plus a request) before the
    // crash: nobody may take over before it expired on their clock.
    assert!(
        takeover >= LEASE - RETRY - Duration::from_millis(300),
        "takeover after {takeover:?}: before the lease could have expired"
    );
    let lease = leases.get("the-lock").await.unwrap();
    assert_eq!(spec(&lease), (cs[second].id.clone(), 1));
    assert_eq!(
        cs[first].log.stopped.load(Ordering::SeqCst),
        0,
        "aborted: no callback"
    );

    // Cancel the new leader: it releases, and the last candidate takes over at once.
    let third = 3 - first - second;
    wait_for(
        "the last candidate to observe the new leader",
        Duration::from_secs(10),
        || (cs[third].elector.leader().as_deref() == Some(cs[second].id.as_str())).then_some(()),
    )
    .await;
    let released_at = Instant::now();
    cs[second].cancel.cancel();
    let ended = cs[second].task.take().unwrap().await.unwrap();
    assert_eq!(ended, Ended::Cancelled);
    assert!(cs[second].log.work_ended.load(Ordering::SeqCst));
    assert_eq!(cs[second].log.stopped.load(Ordering::SeqCst), 1);
    wait_for(
        "a takeover after the release",
        Duration::from_secs(10),
        || cs[third].elector.is_leader().then_some(()),
    )
    .await;
    let takeover = released_at.elapsed();
    eprintln!("takeover after a release: {takeover:?}");
    let bound = RETRY.mul_f64(2.2) + Duration::from_millis(500);
    assert!(
        takeover <= bound,
        "takeover after a release took {takeover:?}, more than {bound:?} (lease {LEASE:?})"
    );
    let lease = leases.get("the-lock").await.unwrap();
    assert_eq!(spec(&lease), (cs[third].id.clone(), 2));

    // The last leader releases on cancel too: the Lease is left with no holder.
    cs[third].cancel.cancel();
    assert_eq!(
        cs[third].task.take().unwrap().await.unwrap(),
        Ended::Cancelled
    );
    assert!(!cs[third].elector.is_leader());
    let lease = leases.get("the-lock").await.unwrap();
    assert_eq!(spec(&lease), (String::new(), 2));
    assert_eq!(lease.spec.unwrap().lease_duration_seconds, Some(1));

    stop_sampler.cancel();
    let (samples, violations) = sampler.await.unwrap();
    assert!(violations.is_empty(), "two leaders at once: {violations:?}");
    assert!(samples > 500, "the sampler ran only {samples} times");
    eprintln!("{samples} samples, never two leaders");

    // Each leader was told once; the last one saw all three leaders in order.
    for i in [first, second, third] {
        assert_eq!(cs[i].log.started.load(Ordering::SeqCst), 1, "{}", cs[i].id);
    }
    assert_eq!(cs[third].log.stopped.load(Ordering::SeqCst), 1);
    let seen = cs[third].log.leaders.lock().unwrap().clone();
    assert_eq!(
        seen,
        vec![
            cs[first].id.clone(),
            cs[second].id.clone(),
            cs[third].id.clone()
        ]
    );
}

#[tokio::test]
async fn leader_that_loses_the_lease_stops_leading() {
    let ns = ts::namespace("leader-lost").await;
    let client = own_client().await;
    let lock = LeaseLock::new(&ns.name, "lost", "me");
    let elector = LeaderElector::new(client.clone(), lock, config()).unwrap();
    let log = Arc::new(Log::default());
    let status = elector.subscribe();
    let task = start(&elector, &log, &CancellationToken::new());
    wait_for("leadership", Duration::from_secs(10), || {
        elector.is_leader().then_some(())
    })
    .await;
    assert_eq!(
        *status.borrow(),
        LeaderStatus {
            leader: Some("me".into()),
            is_leader: true
        }
    );

    // Somebody else overwrites the Lease (as a candidate with a skewed view might).
    let leases: Api<Lease> = Api::namespaced(client, &ns.name);
    let patch = serde_json::json!({"spec": {"holderIdentity": "intruder"}});
    leases
        .patch("lost", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    let ended = tokio::time::timeout(LEASE * 2, task)
        .await
        .expect("the leader did not notice it lost the lease")
        .unwrap();
    assert_eq!(ended, Ended::LostLeadership);
    assert!(!elector.is_leader());
    assert_eq!(elector.leader().as_deref(), Some("intruder"));
    assert_eq!(
        *status.borrow(),
        LeaderStatus {
            leader: Some("intruder".into()),
            is_leader: false
        }
    );
    assert!(
        log.work_ended.load(Ordering::SeqCst),
        "leading token not cancelled"
    );
    assert_eq!(log.stopped.load(Ordering::SeqCst), 1);
    assert_eq!(
        *log.leaders.lock().unwrap(),
        vec!["me".to_string(), "intruder".to_string()]
    );
    // Losing never releases: the intruder keeps the Lease.
    let lease = leases.get("lost").await.unwrap();
    assert_eq!(spec(&lease).0, "intruder");
}

#[tokio::test]
async fn leader_cut_off_from_the_server_stops_within_the_renew_deadline() {
    let ns = ts::namespace("leader-cut").await;
    // The leader reaches the real server through a forwarder the test freezes.
    let mut client_config = ts::config("admin").await;
    client_config.rate_limit = None;
    let proxy = k8s_client_testsupport::faults::FaultProxy::in_front_of(&mut client_config).await;
    let client = Client::try_from(client_config).unwrap();
    let lock = LeaseLock::new(&ns.name, "cut", "me");
    let elector = LeaderElector::new(client, lock, config()).unwrap();
    let log = Arc::new(Log::default());
    let task = start(&elector, &log, &CancellationToken::new());
    wait_for("leadership", Duration::from_secs(10), || {
        elector.is_leader().then_some(())
    })
    .await;

    // Wait for a renewal seen on the server, then cut the leader off right after it.
    let leases: Api<Lease> = Api::namespaced(own_client().await, &ns.name);
    let first = leases.get("cut").await.unwrap().spec.unwrap().renew_time;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = leases.get("cut").await.unwrap().spec.unwrap().renew_time;
        if now != first {
            break;
        }
        assert!(Instant::now() < deadline, "the leader never renewed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let cut_at = Instant::now();
    proxy.stall(true);
    let ended = tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("the leader never gave up")
        .unwrap();
    let took = cut_at.elapsed();
    assert_eq!(ended, Ended::LostLeadership);
    assert!(!elector.is_leader());
    assert!(
        log.work_ended.load(Ordering::SeqCst),
        "leading token not cancelled"
    );
    assert_eq!(log.stopped.load(Ordering::SeqCst), 1);
    // The last renewal was at most one retry period before the cut; the leader gives up
    // renew_deadline after it.
    assert!(
        took <= RENEW + Duration::from_millis(300),
        "gave up {took:?} after the cut (renew deadline {RENEW:?})"
    );
    assert!(
        took >= RENEW - RETRY - Duration::from_millis(200),
        "gave up after only {took:?}"
    );
    // Cut off, it could not release: the server still names it.
    let lease = leases.get("cut").await.unwrap();
    assert_eq!(spec(&lease).0, "me");
}

#[tokio::test]
async fn candidate_waits_for_a_held_lease_and_cancel_before_leading_returns() {
    let ns = ts::namespace("leader-wait").await;
    let client = own_client().await;
    // A foreign holder that keeps renewing is never displaced.
    let holder = LeaderElector::new(
        client.clone(),
        LeaseLock::new(&ns.name, "held", "holder"),
        config(),
    )
    .unwrap();
    let holder_cancel = CancellationToken::new();
    let holder_task = start(&holder, &Arc::new(Log::default()), &holder_cancel);
    wait_for("the holder to lead", Duration::from_secs(10), || {
        holder.is_leader().then_some(())
    })
    .await;
    let waiting =
        LeaderElector::new(client, LeaseLock::new(&ns.name, "held", "waiter"), config()).unwrap();
    let log = Arc::new(Log::default());
    let cancel = CancellationToken::new();
    let task = start(&waiting, &log, &cancel);
    tokio::time::sleep(LEASE * 2).await;
    assert!(!waiting.is_leader());
    assert_eq!(waiting.leader().as_deref(), Some("holder"));
    cancel.cancel();
    assert_eq!(task.await.unwrap(), Ended::Cancelled);
    assert_eq!(log.started.load(Ordering::SeqCst), 0);
    assert_eq!(
        log.stopped.load(Ordering::SeqCst),
        0,
        "never led: no stopped callback"
    );
    holder_cancel.cancel();
    assert_eq!(holder_task.await.unwrap(), Ended::Cancelled);
}

#[tokio::test]
async fn invalid_configs_are_typed_errors() {
    let client = own_client().await;
    let bad = LeaderElectionConfig::default().renew_deadline(Duration::from_secs(20));
    let err = LeaderElector::new(client.clone(), LeaseLock::new("ns", "l", "me"), bad).unwrap_err();
    assert!(matches!(
        err,
        LeaderElectionConfigError::LeaseNotLongerThanRenewDeadline { .. }
    ));
    let err = LeaderElector::new(client, LeaseLock::new("ns", "l", ""), config()).unwrap_err();
    assert_eq!(err, LeaderElectionConfigError::EmptyLockField("identity"));
    assert!(
        err.to_string().contains("identity must not be empty"),
        "{err}"
    );
}
