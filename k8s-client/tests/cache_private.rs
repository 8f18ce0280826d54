//! The reflector against a private control plane of its own: an expired resourceVersion
//! (etcd compacted, watch cache off) makes it relist, a watch from a compacted version is a
//! 410, an expired continue token ends `list_pages` and `list_all` with a 410 and makes the
//! reflector list again; a restart of the control plane in the
//! middle of a watch is recovered from without help, and deletions made meanwhile arrive.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use std::sync::atomic::{AtomicBool, Ordering};

use futures::future::BoxFuture;
use futures::StreamExt;
use k8s_client::api::ResourceVersionMatch;
use k8s_client::api::{DeleteParams, ListParams, Object, Patch, PatchParams, PostParams};
use k8s_client::api::{ObjectList, WatchEvent, WatchParams};
use k8s_client::cache::{
    BoxWatchStream, Event, InformerOptions, ListWatch, SharedInformer, WatchListMode,
};
use k8s_client::client::{Body, BoxService, ClientBuilder};
use k8s_client::{Api, Client};
use k8s_client_testsupport::controlplane::PrivateControlPlane;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use tower::ServiceExt;

fn cm(name: &str, label: &str) -> ConfigMap {
    let mut c = ConfigMap::default();
    c.metadata.name = Some(name.into());
    c.metadata.labels = Some([("kind".to_string(), label.to_string())].into());
    c
}

async fn namespace(client: &Client, name: &str) {
    let mut ns = Namespace::default();
    ns.metadata.name = Some(name.into());
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .unwrap();
}

fn snapshot<'a>(objs: impl Iterator<Item = &'a ConfigMap>) -> BTreeMap<String, String> {
    objs.map(|o| {
        (
            o.key(),
            o.resource_version().unwrap_or_default().to_string(),
        )
    })
    .collect()
}

