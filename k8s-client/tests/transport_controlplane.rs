//! The transport against the real control plane: HTTP/2 by ALPN, forced HTTP/1.1, gzip, TLS
//! verification (wrong CA, skipped verification, server name override).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[cfg(feature = "gzip")]
use k8s_client::client::GzipDecoded;
use k8s_client::transport::{TransportError, TransportOptions};
use k8s_client::{Client, Error};
use k8s_client_testsupport as ts;

fn get(path: &str) -> http::Request<Vec<u8>> {
    http::Request::get(path).body(Vec::new()).unwrap()
}

async fn version_of(client: &Client) -> http::Version {
    let response = client.send(get("/version")).await.unwrap();
    assert_eq!(response.status(), 200);
    response.version()
}

#[tokio::test]
async fn http2_is_negotiated_by_alpn() {
    let client = ts::client().await;
    assert_eq!(version_of(&client).await, http::Version::HTTP_2);
    // Also with a bearer token.
    let client = ts::client_for("admin-token").await;
    assert_eq!(version_of(&client).await, http::Version::HTTP_2);
}

#[tokio::test]
async fn http1_when_http2_is_turned_off() {
    let config = ts::config("admin").await;
    let client =
        Client::try_from_with_options(config, &TransportOptions::new().http2(false)).unwrap();
    assert_eq!(version_of(&client).await, http::Version::HTTP_11);
    let v: serde_json::Value = client.request(get("/version")).await.unwrap();
    assert!(v["gitVersion"].as_str().unwrap().starts_with('v'));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_concurrent_requests_share_the_pool() {
    // Through a forwarder that counts the TCP connections the client opens.
    let mut config = ts::config("admin").await;
    let target = config.cluster_url.authority().unwrap().to_string();
    let forwarder = Forwarder::start(target).await;
    config.cluster_url = format!("https://127.0.0.1:{}", forwarder.port)
        .parse()
        .unwrap();
    let client = Client::try_from(config).unwrap();
    // One request opens the connection (HTTP/2 by ALPN)...
    assert_eq!(version_of(&client).await, http::Version::HTTP_2);
    // ...and 16 concurrent ones are multiplexed over it: no second connection.
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let c = client.clone();
        tasks.push(tokio::spawn(async move { c.send(get("/version")).await }));
    }
    for t in tasks {
        let response = t.await.unwrap().unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.version(), http::Version::HTTP_2);
    }
    assert_eq!(forwarder.accepted.load(Ordering::SeqCst), 1);
}

#[cfg(feature = "gzip")]
#[tokio::test]
async fn large_lists_arrive_gzipped_and_are_decoded() {
    let ns = ts::namespace("transport-gzip").await;
    let client = ts::client().await;
    // 40 config maps of 8 KiB each: a list of ~330 KB, above the server's 128 KB
    // compression threshold.
    let filler = "x".repeat(8 * 1024);
    for i in 0..40 {
        let body = serde_json::json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": format!("cm-{i}")},
            "data": {"filler": filler},
        });
        let request = http::Request::post(format!("/api/v1/namespaces/{}/configmaps", ns.name))
            .body(serde_json::to_vec(&body).unwrap())
            .unwrap();
        client.request::<serde_json::Value>(request).await.unwrap();
    }
    let path = format!("/api/v1/namespaces/{}/configmaps", ns.name);
    let response = client.send(get(&path)).await.unwrap();
    assert!(
        response.extensions().get::<GzipDecoded>().is_some(),
        "the server did not gzip a large list: headers {:?}",
        response.headers()
    );
    assert!(response.headers().get("content-encoding").is_none());
    use http_body_util::BodyExt;
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let list: serde_json::Value = serde_json::from_slice(&body).unwrap();
    // Ours, and possibly the kube-root-ca.crt config map of every namespace.
    let ours = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|cm| cm["metadata"]["name"].as_str().unwrap().starts_with("cm-"))
        .count();
    assert_eq!(ours, 40);

    // A small answer is not compressed.
    let response = client.send(get("/version")).await.unwrap();
    assert!(response.extensions().get::<GzipDecoded>().is_none());
}

