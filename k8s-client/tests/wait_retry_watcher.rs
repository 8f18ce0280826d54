//! The retrying watcher against the real control plane: every underlying watch is ended by
//! the server after one second (`timeoutSeconds=1`) while objects are being written, and the
//! events seen are exactly the writes, each once, in order, by resourceVersion.

use std::time::Duration;

use futures::StreamExt;
use k8s_client::api::{
    DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams,
};
use k8s_client::runtime::wait::{RetryWatcher, WatchError};
use k8s_client::{Api, Client};
use k8s_client_testsupport as ts;
use k8s_openapi::api::core::v1::ConfigMap;
use serde_json::json;
use tokio::time::Instant;

async fn own_client() -> Client {
    let mut config = ts::config("admin").await;
    config.rate_limit = None;
    Client::try_from(config).unwrap()
}

fn cm(name: &str) -> ConfigMap {
    serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {"written-by": "test"}},
        "data": {"n": "0"}
    }))
    .unwrap()
}

fn rv(cm: &ConfigMap) -> u64 {
    cm.metadata
        .resource_version
        .as_deref()
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_event_lost_or_duplicated_across_server_timeouts() {
    let ns = ts::namespace("retrywatch").await;
    let client = own_client().await;
    let cms: Api<ConfigMap> = Api::namespaced(client, &ns.name);
    let start_rv = cms
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();

    // Every watch the retrying watcher makes is ended by the server after 1 s. The label
    // selector (kept across restarts) leaves out the namespace's kube-root-ca.crt, which
    // kube-controller-manager writes at a time of its choosing.
    let params = WatchParams::default().timeout(1).labels("written-by=test");
    let mut watcher = RetryWatcher::new(cms.clone(), params, &start_rv).unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let reader = tokio::spawn(async move {
        while let Some(event) = watcher.next().await {
            if tx.send(event).is_err() {
                break;
            }
        }
    });

    // Writes spread over several seconds: (type, name, resourceVersion if known).
    let mut expected: Vec<(&'static str, String, Option<u64>)> = Vec::new();
    let began = Instant::now();
    let pause = Duration::from_millis(40);
    for i in 0..12 {
        let name = format!("cm-{i}");
        let created = cms
            .create(&PostParams::default(), &cm(&name))
            .await
            .unwrap();
        expected.push(("ADDED", name, Some(rv(&created))));
        tokio::time::sleep(pause).await;
    }
    for round in 1..=6 {
        for i in 0..12 {
            let name = format!("cm-{i}");
            let patch = json!({"data": {"n": round.to_string()}});
            let patched = cms
                .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .unwrap();
            expected.push(("MODIFIED", name, Some(rv(&patched))));
            tokio::time::sleep(pause).await;
        }
    }
    for i in 0..6 {
        let name = format!("cm-{i}");
        cms.delete(&name, &DeleteParams::default()).await.unwrap();
        expected.push(("DELETED", name, None));
        tokio::time::sleep(pause).await;
    }
    let end = cms
        .create(&PostParams::default(), &cm("end"))
        .await
        .unwrap();
    expected.push(("ADDED", "end".into(), Some(rv(&end))));
    let writing = began.elapsed();
    assert!(
        writing > Duration::from_secs(3),
        "the writes took only {writing:?}: too few server-side watch timeouts to test resuming"
    );

    // Collect until the marker arrives (events arrive in order, so everything before it
    // has been delivered, duplicates included).
    let mut seen: Vec<(&'static str, String, u64)> = Vec::new();
    let mut bookmarks = 0;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let event = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "the marker never arrived; {} of {} events seen",
                    seen.len(),
                    expected.len()
                )
            })
            .expect("the retrying watcher ended");
        let event = event.unwrap_or_else(|e| panic!("retrying watcher failed: {e}"));
        let (kind, obj) = match event {
            WatchEvent::Added(o) => ("ADDED", o),
            WatchEvent::Modified(o) => ("MODIFIED", o),
            WatchEvent::Deleted(o) => ("DELETED", o),
            WatchEvent::Bookmark(_) => {
                bookmarks += 1;
                continue;
            }
            WatchEvent::Error(s) => panic!("an error event got through: {s:?}"),
        };
        let name = obj.metadata.name.clone().unwrap();
        seen.push((kind, name.clone(), rv(&obj)));
        if name == "end" {
            break;
        }
    }
    reader.abort();

    let rvs: Vec<u64> = seen.iter().map(|s| s.2).collect();
    assert!(
        rvs.windows(2).all(|w| w[0] < w[1]),
        "resourceVersions not strictly increasing (a duplicate or reordering): {rvs:?}"
    );
    assert_eq!(seen.len(), expected.len(), "events lost or duplicated");
    for (i, (s, e)) in seen.iter().zip(&expected).enumerate() {
        assert_eq!((s.0, &s.1), (e.0, &e.1), "event {i}");
        if let Some(rv) = e.2 {
            assert_eq!(s.2, rv, "event {i} ({} {})", e.0, e.1);
        }
    }
    eprintln!(
        "{} events over {writing:?} with 1 s server-side watch timeouts, {bookmarks} bookmarks",
        seen.len()
    );
}

// A watch from a resourceVersion the server no longer has ends with `WatchError::Gone`:
// tested in cache_private.rs, on a control plane whose etcd compacts every second (a young
// shared server with the watch cache on may still replay from version 1).

#[tokio::test]
async fn start_needs_a_definite_resource_version() {
    let cms: Api<ConfigMap> = Api::namespaced(own_client().await, "default");
    for rv in ["", "0"] {
        match RetryWatcher::new(cms.clone(), WatchParams::default(), rv) {
            Err(e @ WatchError::InvalidResourceVersion { .. }) => {
                assert!(
                    e.to_string().contains("v1/ConfigMap in namespace default"),
                    "{e}"
                )
            }
            other => panic!("{rv:?}: {other:?}"),
        }
    }
}
