//! Requests under injected faults, against the real control plane (the fault injector is
//! `k8s_client_testsupport::faults`): transient faults are retried within the retry policy,
//! persistent ones fail with a clear error after it, `Retry-After` is honoured, writes are
//! never replayed once the server may have applied them, and a silently dead HTTP/2
//! connection is found by pings and replaced. Every test is time-bounded.

use std::time::{Duration, Instant};

use http::Method;
use k8s_client::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use k8s_client::backoff::Backoff;
use k8s_client::client::ClientBuilder;
use k8s_client::transport::{TransportError, TransportOptions};
use k8s_client::{Client, Config, Error};
use k8s_client_testsupport as ts;
use k8s_client_testsupport::faults::{Fault, FaultProxy, Faults, Rule};
use k8s_openapi::api::core::v1::ConfigMap;
use serde_json::json;

/// Every test is over well within this.
const LIMIT: Duration = Duration::from_secs(30);

/// The admin config with fast retries (at most 3) and no client-side rate limit.
async fn quick_config() -> Config {
    let mut config = ts::config("admin").await;
    config.retry = Backoff::new(Duration::from_millis(50))
        .cap(Duration::from_secs(3))
        .steps(4);
    config.rate_limit = None;
    config
}

async fn faulty_client() -> (Client, Faults) {
    let faults = Faults::new();
    let client = ClientBuilder::new(quick_config().await)
        .transport_layer(faults.layer())
        .build()
        .unwrap();
    (client, faults)
}

fn config_map(name: &str) -> ConfigMap {
    serde_json::from_value(json!({"metadata": {"name": name}, "data": {"k": "v"}})).unwrap()
}

async fn bounded<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(LIMIT, f)
        .await
        .expect("the test took longer than its bound")
}

#[tokio::test]
async fn transient_5xx_and_connect_errors_are_retried_within_the_policy() {
    bounded(async {
        let ns = ts::namespace("faults-transient").await;
        let (client, faults) = faulty_client().await;
        let api: Api<ConfigMap> = Api::namespaced(client, &ns.name);
        api.create(&PostParams::default(), &config_map("a"))
            .await
            .unwrap();

        // Two 503s then success: a GET is retried.
        faults.add(
            Rule::new(Fault::status(503))
                .method(Method::GET)
                .path("/configmaps/a")
                .times(2),
        );
        let got = api.get("a").await.unwrap();
        assert_eq!(got.metadata.name.as_deref(), Some("a"));
        assert_eq!(faults.count(&Method::GET, "/configmaps/a"), 3);

        // A connection that could not be made sent nothing: even a POST is retried.
        faults.forget();
        faults.add(Rule::new(Fault::ConnectError).method(Method::POST).times(2));
        api.create(&PostParams::default(), &config_map("b"))
            .await
            .unwrap();
        assert_eq!(faults.count(&Method::POST, "/configmaps"), 3);

        // A GET whose connection broke after sending is retried.
        faults.forget();
        faults.add(
            Rule::new(Fault::ResetAfterSend)
                .method(Method::GET)
                .times(1),
        );
        api.get("b").await.unwrap();
        assert_eq!(faults.count(&Method::GET, "/configmaps/b"), 2);
    })
    .await
}

#[tokio::test]
async fn persistent_faults_fail_with_a_clear_error_after_the_policy() {
    bounded(async {
        let ns = ts::namespace("faults-persistent").await;
        let (client, faults) = faulty_client().await;
        let api: Api<ConfigMap> = Api::namespaced(client, &ns.name);
        faults.add(Rule::new(Fault::status(503)).method(Method::GET));
        let start = Instant::now();
        let err = api.get("missing").await.unwrap_err();
        assert_eq!(err.api().map(|s| s.code), Some(503), "{err:?}");
        // One attempt and the policy's 3 retries, nothing more.
        assert_eq!(faults.count(&Method::GET, "/configmaps/missing"), 4);
        assert!(start.elapsed() < Duration::from_secs(10));

        faults.clear();
        faults.forget();
        faults.add(Rule::new(Fault::ConnectError));
        let err = api.get("missing").await.unwrap_err();
        assert!(
            matches!(&err, Error::Transport(e) if e.is_connect()),
            "{err:?}"
        );
        assert!(err.to_string().contains("connection refused"), "{err}");
        assert_eq!(faults.count(&Method::GET, "/configmaps/missing"), 4);
    })
    .await
}

