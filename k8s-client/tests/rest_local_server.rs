//! The request path (retries, timeouts, headers, decoding, warnings, gzip, proxies) against
//! a scripted local HTTP server, so that failures the real API server never produces on
//! demand (429, 503, cut connections, garbage bodies) can be tested.

mod rest_support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k8s_client::backoff::Backoff;
use k8s_client::config::Impersonation;
use k8s_client::rest::WarningHandler;
use k8s_client::transport::TransportError;
use k8s_client::{Client, Error};
use rest_support::{Reply, Server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const VERSION: &str = r#"{"major":"1","minor":"99","gitVersion":"v1.99.0"}"#;

fn get(path: &str) -> http::Request<Vec<u8>> {
    http::Request::get(path).body(Vec::new()).unwrap()
}

fn post(path: &str, body: &str) -> http::Request<Vec<u8>> {
    http::Request::post(path)
        .body(body.as_bytes().to_vec())
        .unwrap()
}

#[tokio::test]
async fn too_many_requests_honours_retry_after() {
    let server = Server::start(|i, _| {
        if i == 0 {
            Reply::json(
                429,
                r#"{"kind":"Status","reason":"TooManyRequests","message":"slow down","code":429}"#,
            )
            .with_header("Retry-After", "1")
        } else {
            Reply::json(200, VERSION)
        }
    })
    .await;
    let client = Client::try_from(server.config()).unwrap();
    let start = Instant::now();
    let v: serde_json::Value = client.request(get("/version")).await.unwrap();
    let took = start.elapsed();
    assert_eq!(v["gitVersion"], "v1.99.0");
    assert_eq!(server.seen().len(), 2);
    assert!(took >= Duration::from_millis(950), "waited only {took:?}");
    assert!(took < Duration::from_secs(3), "waited {took:?}");
}

#[tokio::test]
async fn service_unavailable_is_retried_with_backoff() {
    let server = Server::start(|i, _| {
        if i < 2 {
            Reply::json(503, "")
        } else {
            Reply::json(200, VERSION)
        }
    })
    .await;
    let client = Client::try_from(server.config()).unwrap();
    let v: serde_json::Value = client.request(get("/version")).await.unwrap();
    assert_eq!(v["minor"], "99");
    assert_eq!(server.seen().len(), 3);
}

#[tokio::test]
async fn retries_stop_at_max_retries() {
    let server = Server::start(|_, _| Reply::json(503, "busy")).await;
    let client = Client::try_from(server.config()).unwrap();
    let err = client
        .request::<serde_json::Value>(get("/version"))
        .await
        .unwrap_err();
    assert_eq!(err.api().map(|e| e.code), Some(503), "{err}");
    assert_eq!(err.status().unwrap().message.as_deref(), Some("busy"));
    // One attempt plus max_retries (3).
    assert_eq!(server.seen().len(), 4);
}

#[tokio::test]
async fn post_is_not_retried_on_503_without_retry_after_but_is_with_it() {
    let server = Server::start(|_, _| Reply::json(503, "")).await;
    let client = Client::try_from(server.config()).unwrap();
    let err = client
        .request::<serde_json::Value>(post("/api/v1/x", "{}"))
        .await
        .unwrap_err();
    assert_eq!(err.api().map(|e| e.code), Some(503));
    assert_eq!(server.seen().len(), 1);

    let server = Server::start(|i, _| {
        if i == 0 {
            Reply::json(503, "").with_header("Retry-After", "0")
        } else {
            Reply::json(201, "{}")
        }
    })
    .await;
    let client = Client::try_from(server.config()).unwrap();
    client
        .request::<serde_json::Value>(post("/api/v1/x", "{}"))
        .await
        .unwrap();
    assert_eq!(server.seen().len(), 2);
}

/// A head promising 100 bytes, 10 bytes, then the connection closes.
fn truncated_response() -> Reply {
    Reply::RawThenClose(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"a\":\"bbbb"
            .to_vec(),
    )
}

/// A list is decoded as its body streams in; when the body breaks off midway (after the
/// first item was decoded), the LIST is repeated from the start with a fresh decoder.
#[tokio::test]
async fn list_whose_body_breaks_off_is_repeated() {
    const LIST: &str = r#"{"kind":"ConfigMapList","apiVersion":"v1","metadata":{"resourceVersion":"9"},"items":[{"metadata":{"name":"a"}},{"metadata":{"name":"b"}}]}"#;
    let server = Server::start(|i, _| {
        if i == 0 {
            let cut = &LIST[..LIST.find(r#"{"metadata":{"name":"b"#).unwrap()];
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                LIST.len()
            );
            Reply::RawThenClose([head.as_bytes(), cut.as_bytes()].concat())
        } else {
            Reply::json(200, LIST)
        }
    })
    .await;
    let client = Client::try_from(server.config()).unwrap();
    let api: k8s_client::Api<k8s_openapi::api::core::v1::ConfigMap> =
        k8s_client::Api::namespaced(client, "ns").json();
    let list = api.list(&Default::default()).await.unwrap();
    let names: Vec<_> = list
        .items
        .iter()
        .filter_map(|c| c.metadata.name.clone())
        .collect();
    assert_eq!(names, ["a", "b"]);
    assert_eq!(list.resource_version(), Some("9"));
    assert_eq!(server.seen().len(), 2);
}

#[tokio::test]
async fn cut_connection_mid_response_retries_get_but_not_post() {
    let handler = |i: usize, _: &rest_support::Seen| {
        if i == 0 {
            truncated_response()
        } else {
            Reply::json(200, VERSION)
        }
    };
    let server = Server::start(handler).await;
    let client = Client::try_from(server.config()).unwrap();
    let v: serde_json::Value = client.request(get("/version")).await.unwrap();
    assert_eq!(v["gitVersion"], "v1.99.0");
    assert_eq!(server.seen().len(), 2);

    let server = Server::start(handler).await;
    let client = Client::try_from(server.config()).unwrap();
    let err = client
        .request::<serde_json::Value>(post("/api/v1/namespaces/a/configmaps", "{}"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Transport(TransportError::Body { .. } | TransportError::Http { .. })
        ),
        "{err:?}"
    );
    assert_eq!(server.seen().len(), 1, "a POST must not be sent twice");
}

#[tokio::test]
async fn connection_closed_before_answer_retries_get_but_not_post() {
    let handler = |i: usize, _: &rest_support::Seen| {
        if i == 0 {
            Reply::Close
        } else {
            Reply::json(200, VERSION)
        }
    };
    let server = Server::start(handler).await;
    let client = Client::try_from(server.config()).unwrap();
    client
        .request::<serde_json::Value>(get("/version"))
        .await
        .unwrap();
    assert_eq!(server.seen().len(), 2);

    let server = Server::start(handler).await;
    let client = Client::try_from(server.config()).unwrap();
    let err = client
        .request::<serde_json::Value>(post("/x", "{}"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Transport(TransportError::Http { .. })),
        "{err:?}"
    );
    assert_eq!(server.seen().len(), 1);
}

#[tokio::test]
async fn refused_connection_is_retried_even_for_post() {
    // Find a free port, leave it closed for a while, then serve on it.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut config = k8s_client::Config::new(format!("http://127.0.0.1:{port}").parse().unwrap());
    config.rate_limit = None;
    config.retry = Backoff::new(Duration::from_millis(100))
        .cap(Duration::from_millis(200))
        .steps(9);
    let server = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(400)).await;
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap();
        Server::on(listener, |_, _| Reply::json(201, "{}"))
    });
    let client = Client::try_from(config).unwrap();
    client
        .request::<serde_json::Value>(post("/x", "{}"))
        .await
        .unwrap();
    let server = server.await.unwrap();
    assert_eq!(server.seen().len(), 1);

    // With no retries, the error says that the connection failed.
    let mut config = client.config().clone();
    config.cluster_url = "http://127.0.0.1:1".parse().unwrap();
    config.retry.steps = Some(1); // no retries
    let err = Client::try_from(config)
        .unwrap()
        .request::<serde_json::Value>(get("/version"))
        .await
        .unwrap_err();
    match err {
        Error::Transport(e) => assert!(e.is_connect(), "{e:?}"),
        other => panic!("expected a connect error, got {other:?}"),
    }
}

