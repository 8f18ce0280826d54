//! Hostile answers cannot make the client's heap grow without bound: a gzip-compressed watch
//! whose line never ends (2 GiB of one byte) and a gzip bomb as a ConfigMap GET (10 MiB of
//! gzipped zeros, 10 GiB inflated) fail with a decode error before the heap passes the
//! documented bounds (`api::watch::MAX_WATCH_LINE`, `client::layer::MAX_WHOLE_BODY`, both
//! 128 MiB). The answers come from a scripted service under the real client stack (retry,
//! auth, gzip layers); the heap is counted by a wrapping global allocator in this binary.
//! Also against the control plane: `Config::timeout = Some(Duration::MAX)` works for a list,
//! and the kubeconfig's `disable-compression: true` leaves answers uncompressed.

use std::alloc::System;
use std::time::Duration;

use async_compression::tokio::write::GzipEncoder;
use bytes::Bytes;
use cap::Cap;
use futures::StreamExt;
use k8s_client::api::{Api, ListParams, WatchParams};
use k8s_client::client::{Body, ClientBuilder};
use k8s_client::config::KubeConfigOptions;
use k8s_client::{Client, Config, Error};
use k8s_client_testsupport as ts;
use k8s_openapi::api::core::v1::ConfigMap;
use tokio::io::AsyncWriteExt;

#[global_allocator]
static ALLOC: Cap<System> = Cap::new(System, usize::MAX);

/// The heap measurements must not overlap.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const MIB: usize = 1 << 20;

async fn gzip(data: &[u8]) -> Bytes {
    let mut encoder = GzipEncoder::new(Vec::new());
    encoder.write_all(data).await.unwrap();
    encoder.shutdown().await.unwrap();
    Bytes::from(encoder.into_inner())
}

/// A gzip answer: `head` then `repeat` members each inflating to 1 MiB of `byte`.
async fn gzip_answer(head: &[u8], byte: u8, repeat: usize) -> (Bytes, Bytes, usize) {
    (gzip(head).await, gzip(&vec![byte; MIB]).await, repeat)
}

fn client_answering(
    answer: (Bytes, Bytes, usize),
) -> (Client, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let c = calls.clone();
    let service = tower::service_fn(move |_request: http::Request<Body>| {
        c.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let (head, member, repeat) = answer.clone();
        async move {
            let chunks = futures::stream::once(async move { Ok::<_, std::io::Error>(head) })
                .chain(futures::stream::repeat_with(move || Ok(member.clone())).take(repeat));
            let response = http::Response::builder()
                .header("content-type", "application/json")
                .header("content-encoding", "gzip")
                .body(Body::from_stream(chunks))
                .unwrap();
            Ok::<_, std::convert::Infallible>(response)
        }
    });
    let mut config = Config::new("http://in-memory.invalid".parse().unwrap());
    config.retry = k8s_client::backoff::Backoff::new(Duration::from_millis(1)).steps(3);
    let client = ClientBuilder::new(config).service(service).build().unwrap();
    (client, calls)
}

#[tokio::test]
async fn a_watch_line_without_end_fails_before_the_heap_passes_the_bound() {
    let _serial = SERIAL.lock().await;
    // A partial event line, then 2 GiB of one byte and no newline.
    let answer = gzip_answer(
        br#"{"type":"ADDED","object":{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"},"data":{"k":""#,
        b'a',
        2048,
    )
    .await;
    let (client, _) = client_answering(answer);
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    let before = ALLOC.allocated();
    let start_peak = ALLOC.max_allocated();
    let stream = api.watch(&WatchParams::default(), "0").await.unwrap();
    let events: Vec<_> = tokio::time::timeout(Duration::from_secs(120), stream.collect::<Vec<_>>())
        .await
        .expect("the stream did not end");
    let peak = ALLOC.max_allocated().saturating_sub(before.min(start_peak));
    eprintln!("watch: peak heap over the start {} MiB", peak / MIB);
    assert_eq!(events.len(), 1, "{events:?}");
    match &events[0] {
        Err(Error::Decode(e)) => assert!(e.to_string().contains("MAX_WATCH_LINE"), "{e}"),
        other => panic!("expected a decode error, got {other:?}"),
    }
    assert!(peak < 160 * MIB, "the heap grew by {} MiB", peak / MIB);
}

#[tokio::test]
async fn a_gzip_bomb_as_a_get_fails_before_the_heap_passes_the_bound() {
    let _serial = SERIAL.lock().await;
    // 10 MiB of gzipped zeros (10 GiB inflated).
    let answer = gzip_answer(b"", 0, 10 * 1024).await;
    eprintln!("one member: {} bytes compressed", answer.1.len());
    let (client, calls) = client_answering(answer);
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    let before = ALLOC.allocated();
    let err = tokio::time::timeout(Duration::from_secs(120), api.get("bomb"))
        .await
        .expect("the GET did not end")
        .unwrap_err();
    let peak = ALLOC.max_allocated().saturating_sub(before);
    eprintln!("get: peak heap over the start {} MiB", peak / MIB);
    match &err {
        Error::Decode(e) => assert!(e.to_string().contains("MAX_WHOLE_BODY"), "{e}"),
        other => panic!("expected a decode error, got {other:?}"),
    }
    assert_eq!(
        calls.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "not retried"
    );
    assert!(peak < 160 * MIB, "the heap grew by {} MiB", peak / MIB);
}

#[tokio::test]
async fn the_longest_timeout_does_not_overflow() {
    let mut config = ts::config("admin").await;
    config.timeout = Some(Duration::MAX);
    let client = Client::try_from(config).unwrap();
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    api.list(&ListParams::default()).await.unwrap();
    api.list(&ListParams::default().limit(1)).await.unwrap();
}

#[tokio::test]
async fn disable_compression_in_the_kubeconfig_is_honoured() {
    // The test kubeconfig with `disable-compression: true` on its cluster.
    let text = std::fs::read_to_string(ts::kubeconfig_path()).unwrap();
    let text = text.replacen(
        "  cluster:\n",
        "  cluster:\n    disable-compression: true\n",
        1,
    );
    assert!(text.contains("disable-compression"));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kubeconfig");
    std::fs::write(&path, text).unwrap();
    let options = KubeConfigOptions::default()
        .path(path)
        .context("admin".to_string());
    let config = Config::from_kubeconfig(&options).await.unwrap();
    assert!(config.disable_compression);
    let client = Client::try_from(config).unwrap();
    // A list above the server's 128 KB compression threshold: the server compresses it
    // only when asked.
    let ns = ts::namespace("disable-compression").await;
    let filler = "x".repeat(8 * 1024);
    for i in 0..20 {
        let body = serde_json::json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": format!("cm-{i}")},
            "data": {"filler": filler},
        });
        let request = http::Request::post(format!("/api/v1/namespaces/{}/configmaps", ns.name))
            .body(serde_json::to_vec(&body).unwrap())
            .unwrap();
        client.request::<serde_json::Value>(request).await.unwrap();
    }
    let path = format!("/api/v1/namespaces/{}/configmaps", ns.name);
    let request = http::Request::get(&path).body(Vec::new()).unwrap();
    let response = client.send(request).await.unwrap();
    assert!(response
        .extensions()
        .get::<k8s_client::client::GzipDecoded>()
        .is_none());
    // The same list with compression on arrives gzipped.
    let response = ts::client()
        .await
        .send(http::Request::get(&path).body(Vec::new()).unwrap())
        .await
        .unwrap();
    assert!(response
        .extensions()
        .get::<k8s_client::client::GzipDecoded>()
        .is_some());
}
