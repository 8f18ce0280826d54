//! A panicking handler, transform or index function against the real control plane: each
//! panic is caught and counted, and the informer keeps its store and its other handlers
//! current (issue 17 item 3). Async handlers too.

use k8s_client_testsupport::eventually;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_client::api::{DeleteParams, Object, PostParams};
use k8s_client::cache::{Event, InformerOptions, SharedInformer, Transform};
use k8s_client::Api;
use k8s_client_testsupport as ts;
use k8s_openapi::api::core::v1::ConfigMap;

fn cm(name: &str) -> ConfigMap {
    let mut c = ConfigMap::default();
    c.metadata.name = Some(name.into());
    c.data = Some([("k".to_string(), name.to_string())].into());
    c
}

fn seen(names: &Mutex<Vec<String>>) -> Vec<String> {
    let mut v = names.lock().unwrap().clone();
    v.retain(|n| n != "kube-root-ca.crt");
    v.sort();
    v
}

fn store_names(informer: &SharedInformer<ConfigMap>) -> Vec<String> {
    let mut v: Vec<String> = informer
        .store()
        .list()
        .iter()
        .filter_map(|c| c.name().map(String::from))
        .filter(|n| n != "kube-root-ca.crt")
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn panicking_callbacks_are_caught_and_the_informer_stays_current() {
    let ns = ts::namespace("cache-panics").await;
    let client = ts::client().await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), &ns.name);
    for name in ["a", "bad-handler", "bad-index"] {
        api.create(&PostParams::default(), &cm(name)).await.unwrap();
    }
    // The transform panics on one object, which is then left out of the cache.
    let transform: Transform<ConfigMap> = Arc::new(|c: ConfigMap| {
        assert_ne!(c.name(), Some("bad-transform"), "transform refuses it");
        c
    });
    let informer =
        SharedInformer::new(api.clone(), InformerOptions::default().transform(transform));
    informer
        .add_indexer(
            "data",
            Arc::new(|c: &ConfigMap| {
                assert_ne!(c.name(), Some("bad-index"), "index refuses it");
                c.data
                    .as_ref()
                    .and_then(|d| d.get("k").cloned())
                    .into_iter()
                    .collect()
            }),
        )
        .unwrap();
    let sync_seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let s = sync_seen.clone();
    let sync_reg = informer.add_handler(move |ev: Event<ConfigMap>| {
        let name = ev.object().name().unwrap_or_default().to_string();
        assert!(!name.starts_with("bad-handler"), "handler refuses {name}");
        s.lock().unwrap().push(name);
    });
    let async_seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let s = async_seen.clone();
    let async_reg = informer.add_async_handler(move |ev: Event<ConfigMap>| {
        let s = s.clone();
        async move {
            tokio::time::sleep(Duration::from_millis(1)).await;
            let name = ev.object().name().unwrap_or_default().to_string();
            assert!(
                !name.starts_with("bad-handler"),
                "async handler refuses {name}"
            );
            s.lock().unwrap().push(name);
        }
    });
    informer.start();
    tokio::time::timeout(Duration::from_secs(30), informer.wait_for_sync())
        .await
        .expect("the informer synced");
    // Before the fix a handler that panicked never synced.
    for reg in [&sync_reg, &async_reg] {
        tokio::time::timeout(Duration::from_secs(30), reg.wait_for_sync())
            .await
            .expect("a handler that panicked still syncs");
    }
    assert_eq!(sync_reg.panics(), 1);
    assert_eq!(async_reg.panics(), 1);

    // Changes after the panics still reach the store and the handlers: the reflector lives.
    api.create(&PostParams::default(), &cm("bad-transform"))
        .await
        .unwrap();
    api.create(&PostParams::default(), &cm("b")).await.unwrap();
    api.delete("a", &DeleteParams::default()).await.unwrap();
    eventually("the store to follow", || {
        store_names(&informer) == ["b", "bad-handler", "bad-index"]
    })
    .await;
    for handler_seen in [&sync_seen, &async_seen] {
        eventually("the handlers to follow", || {
            seen(handler_seen) == ["a", "a", "b", "bad-index"]
        })
        .await;
    }
    let stats = informer.stats();
    assert_eq!(stats.handler_panics, 2, "{stats:?}");
    assert!(stats.transform_panics >= 1, "{stats:?}");
    assert!(stats.index_panics >= 1, "{stats:?}");
    assert!(informer.has_synced());

    // The object an index function panicked on is out of that index, the others are in it.
    let store = informer.store();
    let mut values = store.index_values("data").unwrap();
    values.sort();
    values.retain(|v| v != "kube-root-ca.crt");
    assert_eq!(values, ["b", "bad-handler"]);
    assert_eq!(
        store.by_index("namespace", &ns.name).unwrap().len(),
        store.len()
    );
}
