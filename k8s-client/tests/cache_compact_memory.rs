//! A compact informer store holds the same objects as a plain one in a fraction of the heap:
//! against the real control plane, 400 Pods (two containers, probes, env, labels, status,
//! managedFields from server-side apply) are cached once decoded and once packed, the live
//! heap each informer adds is counted, and the packed cache must take under a fifth of the
//! decoded one (it takes about a fifteenth) while reading back exactly the same objects.
//!
//! The heap is counted by a wrapping global allocator in this test binary.

use std::alloc::System;
use std::collections::BTreeMap;
use std::time::Duration;

use cap::Cap;
use futures::{StreamExt, TryStreamExt};
use k8s_client::api::{Api, Object, Patch, PatchParams};
use k8s_client::cache::{InformerOptions, SharedInformer};
use k8s_client_testsupport as ts;
use k8s_openapi::api::core::v1::Pod;

#[global_allocator]
static ALLOC: Cap<System> = Cap::new(System, usize::MAX);

const PODS: usize = 400;

fn pod(i: usize) -> serde_json::Value {
    let container = |name: &str, port: u16| {
        serde_json::json!({
            "name": name,
            "image": format!("registry.example.com/team/{name}:1.{i}"),
            "ports": [{"containerPort": port, "name": "http"}],
            "env": [
                {"name": "INDEX", "value": i.to_string()},
                {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            ],
            "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}},
            "readinessProbe": {"httpGet": {"path": "/ready", "port": port}, "periodSeconds": 5},
        })
    };
    serde_json::json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "name": format!("web-{i:04}"),
            "labels": {"app": "web", "shard": (i % 7).to_string()},
            "annotations": {"example.com/revision": format!("rev-{i}")},
        },
        "spec": {"containers": [container("web", 8080), container("sidecar", 9090)]},
    })
}

/// The live heap (bytes) an informer over `api` with `options` adds once synced, and the
/// informer.
async fn cached_heap(
    api: &Api<Pod>,
    options: InformerOptions<Pod>,
) -> (usize, SharedInformer<Pod>) {
    let before = ALLOC.allocated();
    let informer = SharedInformer::new(api.clone(), options);
    informer.start();
    tokio::time::timeout(Duration::from_secs(60), informer.wait_for_sync())
        .await
        .expect("the informer did not sync within 60 s");
    // Let the decode buffers of the list go.
    tokio::time::sleep(Duration::from_millis(300)).await;
    (ALLOC.allocated().saturating_sub(before), informer)
}

#[tokio::test]
async fn a_compact_store_holds_the_same_pods_in_a_fraction_of_the_heap() {
    let ns = ts::namespace("compact-memory").await;
    let client = ts::client_unlimited().await;
    let api: Api<Pod> = Api::namespaced(client.clone(), &ns.name);
    futures::stream::iter(0..PODS)
        .map(|i| {
            let api = api.clone();
            async move {
                let name = format!("web-{i:04}");
                api.patch(
                    &name,
                    &PatchParams::apply("compact-memory-test"),
                    &Patch::Apply(pod(i)),
                )
                .await
            }
        })
        .buffer_unordered(16)
        .try_collect::<Vec<_>>()
        .await
        .expect("creating the Pods");

    let (plain_bytes, plain) = cached_heap(&api, InformerOptions::default()).await;
    let (compact_bytes, compact) = cached_heap(&api, InformerOptions::default().compact()).await;
    plain.stop();
    compact.stop();
    assert_eq!(plain.store().len(), PODS);
    assert_eq!(compact.store().len(), PODS);
    assert!(compact.store().is_compact());

    let per_pod = |b: usize| b / PODS;
    println!(
        "heap per cached Pod: decoded {} B, compact {} B ({:.3}x)",
        per_pod(plain_bytes),
        per_pod(compact_bytes),
        compact_bytes as f64 / plain_bytes as f64
    );
    assert!(
        compact_bytes * 5 < plain_bytes,
        "compact {compact_bytes} B is not under a fifth of decoded {plain_bytes} B"
    );

    // Both caches hold the same Pods, managedFields and all.
    let by_key = |informer: &SharedInformer<Pod>| -> BTreeMap<String, Pod> {
        let pods = informer.store().list().into_iter();
        pods.map(|p| (p.key(), (*p).clone())).collect()
    };
    let (decoded, packed) = (by_key(&plain), by_key(&compact));
    assert_eq!(packed.len(), PODS);
    assert!(packed.values().all(|p| p.metadata.managed_fields.is_some()));
    assert!(
        packed == decoded,
        "the compact store's Pods differ from the plain store's"
    );
    // And the lister reads through the packing.
    assert_eq!(
        compact
            .lister()
            .by_namespace(&ns.name)
            .list_selected("shard=3")
            .unwrap()
            .len(),
        (0..PODS).filter(|i| i % 7 == 3).count()
    );
}