#[tokio::test]
async fn garbage_and_truncated_json_are_decode_errors() {
    let server = Server::start(|i, _| match i {
        0 => Reply::json(200, "<html>not json</html>"),
        _ => Reply::json(200, r#"{"major":"1","min"#),
    })
    .await;
    let client = Client::try_from(server.config()).unwrap();
    for _ in 0..2 {
        let err = client
            .request::<k8s_openapi::apimachinery::pkg::version::Info>(get("/version"))
            .await
            .unwrap_err();
        match err {
            Error::Decode(e) => {
                assert!(e.what().contains("Info"), "{}", e.what());
                assert!(!e.message().is_empty());
                assert!(
                    std::error::Error::source(&e).is_some(),
                    "the serde error is the source"
                );
            }
            other => panic!("expected a decode error, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn error_status_is_decoded() {
    let server = Server::start(|_, _| {
        Reply::json(
            404,
            r#"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"pods \"p\" not found","reason":"NotFound","code":404}"#,
        )
    })
    .await;
    let client = Client::try_from(server.config()).unwrap();
    let err = client
        .request_text(get("/api/v1/namespaces/a/pods/p"))
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err}");
    assert_eq!(
        err.status().unwrap().message.as_deref(),
        Some("pods \"p\" not found")
    );
    assert_eq!(server.seen().len(), 1);
}

#[tokio::test]
async fn unauthorized_without_refreshable_credentials_is_not_retried() {
    let server = Server::start(|_, _| Reply::json(401, "")).await;
    let client = Client::try_from(server.config()).unwrap();
    let err = client.request_text(get("/version")).await.unwrap_err();
    assert!(err.is_unauthorized(), "{err}");
    assert_eq!(server.seen().len(), 1);
}

#[tokio::test]
async fn standard_headers_are_sent() {
    let server = Server::start(|_, _| Reply::json(200, "{}")).await;
    let mut config = server.config();
    config.impersonate = Some(
        Impersonation::new("jane")
            .uid("u-1")
            .group("devs")
            .group("ops")
            .extra("example.org/scopes", ["view"]),
    );
    let client = Client::try_from(config).unwrap();
    client
        .request_text(post("/api/v1/x", r#"{"a":1}"#))
        .await
        .unwrap();
    let mut custom = get("/y");
    custom
        .headers_mut()
        .insert("accept", "application/yaml".parse().unwrap());
    custom
        .headers_mut()
        .insert("user-agent", "mine/1".parse().unwrap());
    client.request_text(custom).await.unwrap();

    let seen = server.seen();
    let first = &seen[0];
    assert_eq!(first.method, "POST");
    assert_eq!(first.path, "/api/v1/x");
    let ua = first.header("user-agent").unwrap();
    assert!(ua.starts_with("k8s-client/"), "{ua}");
    assert_eq!(first.header("accept"), Some("application/json"));
    assert_eq!(first.header("content-type"), Some("application/json"));
    assert_eq!(first.header("accept-encoding"), Some("gzip"));
    assert_eq!(first.header("authorization"), None);
    assert_eq!(first.header("impersonate-user"), Some("jane"));
    assert_eq!(first.header("impersonate-uid"), Some("u-1"));
    assert_eq!(first.headers("impersonate-group"), vec!["devs", "ops"]);
    assert_eq!(
        first.header("impersonate-extra-example.org%2fscopes"),
        Some("view")
    );
    assert_eq!(first.body, br#"{"a":1}"#);

    let second = &seen[1];
    assert_eq!(second.header("accept"), Some("application/yaml"));
    assert_eq!(second.header("user-agent"), Some("mine/1"));
    assert_eq!(second.header("content-type"), None);
}

#[tokio::test]
async fn server_url_path_prefix_is_kept() {
    let server = Server::start(|_, _| Reply::json(200, "{}")).await;
    let mut config = server.config();
    config.cluster_url = format!("{}/k8s/clusters/c-1/", server.url())
        .parse()
        .unwrap();
    let client = Client::try_from(config).unwrap();
    client
        .request_text(get("/api/v1/pods?limit=1"))
        .await
        .unwrap();
    assert_eq!(
        server.seen()[0].path,
        "/k8s/clusters/c-1/api/v1/pods?limit=1"
    );
}

#[tokio::test]
async fn plain_http_with_credentials_is_refused() {
    let mut config = k8s_client::Config::new("http://127.0.0.1:8080".parse().unwrap());
    config.auth.token = Some("secret-token".to_string().into());
    let err = Client::try_from(config).unwrap_err();
    assert!(
        matches!(err, Error::Transport(TransportError::Config(_))),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(text.contains("http://") && text.contains("token"), "{text}");
    assert!(!text.contains("secret-token"));
}

#[tokio::test]
async fn timeout_applies_except_to_watches() {
    let server = Server::start(|_, _| {
        Reply::Delayed(Duration::from_millis(700), Box::new(Reply::json(200, "{}")))
    })
    .await;
    let mut config = server.config();
    config.timeout = Some(Duration::from_millis(200));
    let client = Client::try_from(config).unwrap();
    let err = client.request_text(get("/api/v1/pods")).await.unwrap_err();
    assert!(
        matches!(err, Error::Timeout(_)) && err.is_timeout(),
        "{err:?}"
    );
    assert_eq!(server.seen().len(), 1, "a timed-out request is not retried");

    let body = client
        .request_text(get("/api/v1/pods?watch=true&resourceVersion=1"))
        .await
        .unwrap();
    assert_eq!(body, "{}");
}

#[tokio::test]
async fn stream_yields_body_chunks() {
    let server = Server::start(|_, _| {
        Reply::RawThenClose(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n\
              6\r\n{\"a\":1\r\n3\r\n}\n\n\r\n0\r\n\r\n"
                .to_vec(),
        )
    })
    .await;
    let client = Client::try_from(server.config()).unwrap();
    use futures::TryStreamExt;
    let stream = client
        .request_stream(get("/api/v1/pods?watch=1"))
        .await
        .unwrap();
    let chunks: Vec<bytes::Bytes> = stream.try_collect().await.unwrap();
    let all: Vec<u8> = chunks.concat();
    assert_eq!(all, b"{\"a\":1}\n\n");
}

#[derive(Default)]
struct Collect(Mutex<Vec<(u16, String)>>);

impl WarningHandler for Collect {
    fn handle_warning(&self, code: u16, _agent: &str, text: &str) {
        self.0.lock().unwrap().push((code, text.to_string()));
    }
}

#[tokio::test]
async fn warnings_reach_the_handler() {
    let server = Server::start(|_, _| {
        Reply::json(200, "{}")
            .with_header("Warning", r#"299 - "v1beta1 is deprecated""#)
            .with_header("Warning", r#"299 - "unknown field \"x\"", 299 - "second""#)
    })
    .await;
    let collect = Arc::new(Collect::default());
    let client = Client::try_from(server.config())
        .unwrap()
        .with_warning_handler(collect.clone());
    client
        .request_text(get("/apis/x/v1beta1/things"))
        .await
        .unwrap();
    let got = collect.0.lock().unwrap().clone();
    assert_eq!(
        got,
        vec![
            (299, "v1beta1 is deprecated".to_string()),
            (299, "unknown field \"x\"".to_string()),
            (299, "second".to_string()),
        ]
    );
}

#[cfg(feature = "gzip")]
#[tokio::test]
async fn gzip_answers_are_decompressed() {
    use async_compression::tokio::bufread::GzipEncoder;
    let text = "abcdefghij".repeat(10_000);
    let mut compressed = Vec::new();
    GzipEncoder::new(text.as_bytes())
        .read_to_end(&mut compressed)
        .await
        .unwrap();
    assert!(compressed.len() < text.len() / 10);
    let server = Server::start(move |_, _| {
        Reply::Full(
            200,
            vec![("Content-Encoding".into(), "gzip".into())],
            compressed.clone(),
        )
    })
    .await;
    let client = Client::try_from(server.config()).unwrap();
    assert_eq!(client.request_text(get("/big")).await.unwrap(), text);
    let response = client.send(get("/big")).await.unwrap();
    assert!(response
        .extensions()
        .get::<k8s_client::client::GzipDecoded>()
        .is_some());
    assert!(response.headers().get("content-encoding").is_none());

    // A request that asks for an encoding itself gets the raw bytes.
    let mut raw = get("/big");
    raw.headers_mut()
        .insert("accept-encoding", "gzip".parse().unwrap());
    let response = client.send(raw).await.unwrap();
    assert_eq!(response.headers()["content-encoding"], "gzip");

    // A broken gzip stream is a body error, not a panic.
    let server = Server::start(|_, _| {
        Reply::Full(
            200,
            vec![("Content-Encoding".into(), "gzip".into())],
            b"\x1f\x8b\x08\x00garbage".to_vec(),
        )
    })
    .await;
    let mut config = server.config();
    config.retry.steps = Some(1); // no retries
    let client = Client::try_from(config).unwrap();
    let err = client.request_text(get("/big")).await.unwrap_err();
    assert!(
        matches!(err, Error::Transport(TransportError::Body { .. })),
        "{err:?}"
    );
}

// The rate limiter: its arithmetic (burst, then QPS) is unit-tested on a paused clock in
// src/rest/ratelimit.rs; one bucket shared by clones, against the real server, in
// rest_ratelimit.rs.

/// A CONNECT proxy that tunnels to wherever it is asked, and counts tunnels.
async fn start_connect_proxy() -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let targets = Arc::new(Mutex::new(Vec::new()));
    let t2 = targets.clone();
    tokio::spawn(async move {
        loop {
            let (mut client, _) = listener.accept().await.unwrap();
            let targets = t2.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if client.read(&mut byte).await.unwrap() == 0 {
                        return;
                    }
                    head.push(byte[0]);
                }
                let head = String::from_utf8(head).unwrap();
                let target = head.split(' ').nth(1).unwrap().to_string();
                targets.lock().unwrap().push(target.clone());
                let mut upstream = tokio::net::TcpStream::connect(target).await.unwrap();
                client
                    .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    .await
                    .unwrap();
                let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
            });
        }
    });
    (port, targets)
}

#[tokio::test]
async fn requests_go_through_a_connect_proxy_unless_bypassed() {
    let server = Server::start(|_, _| Reply::json(200, VERSION)).await;
    let (proxy_port, tunnels) = start_connect_proxy().await;
    let mut config = server.config();
    config.proxy_url = Some(format!("http://127.0.0.1:{proxy_port}").parse().unwrap());
    let client = Client::try_from(config.clone()).unwrap();
    let v: serde_json::Value = client.request(get("/version")).await.unwrap();
    assert_eq!(v["gitVersion"], "v1.99.0");
    assert_eq!(
        tunnels.lock().unwrap().clone(),
        vec![format!("127.0.0.1:{}", server.port)]
    );

    config.no_proxy = vec!["10.0.0.0/8".into(), "127.0.0.0/8".into()];
    let client = Client::try_from(config).unwrap();
    client.request_text(get("/version")).await.unwrap();
    assert_eq!(
        tunnels.lock().unwrap().len(),
        1,
        "no_proxy must bypass the proxy"
    );
    assert_eq!(server.seen().len(), 2);
}

#[tokio::test]
async fn unsupported_proxy_scheme_is_a_config_error() {
    let mut config = k8s_client::Config::new("http://127.0.0.1:1".parse().unwrap());
    config.proxy_url = Some("https://proxy:3128".parse().unwrap());
    let err = Client::try_from(config).unwrap_err();
    assert!(
        matches!(&err, Error::Transport(TransportError::Config(m)) if m.contains("unsupported")),
        "{err:?}"
    );
}