#[tokio::test]
async fn retry_after_is_honoured_for_every_verb() {
    bounded(async {
        let ns = ts::namespace("faults-retry-after").await;
        let (client, faults) = faulty_client().await;
        let api: Api<ConfigMap> = Api::namespaced(client, &ns.name);
        // API Priority and Fairness answers 429 with Retry-After: a POST is retried too,
        // and only after the wait asked for.
        faults.add(
            Rule::new(Fault::retry_after(429, 1))
                .method(Method::POST)
                .times(1),
        );
        let start = Instant::now();
        api.create(&PostParams::default(), &config_map("a"))
            .await
            .unwrap();
        let took = start.elapsed();
        assert!(took >= Duration::from_secs(1), "retried after {took:?}");
        assert_eq!(faults.count(&Method::POST, "/configmaps"), 2);

        // A 503 with Retry-After: the server did nothing, any verb is retried.
        faults.forget();
        faults.add(
            Rule::new(Fault::retry_after(503, 1))
                .method(Method::DELETE)
                .times(1),
        );
        let start = Instant::now();
        api.delete("a", &DeleteParams::default()).await.unwrap();
        assert!(start.elapsed() >= Duration::from_secs(1));
        assert_eq!(faults.count(&Method::DELETE, "/configmaps/a"), 2);
    })
    .await
}

/// A write whose connection breaks after it was sent may have been applied: it must reach
/// the caller as the transport error, not be sent again (a DELETE resent would answer
/// NotFound for a delete that succeeded; a POST resent would answer AlreadyExists).
#[tokio::test]
async fn writes_are_never_replayed_once_the_server_may_have_applied_them() {
    bounded(async {
        let ns = ts::namespace("faults-no-replay").await;
        let (client, faults) = faulty_client().await;
        let api: Api<ConfigMap> = Api::namespaced(client, &ns.name);
        let broken = |err: &Error| {
            matches!(err, Error::Transport(TransportError::Http { .. }))
                && err.to_string().contains("connection reset")
        };

        // POST
        faults.add(
            Rule::new(Fault::ResetAfterSend)
                .method(Method::POST)
                .times(1),
        );
        let err = api
            .create(&PostParams::default(), &config_map("a"))
            .await
            .unwrap_err();
        assert!(broken(&err), "POST: {err:?}");
        assert_eq!(faults.count(&Method::POST, "/configmaps"), 1);
        api.get("a").await.expect("the POST was applied once");

        // PUT
        let mut cm = api.get("a").await.unwrap();
        cm.data = Some([("k".to_string(), "put".to_string())].into());
        faults.add(
            Rule::new(Fault::ResetAfterSend)
                .method(Method::PUT)
                .times(1),
        );
        let err = api
            .replace("a", &PostParams::default(), &cm)
            .await
            .unwrap_err();
        assert!(broken(&err), "PUT: {err:?}");
        assert_eq!(faults.count(&Method::PUT, "/configmaps/a"), 1);

        // PATCH
        faults.add(
            Rule::new(Fault::ResetAfterSend)
                .method(Method::PATCH)
                .times(1),
        );
        let err = api
            .patch(
                "a",
                &PatchParams::default(),
                &Patch::Merge(json!({"data": {"k": "patched"}})),
            )
            .await
            .unwrap_err();
        assert!(broken(&err), "PATCH: {err:?}");
        assert_eq!(faults.count(&Method::PATCH, "/configmaps/a"), 1);
        let now = api.get("a").await.unwrap();
        assert_eq!(
            now.data.unwrap()["k"],
            "patched",
            "PUT and PATCH were applied"
        );

        // DELETE: applied, then the connection reset. The caller sees the reset, not a
        // NotFound from a second DELETE.
        faults.add(
            Rule::new(Fault::ResetAfterSend)
                .method(Method::DELETE)
                .times(1),
        );
        let err = api.delete("a", &DeleteParams::default()).await.unwrap_err();
        assert!(!err.is_not_found(), "the DELETE was replayed: {err:?}");
        assert!(broken(&err), "DELETE: {err:?}");
        assert_eq!(faults.count(&Method::DELETE, "/configmaps/a"), 1);
        assert!(api.get("a").await.unwrap_err().is_not_found());

        // 503 without Retry-After after sending: a DELETE is not repeated either.
        api.create(&PostParams::default(), &config_map("b"))
            .await
            .unwrap();
        faults.forget();
        faults.add(
            Rule::new(Fault::status(503))
                .method(Method::DELETE)
                .times(1),
        );
        let err = api.delete("b", &DeleteParams::default()).await.unwrap_err();
        assert_eq!(err.api().map(|s| s.code), Some(503), "{err:?}");
        assert_eq!(faults.count(&Method::DELETE, "/configmaps/b"), 1);
    })
    .await
}

