//! Large lists are decoded as the body streams in: against the real control plane, the peak
//! heap while listing ~16 MB of ConfigMaps (in protobuf, then in JSON) stays close to the
//! decoded list's own size, while decoding the same answer from one buffered body (the
//! control, `Client::request`) needs the body on top of the objects.
//!
//! The heap is counted by a wrapping global allocator in this test binary; its peak only ever
//! grows, so the streaming lists are measured first and the buffered decode last.

use std::alloc::System;

use cap::Cap;
use futures::{StreamExt, TryStreamExt};
use k8s_client::api::{Api, ListParams, ObjectList, PostParams};
use k8s_client_testsupport as ts;
use k8s_openapi::api::core::v1::ConfigMap;

#[global_allocator]
static ALLOC: Cap<System> = Cap::new(System, usize::MAX);

const OBJECTS: usize = 160;
const VALUE_BYTES: usize = 100_000;

fn mib(n: usize) -> f64 {
    n as f64 / (1 << 20) as f64
}

#[tokio::test]
async fn large_lists_never_hold_the_whole_body() {
    let ns = ts::namespace("list-stream").await;
    let client = ts::client().await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), &ns.name);
    // Values differ per object so nothing can be shared; ~100 KB each.
    futures::stream::iter(0..OBJECTS)
        .map(|i| {
            let api = api.clone();
            async move {
                let mut cm = ConfigMap::default();
                cm.metadata.name = Some(format!("big-{i:04}"));
                let value: String = format!("{i:06}").repeat(VALUE_BYTES / 6);
                cm.data = Some([("payload".to_string(), value)].into());
                api.create(&PostParams::default(), &cm).await.map(|_| ())
            }
        })
        .buffer_unordered(8)
        .try_collect::<Vec<()>>()
        .await
        .unwrap();

    let count = |list: &ObjectList<ConfigMap>| {
        list.items
            .iter()
            .filter(|c| {
                c.metadata
                    .name
                    .as_deref()
                    .is_some_and(|n| n.starts_with("big-"))
            })
            .count()
    };

    // Protobuf (the default for ConfigMap), then JSON: each decoded while it streams.
    let before = ALLOC.allocated();
    let list = api.list(&ListParams::default()).await.unwrap();
    let decoded = ALLOC.allocated() - before;
    assert_eq!(count(&list), OBJECTS);
    drop(list);
    let json_api = api.clone().json();
    let list = json_api.list(&ListParams::default()).await.unwrap();
    let decoded_json = ALLOC.allocated() - before;
    assert_eq!(count(&list), OBJECTS);
    drop(list);
    let streaming_peak = ALLOC.max_allocated() - before;

    // The control: the same JSON answer collected into one buffer, then decoded.
    // The body is at least the payloads.
    let body_len = OBJECTS * VALUE_BYTES;
    let request = json_api
        .request(k8s_client::rest::Verb::List)
        .build()
        .unwrap();
    let list: ObjectList<ConfigMap> = client.request(request).await.unwrap();
    assert_eq!(count(&list), OBJECTS);
    drop(list);
    let buffered_peak = ALLOC.max_allocated() - before;

    let report = format!(
        "decoded list {:.1} MiB (protobuf) / {:.1} MiB (JSON), payloads {:.1} MiB; \
         peak while streaming {:.1} MiB, peak with the body buffered {:.1} MiB",
        mib(decoded),
        mib(decoded_json),
        mib(body_len),
        mib(streaming_peak),
        mib(buffered_peak)
    );
    println!("{report}");
    let largest = decoded.max(decoded_json);
    // The decoded objects, the spare capacity of the items vector while it grows (Vec
    // doubling), one object in progress and what the HTTP/2 stream window holds.
    assert!(
        streaming_peak <= largest + largest / 8 + (4 << 20),
        "streaming decode held too much: {report}"
    );
    assert!(
        buffered_peak >= largest + body_len * 9 / 10,
        "the control should hold the body and the objects at once: {report}"
    );
}