/// Waits until the informer's store equals a fresh list of `api` (with `labels`).
async fn converged(informer: &SharedInformer<ConfigMap>, api: &Api<ConfigMap>, labels: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let truth = api
            .list(&ListParams::default().labels(labels))
            .await
            .unwrap();
        let truth = snapshot(truth.items.iter());
        let store = informer.store().list();
        let store = snapshot(store.iter().map(|o| o.as_ref()));
        if truth == store {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "no convergence within 60 s: server {truth:?}, store {store:?}, stats {:?}",
            informer.stats()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_resource_version_makes_the_reflector_relist() {
    // Without the watch cache, watches are served by etcd, which answers a compacted
    // revision with 410 Expired; compaction runs every second.
    let cp =
        PrivateControlPlane::start(&["--watch-cache=false", "--etcd-compaction-interval=1s"]).await;
    let client = cp.client().await;
    namespace(&client, "expiry").await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "expiry");
    for i in 0..5 {
        api.create(&PostParams::default(), &cm(&format!("w-{i}"), "watched"))
            .await
            .unwrap();
    }
    api.create(&PostParams::default(), &cm("noise", "noise"))
        .await
        .unwrap();
    // Watch only the "watched" objects, with short watches: each new watch starts from the
    // resourceVersion of the last watched change, which the noise makes old and compaction
    // removes.
    let informer = SharedInformer::new(
        api.clone(),
        InformerOptions::default()
            .labels("kind=watched")
            .watch_list(WatchListMode::Off)
            .page_size(2)
            .min_watch_timeout(Duration::from_secs(1)),
    );
    informer.start();
    tokio::time::timeout(Duration::from_secs(30), informer.wait_for_sync())
        .await
        .expect("no sync within 30 s");

    let deadline = Instant::now() + Duration::from_secs(60);
    let mut n = 0u64;
    while informer.stats().expired == 0 {
        assert!(
            Instant::now() < deadline,
            "no 410 within 60 s: {:?}",
            informer.stats()
        );
        n += 1;
        let patch = Patch::Merge(serde_json::json!({"data": {"n": n.to_string()}}));
        api.patch("noise", &PatchParams::default(), &patch)
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Changes to the watched objects after the expiry are still seen.
    api.delete("w-0", &DeleteParams::default()).await.unwrap();
    api.create(&PostParams::default(), &cm("w-new", "watched"))
        .await
        .unwrap();
    converged(&informer, &api, "kind=watched").await;
    let stats = informer.stats();
    assert!(stats.lists >= 2, "no relist after the 410: {stats:?}");
    // Without the watch cache every list is served by etcd, in pages of 2.
    assert!(
        stats.list_pages >= 3 * stats.lists,
        "lists were not paginated: {stats:?}"
    );
    eprintln!("expired after {n} noise writes; stats {stats:?}");

    // The same control plane (watch cache off, compaction every second): a watch from a
    // compacted version, and continue tokens.
    watch_from_a_compacted_version_is_410(&api).await;
    retry_watcher_from_a_compacted_version_is_gone(&api).await;
    expired_continue_tokens(&client).await;
}

/// The retrying watcher from resourceVersion 1, long compacted: it ends with a typed
/// `WatchError::Gone` naming the version, and nothing after it.
async fn retry_watcher_from_a_compacted_version_is_gone(api: &Api<ConfigMap>) {
    use k8s_client::runtime::wait::{RetryWatcher, WatchError};
    let mut watcher = RetryWatcher::new(api.clone(), WatchParams::default(), "1").unwrap();
    let first = tokio::time::timeout(Duration::from_secs(20), watcher.next())
        .await
        .expect("no answer to a watch from resourceVersion 1")
        .expect("the stream ended without an error");
    match first {
        Err(WatchError::Gone {
            resource_version, ..
        }) => assert_eq!(resource_version, "1"),
        other => panic!("expected Gone, got {other:?}"),
    }
    assert!(
        watcher.next().await.is_none(),
        "the stream goes on after Gone"
    );
}

/// A watch from resourceVersion 1, long compacted (the reflector above saw 410s for far newer
/// versions): the server answers 410 Expired, as the response status or as an ERROR event.
/// Anything else (a replay of ADDED events, as for a watch that never sent the version)
/// fails.
async fn watch_from_a_compacted_version_is_410(api: &Api<ConfigMap>) {
    let wp = WatchParams::default().timeout(10);
    match api.watch(&wp, "1").await {
        Err(e) => assert!(e.is_gone(), "expected 410 Gone, got {e}"),
        Ok(events) => {
            let mut events = Box::pin(events);
            let ev = tokio::time::timeout(Duration::from_secs(20), events.next())
                .await
                .expect("no event within 20s")
                .expect("the watch ended without an event");
            match ev {
                Err(e) => assert!(e.is_gone(), "expected 410 Gone, got {e}"),
                Ok(WatchEvent::Error(status)) => {
                    assert_eq!(status.code, Some(410), "{status:?}")
                }
                Ok(other) => panic!("expected 410 Gone for resourceVersion 1, got {other:?}"),
            }
        }
    }
}

/// Writes to `noise` until etcd has compacted away every revision up to now: afterwards a
/// continue token handed out before this call is too old (410 Expired).
async fn compact_everything_so_far(noise: &Api<ConfigMap>) {
    let now = noise
        .list(&ListParams::default().limit(1))
        .await
        .unwrap()
        .resource_version()
        .unwrap()
        .to_string();
    let deadline = Instant::now() + Duration::from_secs(60);
    for n in 0u64.. {
        // Compaction needs newer revisions to move past `now`.
        let patch = Patch::Merge(serde_json::json!({"data": {"n": n.to_string()}}));
        noise
            .patch("noise", &PatchParams::default(), &patch)
            .await
            .unwrap();
        let exact = ListParams::default()
            .at(&now)
            .matching(ResourceVersionMatch::Exact)
            .limit(1);
        match noise.list(&exact).await {
            Err(e) if e.is_gone() => return,
            Ok(_) => {}
            Err(e) => panic!("reading revision {now}: {e}"),
        }
        assert!(
            Instant::now() < deadline,
            "revision {now} not compacted within 60 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A client over `client`'s transport whose first request with a `continue` token waits
/// until etcd has compacted every revision up to that moment: that token is then expired,
/// deterministically, and the server answers it with 410. Later requests pass untouched.
fn client_with_one_expired_continue(client: &Client, noise: Api<ConfigMap>) -> Client {
    let used = Arc::new(AtomicBool::new(false));
    let layer = tower::layer::layer_fn(move |inner: BoxService| {
        let (used, noise) = (used.clone(), noise.clone());
        tower::service_fn(move |request: http::Request<Body>| {
            let (used, noise, inner) = (used.clone(), noise.clone(), inner.clone());
            async move {
                let continues = request
                    .uri()
                    .query()
                    .is_some_and(|q| q.contains("continue="));
                if continues && !used.swap(true, Ordering::SeqCst) {
                    compact_everything_so_far(&noise).await;
                }
                inner.oneshot(request).await
            }
        })
    });
    ClientBuilder::new(client.config().clone())
        .transport_layer(layer)
        .build()
        .unwrap()
}

/// A 410 on an expired `continue` token: `list_pages` yields it as its last item and ends,
/// `list_all` returns it, and the reflector relists from the newest version (and syncs).
async fn expired_continue_tokens(client: &Client) {
    namespace(client, "continue").await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "continue");
    for i in 0..5 {
        api.create(&PostParams::default(), &cm(&format!("c-{i}"), "paged"))
            .await
            .unwrap();
    }
    api.create(&PostParams::default(), &cm("noise", "noise"))
        .await
        .unwrap();
    let paged = ListParams::default().labels("kind=paged").limit(2);

    let expiring = |c: &Client| {
        Api::<ConfigMap>::namespaced(client_with_one_expired_continue(c, api.clone()), "continue")
    };
    let pages = expiring(client).list_pages(&paged);
    let mut pages = Box::pin(pages);
    let first = pages.next().await.expect("a first page").unwrap();
    assert_eq!(first.items.len(), 2);
    match pages.next().await {
        Some(Err(e)) => assert!(e.is_gone(), "expected 410 for the expired token, got {e}"),
        other => panic!("expected a 410 error for the expired continue token, got {other:?}"),
    }
    assert!(
        pages.next().await.is_none(),
        "list_pages went on after the error"
    );

    let err = expiring(client).list_all(&paged).await.unwrap_err();
    assert!(err.is_gone(), "expected 410 from list_all, got {err}");

    // The reflector: its first list is paginated (page size 2, from etcd), its first
    // continue token expires; it lists again from the newest version and syncs.
    let informer = SharedInformer::new(
        expiring(client),
        InformerOptions::default()
            .labels("kind=paged")
            .watch_list(WatchListMode::Off)
            .page_size(2),
    );
    informer.start();
    tokio::time::timeout(Duration::from_secs(60), informer.wait_for_sync())
        .await
        .expect("no sync within 60 s after the expired continue token");
    let stats = informer.stats();
    assert!(
        stats.expired >= 1,
        "the 410 did not reach the reflector: {stats:?}"
    );
    assert!(stats.lists >= 1, "{stats:?}");
    let mut names: Vec<String> = informer
        .store()
        .list()
        .iter()
        .filter_map(|o| o.metadata.name.clone())
        .collect();
    names.sort();
    assert_eq!(names, ["c-0", "c-1", "c-2", "c-3", "c-4"], "{stats:?}");
}

/// The real API behind a gate the test can close: list and watch calls wait while it is
/// closed. It keeps the informer away from the server while the test changes things.
#[derive(Clone)]
struct Gated {
    api: Api<ConfigMap>,
    open: Arc<tokio::sync::watch::Sender<bool>>,
}

impl Gated {
    async fn wait_open(&self) {
        let mut rx = self.open.subscribe();
        let _ = rx.wait_for(|open| *open).await;
    }
}

impl ListWatch for Gated {
    type Object = ConfigMap;
    fn list<'a>(
        &'a self,
        params: &'a ListParams,
    ) -> BoxFuture<'a, k8s_client::Result<ObjectList<ConfigMap>>> {
        Box::pin(async move {
            self.wait_open().await;
            self.api.list(params).await
        })
    }
    fn watch<'a>(
        &'a self,
        params: &'a WatchParams,
        resource_version: &'a str,
    ) -> BoxFuture<'a, k8s_client::Result<BoxWatchStream<ConfigMap>>> {
        Box::pin(async move {
            self.wait_open().await;
            let events = ListWatch::watch(&self.api, params, resource_version).await?;
            // Nothing passes once the gate closes (not even a bookmark): the watch ends, and
            // the informer keeps the resourceVersion it had when the gate closed.
            let open = self.open.subscribe();
            let gated = events.take_while(move |_| std::future::ready(*open.borrow()));
            Ok(Box::pin(gated) as BoxWatchStream<ConfigMap>)
        })
    }
    fn describe(&self) -> String {
        format!("gated {}", self.api.describe())
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Last {
    Present(String),
    Deleted { tombstone: bool },
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn informer_recovers_from_a_control_plane_restart() {
    let mut cp = PrivateControlPlane::start(&[]).await;
    let client = cp.client().await;
    namespace(&client, "restart").await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "restart");
    for i in 0..6 {
        api.create(&PostParams::default(), &cm(&format!("a-{i}"), "x"))
            .await
            .unwrap();
    }
    let gate = Arc::new(tokio::sync::watch::channel(true).0);
    let source = Gated {
        api: api.clone(),
        open: gate.clone(),
    };
    let informer = SharedInformer::new(source, InformerOptions::default());
    let last: Arc<Mutex<HashMap<String, Last>>> = Arc::default();
    let l = last.clone();
    let _reg = informer.add_handler(move |ev: Event<ConfigMap>| {
        let state = match &ev {
            Event::Added(o) => Last::Present(o.resource_version().unwrap_or_default().into()),
            Event::Updated { new, .. } => {
                Last::Present(new.resource_version().unwrap_or_default().into())
            }
            Event::Deleted(d) => Last::Deleted {
                tombstone: d.is_final_state_unknown(),
            },
        };
        l.lock().unwrap().insert(ev.key(), state);
    });
    informer.start();
    tokio::time::timeout(Duration::from_secs(30), informer.wait_for_sync())
        .await
        .expect("no sync within 30 s");
    let before = informer.stats();

    // The informer's next list or watch waits for the gate, so the changes below happen
    // while it is disconnected.
    gate.send_replace(false);
    // A write the informer cannot see: etcd's revision moves past the informer's, so the
    // restarted server's watch cache (which starts at the revision it lists) is newer than
    // the informer's resourceVersion, and its watch expires.
    namespace(&client, "restart-bump").await;
    cp.stop().await;
    cp.start_again().await;
    let fresh: Api<ConfigMap> = Api::namespaced(cp.client().await, "restart");
    for i in 0..3 {
        fresh
            .delete(&format!("a-{i}"), &DeleteParams::default())
            .await
            .unwrap();
    }
    let patch = Patch::Merge(serde_json::json!({"data": {"k": "v"}}));
    fresh
        .patch("a-3", &PatchParams::default(), &patch)
        .await
        .unwrap();
    for i in 0..3 {
        fresh
            .create(&PostParams::default(), &cm(&format!("b-{i}"), "x"))
            .await
            .unwrap();
    }
    gate.send_replace(true);
    converged(&informer, &fresh, "").await;

    let truth = snapshot(
        fresh
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .iter(),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let seen = last.lock().unwrap().clone();
        let deletes_ok = (0..3).all(|i| {
            matches!(
                seen.get(&format!("restart/a-{i}")),
                Some(Last::Deleted { .. })
            )
        });
        let present_ok = truth
            .iter()
            .all(|(k, rv)| seen.get(k) == Some(&Last::Present(rv.clone())));
        if deletes_ok && present_ok {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the handler's view did not converge: {seen:?} vs {truth:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let after = informer.stats();
    assert!(after.watches > before.watches, "no new watch: {after:?}");
    // The restarted server's watch cache starts after our resourceVersion: the watch
    // expires, the relist finds the deleted objects gone, and tombstones report them.
    assert!(
        after.expired > before.expired,
        "no 410: {before:?} -> {after:?}"
    );
    assert!(after.lists > before.lists, "no relist: {after:?}");
    let seen = last.lock().unwrap().clone();
    for i in 0..3 {
        assert_eq!(
            seen.get(&format!("restart/a-{i}")),
            Some(&Last::Deleted { tombstone: true }),
            "{seen:?}"
        );
    }
}