#[tokio::test]
async fn wrong_ca_is_a_tls_error() {
    let mut config = ts::config("admin").await;
    // A certificate that did not sign the server's: the admin client certificate.
    let pem = std::fs::read(ts::cluster_dir().join("pki/admin.crt")).unwrap();
    config.tls.root_certs_pem = vec![pem];
    let client = Client::try_from(config).unwrap();
    let start = Instant::now();
    let err = client.request_text(get("/version")).await.unwrap_err();
    match &err {
        Error::Transport(TransportError::Tls { message, source }) => {
            assert!(message.contains("certificate"), "{message}");
            assert!(source.is_some(), "the TLS error is kept as the source");
        }
        other => panic!("expected a TLS error, got {other:?}"),
    }
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "TLS errors are not retried"
    );
}

#[tokio::test]
async fn insecure_skip_verify_accepts_the_server() {
    let mut config = ts::config("admin-token").await;
    config.tls.root_certs_pem.clear();
    config.tls.insecure_skip_verify = true;
    let client = Client::try_from(config).unwrap();
    assert_eq!(version_of(&client).await, http::Version::HTTP_2);
}

#[tokio::test]
async fn tls_server_name_overrides_the_host() {
    let mut config = ts::config("admin").await;
    assert_eq!(config.cluster_url.host(), Some("127.0.0.1"));
    config.tls.server_name = Some("localhost".to_string());
    let client = Client::try_from(config.clone()).unwrap();
    assert_eq!(version_of(&client).await, http::Version::HTTP_2);

    config.tls.server_name = Some("not-the-server.example".to_string());
    let client = Client::try_from(config).unwrap();
    let err = client.request_text(get("/version")).await.unwrap_err();
    assert!(
        matches!(&err, Error::Transport(TransportError::Tls { message, .. }) if message.contains("not valid for name")),
        "{err:?}"
    );
}

// Plain http:// with credentials is refused before any connection: tested once, in
// rest_local_server.rs (no server is contacted).

/// A TCP forwarder to the control plane that counts the connections it accepts and can be
/// frozen: it then keeps the connections open but passes nothing, as a server that died
/// without closing its sockets (or a dropped network).
struct Forwarder {
    port: u16,
    frozen: Arc<AtomicBool>,
    accepted: Arc<AtomicUsize>,
}

impl Forwarder {
    async fn start(target: String) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let frozen = Arc::new(AtomicBool::new(false));
        let accepted = Arc::new(AtomicUsize::new(0));
        let (f, a) = (frozen.clone(), accepted.clone());
        tokio::spawn(async move {
            loop {
                let (client, _) = listener.accept().await.unwrap();
                a.fetch_add(1, Ordering::SeqCst);
                let upstream = tokio::net::TcpStream::connect(&target).await.unwrap();
                let (cr, cw) = client.into_split();
                let (ur, uw) = upstream.into_split();
                tokio::spawn(pump(cr, uw, f.clone()));
                tokio::spawn(pump(ur, cw, f.clone()));
            }
        });
        Forwarder {
            port,
            frozen,
            accepted,
        }
    }
}

async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    frozen: Arc<AtomicBool>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if frozen.load(Ordering::SeqCst) {
            // Swallow everything from now on, keeping both sockets open.
            std::future::pending::<()>().await;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

#[tokio::test]
async fn keep_alive_pings_notice_a_dead_connection() {
    let mut config = ts::config("admin").await;
    let target = config.cluster_url.authority().unwrap().to_string();
    let forwarder = Forwarder::start(target).await;
    let frozen = forwarder.frozen.clone();
    config.cluster_url = format!("https://127.0.0.1:{}", forwarder.port)
        .parse()
        .unwrap();
    config.keep_alive = Some(Duration::from_millis(300));
    let options = TransportOptions::new().ping_timeout(Duration::from_millis(500));
    let client = Client::try_from_with_options(config, &options).unwrap();
    assert_eq!(version_of(&client).await, http::Version::HTTP_2);

    // A quiet watch that the server would keep open for a minute.
    let mut stream = client
        .request_stream(get(
            "/api/v1/namespaces/default/configmaps?watch=true&timeoutSeconds=60&labelSelector=none%3Dnone",
        ))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    frozen.store(true, Ordering::SeqCst);
    let start = Instant::now();
    let end = tokio::time::timeout(Duration::from_secs(20), stream.next())
        .await
        .expect("the dead connection was not noticed within 20 s");
    let took = start.elapsed();
    match end {
        Some(Err(Error::Transport(e))) => eprintln!("watch ended after {took:?}: {e}"),
        other => panic!("expected a transport error, got {other:?}"),
    }
    assert!(took < Duration::from_secs(5), "noticed only after {took:?}");
}
