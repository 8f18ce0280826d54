//! The client-side rate limiter against the real control plane: it is in the client's stack
//! and one bucket is shared by every clone. (The bucket's arithmetic is unit-tested on a
//! paused clock in src/rest/ratelimit.rs.)

use std::time::{Duration, Instant};

use k8s_client::config::RateLimit;
use k8s_client::Client;
use k8s_client_testsupport as ts;

#[tokio::test]
async fn thirty_gets_at_20_qps_burst_5_from_clones_take_at_least_1_25_seconds() {
    let mut config = ts::config("admin").await;
    config.rate_limit = Some(RateLimit::new(20.0, 5));
    let client = Client::try_from(config).unwrap();
    let start = Instant::now();
    // Half sequential, half from concurrent clones: they share one bucket.
    for _ in 0..15 {
        let request = http::Request::get("/version").body(Vec::new()).unwrap();
        client.request::<serde_json::Value>(request).await.unwrap();
    }
    let mut tasks = Vec::new();
    for _ in 0..15 {
        let c = client.clone();
        tasks.push(tokio::spawn(async move {
            let request = http::Request::get("/version").body(Vec::new()).unwrap();
            c.request::<serde_json::Value>(request).await
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let took = start.elapsed();
    // 5 at once, then 25 at 20 a second: the clones drew from the one bucket (a bucket each
    // would let the 15 concurrent requests through in 0.5 s).
    assert!(took >= Duration::from_millis(1250), "took only {took:?}");
    assert!(took < Duration::from_secs(10), "took {took:?}");
}

#[tokio::test]
async fn no_rate_limit_is_fast() {
    let mut config = ts::config("admin").await;
    config.rate_limit = None;
    let client = Client::try_from(config).unwrap();
    let start = Instant::now();
    for _ in 0..30 {
        let request = http::Request::get("/version").body(Vec::new()).unwrap();
        client.request::<serde_json::Value>(request).await.unwrap();
    }
    let took = start.elapsed();
    assert!(took < Duration::from_millis(1250), "took {took:?}");
}

/// The default config has no client-side limit (the server's API Priority and Fairness
/// protects it): 480 writes from 8 tasks, as a new user would send them, are not held back
/// to 5 a second (they took 95 s with client-go's old 5 QPS / burst 10 default).
#[tokio::test]
async fn a_burst_of_480_writes_from_8_tasks_is_not_throttled_by_default() {
    let ns = ts::namespace("ratelimit-burst").await;
    let client = ts::client().await;
    let start = Instant::now();
    let mut tasks = Vec::new();
    for t in 0..8 {
        let c = client.clone();
        let ns = ns.name.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..60 {
                let body = serde_json::json!({
                    "apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": format!("cm-{t}-{i}")},
                    "data": {"k": "v"},
                });
                let request = http::Request::post(format!("/api/v1/namespaces/{ns}/configmaps"))
                    .body(serde_json::to_vec(&body).unwrap())
                    .unwrap();
                c.request::<serde_json::Value>(request).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let took = start.elapsed();
    eprintln!("480 writes from 8 tasks with the default config: {took:?}");
    assert!(
        client.rate_limiter().is_none(),
        "no client-side limit by default"
    );
    assert!(took < Duration::from_secs(30), "took {took:?}");
}