#[tokio::test]
async fn latency_is_tolerated_and_the_timeout_bounds_an_attempt() {
    bounded(async {
        let ns = ts::namespace("faults-latency").await;
        let faults = Faults::new();
        let mut config = quick_config().await;
        config.timeout = Some(Duration::from_millis(700));
        let client = ClientBuilder::new(config)
            .transport_layer(faults.layer())
            .build()
            .unwrap();
        let api: Api<ConfigMap> = Api::namespaced(client, &ns.name);
        faults.add(Rule::new(Fault::Latency(Duration::from_millis(200))).times(1));
        api.create(&PostParams::default(), &config_map("a"))
            .await
            .unwrap();
        // Every GET is slower than the timeout: it fails with Timeout after the policy.
        faults.add(Rule::new(Fault::Latency(Duration::from_secs(5))).method(Method::GET));
        let start = Instant::now();
        let err = api.get("a").await.unwrap_err();
        assert!(matches!(err, Error::Timeout(_)), "{err:?}");
        assert!(start.elapsed() < Duration::from_secs(8));
    })
    .await
}

#[tokio::test]
async fn reset_connections_are_replaced() {
    bounded(async {
        let ns = ts::namespace("faults-reset").await;
        let mut config = quick_config().await;
        let proxy = FaultProxy::in_front_of(&mut config).await;
        let client = Client::try_from(config).unwrap();
        let api: Api<ConfigMap> = Api::namespaced(client, &ns.name);
        api.create(&PostParams::default(), &config_map("a"))
            .await
            .unwrap();
        assert_eq!(proxy.connections(), 1);
        proxy.reset_all();
        tokio::time::sleep(Duration::from_millis(100)).await;
        api.get("a").await.unwrap();
        assert_eq!(
            proxy.connections(),
            2,
            "a new connection replaced the reset one"
        );

        // Refused connections: the GET is retried until the proxy takes connections again.
        proxy.reset_all();
        proxy.refuse(true);
        let p = std::sync::Arc::new(proxy);
        let p2 = p.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            p2.refuse(false);
        });
        api.get("a").await.unwrap();
    })
    .await
}

#[tokio::test]
async fn a_silently_dead_http2_connection_is_found_by_pings_and_replaced() {
    bounded(async {
        let ns = ts::namespace("faults-dead-h2").await;
        let mut config = quick_config().await;
        config.keep_alive = Some(Duration::from_millis(300));
        let proxy = FaultProxy::in_front_of(&mut config).await;
        let options = TransportOptions::new().ping_timeout(Duration::from_millis(500));
        let client = Client::try_from_with_options(config, &options).unwrap();
        let api: Api<ConfigMap> = Api::namespaced(client, &ns.name);
        api.create(&PostParams::default(), &config_map("a"))
            .await
            .unwrap();
        assert_eq!(proxy.connections(), 1);
        proxy.drop_silently();
        tokio::time::sleep(Duration::from_secs(2)).await;
        let start = Instant::now();
        api.get("a").await.unwrap();
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "{:?}",
            start.elapsed()
        );
        assert_eq!(proxy.connections(), 2, "the dead connection was replaced");
    })
    .await
}
